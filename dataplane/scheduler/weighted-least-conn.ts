import type { Candidate, PickContext, Scheduler } from "./scheduler";
import { SmoothWrr } from "./smooth-wrr";

/**
 * Weighted least connections: the candidate with the lowest `active / weight` (compared by cross
 * multiplication, so no division and no rounding), as in LVS `wlc` and HAProxy `leastconn`.
 *
 * Ties are broken by smooth weighted round robin among the tied candidates. With one request at a
 * time every candidate is always tied at 0 in flight, and a plain "first wins" or unweighted round
 * robin would then ignore the weights; weighted round robin keeps the configured split in that case.
 */
export class WeightedLeastConn implements Scheduler {
  private readonly tieBreaker = new SmoothWrr();
  /** Scratch lists of the tied candidates and their indexes, refilled on every pick. */
  private readonly tied: Candidate[] = [];
  private readonly tiedIndex: number[] = [];
  /**
   * The array last handed to the tie-breaker. SmoothWrr keeps its running weights by position in
   * the array it is given and moves them by key only when it gets a different array; a new set of
   * tied candidates must therefore come in a new array, and the same set in the same one.
   */
  private lastTied: readonly Candidate[] = [];

  pick(ctx: PickContext): number {
    const candidates = ctx.candidates;
    const n = candidates.length;
    if (n === 0) return -1;
    if (n === 1) return 0;
    this.tied.length = 0;
    this.tiedIndex.length = 0;
    let best: Candidate | undefined;
    for (let i = 0; i < n; i++) {
      const c = candidates[i]!;
      if (best === undefined) {
        best = c;
      } else {
        // c.active / c.weight vs best.active / best.weight
        const lhs = c.active * best.weight;
        const rhs = best.active * c.weight;
        if (lhs > rhs) continue;
        if (lhs < rhs) {
          best = c;
          this.tied.length = 0;
          this.tiedIndex.length = 0;
        }
      }
      this.tied.push(c);
      this.tiedIndex.push(i);
    }
    if (this.tied.length === 1) return this.tiedIndex[0]!;
    if (!sameItems(this.tied, this.lastTied)) this.lastTied = this.tied.slice();
    return this.tiedIndex[this.tieBreaker.pickAmong(this.lastTied)]!;
  }
}

function sameItems(a: readonly Candidate[], b: readonly Candidate[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
