/**
 * A seeded pseudo-random generator (mulberry32, Tommy Ettinger's public-domain 32-bit generator),
 * so statistical tests are reproducible: the same seed gives the same sequence on every run.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` distinct IPv4 client addresses, 10.x.y.z, in a seeded order. */
export function clientIps(count: number, seed = 1): string[] {
  const rnd = seededRandom(seed);
  const out = new Set<string>();
  while (out.size < count) {
    const n = Math.floor(rnd() * 0xffffff);
    out.add(`10.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`);
  }
  return [...out];
}
