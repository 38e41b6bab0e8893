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
  /** `current` by server key, for the candidates not in the array being picked from. */
  private readonly saved = new Map<string, number>();
  /** The candidate array the running weights below are aligned with (the picker reuses it). */
  private aligned: readonly Candidate[] | undefined;
  /**
   * Running weights by index of `aligned`. An array instead of a Map on the hot path: two Map
   * operations per server per pick cost several times more (docs/benchmarks.md).
   */
  private current = new Float64Array(0);

  pick(ctx: PickContext): number {
    const w = ctx.uniformWeight;
    return w === undefined ? this.pickAmong(ctx.candidates) : this.pickUniform(ctx.candidates, w);
  }

  /**
   * `pickAmong` when every candidate has weight `w`: the same arithmetic, so the same sequence, on
   * the running weights alone (one contiguous array instead of a load from each candidate object).
   * A separate loop on purpose: folding it into `pickAmong` (`w ?? candidate.weight`) measured
   * 278 ns a pick at 100 servers against 92 ns, and slowed the general path from 224 to 316 ns.
   */
  private pickUniform(candidates: readonly Candidate[], w: number): number {
    const n = candidates.length;
    if (n === 0) return -1;
    if (n === 1) return 0;
    if (candidates !== this.aligned) this.align(candidates);
    const current = this.current;
    let best = 0;
    let bestCurrent = -Infinity;
    for (let i = 0; i < n; i++) {
      const cur = current[i]! + w;
      current[i] = cur;
      if (cur > bestCurrent) {
        bestCurrent = cur;
        best = i;
      }
    }
    current[best] = bestCurrent - w * n;
    return best;
  }

  /** The pick itself, reusable by other schedulers for weighted tie-breaking. */
  pickAmong(candidates: readonly Candidate[]): number {
    const n = candidates.length;
    if (n === 0) return -1;
    if (n === 1) return 0;
    if (candidates !== this.aligned) this.align(candidates);
    const current = this.current;
    let total = 0;
    let best = 0;
    let bestCurrent = -Infinity;
    for (let i = 0; i < n; i++) {
      const w = candidates[i]!.weight;
      const cur = current[i]! + w;
      current[i] = cur;
      total += w;
      if (cur > bestCurrent) {
        bestCurrent = cur;
        best = i;
      }
    }
    current[best] = bestCurrent - total;
    return best;
  }

  /** Saves the running weights of the outgoing candidate array by key and loads the new one's. */
  private align(candidates: readonly Candidate[]): void {
    const old = this.aligned;
    if (old) for (let i = 0; i < old.length; i++) this.saved.set(old[i]!.key, this.current[i]!);
    const next = new Float64Array(candidates.length);
    for (let i = 0; i < candidates.length; i++) next[i] = this.saved.get(candidates[i]!.key) ?? 0;
    this.current = next;
    this.aligned = candidates;
    // Servers that left the configuration must not accumulate forever.
    if (this.saved.size > 2 * candidates.length + 16) {
      const live = new Set(candidates.map((c) => c.key));
      for (const key of this.saved.keys()) if (!live.has(key)) this.saved.delete(key);
    }
  }
}
