/**
 * Time as the data plane sees it: the traffic engine, health checks, the admin API and the idle
 * compactor all import it from here (it depends on nothing). Injected where behaviour hangs on
 * time, so that health checks and slow start can be tested exactly with a fake clock
 * (test/helpers/fake-clock.ts) instead of sleeping.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `fn` once after `ms`; the timer never keeps the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

const hrtime = process.hrtime;

/**
 * Milliseconds on a monotonic clock (from an arbitrary origin, not the process start): the
 * traffic path's deadlines, idle times and latencies. Not `performance.now()`: the `performance`
 * global loads node:perf_hooks and nine modules behind it on first use (observers, user timing,
 * histograms…) for one clock read, which showed in an idle data plane's RSS. `process.hrtime()` is
 * the same clock (uv_hrtime) and was no slower per call; the figures are in docs/benchmarks.md
 * ("What was changed", change 30).
 */
export function monotonicMs(): number {
  const t = hrtime();
  return t[0] * 1e3 + t[1] / 1e6;
}
