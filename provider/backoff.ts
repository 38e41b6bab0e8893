/**
 * Retry timing for a data plane that is still starting: exponential backoff (`initialDelayMs`
 * doubled after each attempt, capped at `maxDelayMs`), stopped once the next wait would take the
 * whole operation past `budgetMs`. A container started a moment ago by the same `pulumi up` needs a
 * few seconds before its admin port answers; 30 s covers a slow first start without making a
 * balancer that is really down hang the deployment for long.
 */
export interface BackoffPolicy {
  /** First wait, ms. Default 100. */
  initialDelayMs: number;
  /** Longest single wait, ms. Default 4000. */
  maxDelayMs: number;
  /** Total time (attempts and waits) after which no further attempt starts, ms. Default 30000. */
  budgetMs: number;
}

export const defaultBackoff: BackoffPolicy = { initialDelayMs: 100, maxDelayMs: 4_000, budgetMs: 30_000 };

/**
 * The wait before attempt `attempt + 1` (attempts count from 0), or undefined when retrying would
 * exceed the budget. `elapsedMs` is the time spent since the first attempt started.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, elapsedMs: number): number | undefined {
  const delay = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** attempt);
  return elapsedMs + delay > policy.budgetMs ? undefined : delay;
}

/** Every wait the policy allows if each attempt itself took no time: its worst-case schedule. */
export function backoffSchedule(policy: BackoffPolicy): number[] {
  const out: number[] = [];
  let elapsed = 0;
  for (let attempt = 0; ; attempt++) {
    const delay = backoffDelay(policy, attempt, elapsed);
    if (delay === undefined) return out;
    out.push(delay);
    elapsed += delay;
  }
}
