import type { Candidate, PickContext, Scheduler } from "./scheduler";

/**
 * Smooth weighted round robin, as in nginx (ngx_http_upstream_get_peer, commit 52327e0627f4,
 * "Upstream: smooth weighted round-robin balancing"). Each pick adds every candidate's weight to
 * its running `current`, takes the candidate with the largest `current` (the first one on a tie)
 * and subtracts the total weight from it. Over any window of `sum(weights)` picks with fixed weights
 * each candidate is picked exactly `weight` times, and picks of one server are spread out instead of
 * coming in bursts: weights {a:5, b:1, c:1} give `a a b a c a a`, never `a a a a a b c`.
 *
 * State is kept per server key, not per index, so it survives the candidate set changing (a server
 * turning unhealthy and back, a new snapshot): candidates absent from a pick keep their `current`
 * untouched, exactly like nginx skips a down peer.
 */
export class SmoothWrr implements Scheduler {
  private readonly current = new Map<string, number>();

  pick(ctx: PickContext): number {
    return this.pickAmong(ctx.candidates);
  }

  /** The pick itself, reusable by other schedulers for weighted tie-breaking. */
  pickAmong(candidates: readonly Candidate[]): number {
    const n = candidates.length;
    if (n === 0) return -1;
    if (n === 1) return 0;
    let total = 0;
    let best = -1;
    let bestCurrent = -Infinity;
    for (let i = 0; i < n; i++) {
      const c = candidates[i]!;
      const cur = (this.current.get(c.key) ?? 0) + c.weight;
      this.current.set(c.key, cur);
      total += c.weight;
      if (cur > bestCurrent) {
        bestCurrent = cur;
        best = i;
      }
    }
    const chosen = candidates[best]!;
    this.current.set(chosen.key, bestCurrent - total);
    // Servers that left the configuration must not accumulate forever.
    if (this.current.size > 2 * n + 16) this.prune(candidates);
    return best;
  }

  private prune(candidates: readonly Candidate[]): void {
    const live = new Set(candidates.map((c) => c.key));
    for (const key of this.current.keys()) if (!live.has(key)) this.current.delete(key);
  }
}
