import type { PickContext, Scheduler } from "./scheduler";
import { fmix64, fnv1a64, toUnitInterval, type U64 } from "./hash64";

/**
 * Weighted source-IP hashing by weighted rendezvous (highest random weight) hashing:
 * Thaler & Ravishankar, "Using name-based mappings to increase hit rates", IEEE/ACM ToN 6(1), 1998;
 * the weighted form is Schindelhauer & Schomaker, "Weighted distributed hash tables", SPAA 2005
 * (the "logarithmic method"). Each candidate scores
 *
 *     score = -weight / ln(h)      with h = hash01(key, clientIp) uniform in (0, 1)
 *
 * and the highest score wins. A candidate wins with probability weight / sum(weights); removing one
 * of N servers moves only the clients that server had (about 1/N), adding one moves only the clients
 * it now wins. The hash is FNV-1a 64 over `key \0 ip`, finalized by fmix64: deterministic, so every
 * worker and every replica with the same configuration sends a client to the same server.
 *
 * Cost: one hash of the client IP per candidate (the key's FNV prefix state is cached).
 */
export class WeightedRendezvous implements Scheduler {
  private readonly prefixes = new Map<string, U64>();

  pick(ctx: PickContext): number {
    const candidates = ctx.candidates;
    const n = candidates.length;
    if (n === 0) return -1;
    if (n === 1) return 0;
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i < n; i++) {
      const c = candidates[i]!;
      const score = rendezvousScore(c.weight, this.prefix(c.key), ctx.clientIp);
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    return best;
  }

  private prefix(key: string): U64 {
    let p = this.prefixes.get(key);
    if (!p) {
      if (this.prefixes.size > 4096) this.prefixes.clear();
      p = fnv1a64(`${key}\0`);
      this.prefixes.set(key, p);
    }
    return p;
  }
}

/** The score of one (server, client) pair; exported for tests. */
export function rendezvousScore(weight: number, keyPrefix: U64, clientIp: string): number {
  const u = toUnitInterval(fmix64(fnv1a64(clientIp, keyPrefix)));
  return -weight / Math.log(u);
}

/** `fnv1a64(key + "\0")`: the cached prefix state of a server key. */
export function keyPrefix(key: string): U64 {
  return fnv1a64(`${key}\0`);
}
