/**
 * A deterministic 64-bit string hash for consistent hashing: FNV-1a 64 (Fowler, Noll, Vo;
 * http://www.isthe.com/chongo/tech/comp/fnv/) over the UTF-16 code units, then MurmurHash3's
 * `fmix64` finalizer (Appleby) so that every input bit affects the high bits (FNV alone mixes the
 * last bytes of an input into the high bits poorly, and the high bits are the ones used).
 *
 * Computed on 16-bit limbs in plain numbers rather than BigInt: a source-ip pick hashes once per
 * candidate, and BigInt arithmetic was an order of magnitude slower for this. Every process and
 * replica computes the same value (no seed, no randomness), which is what lets replicas agree.
 */

/** A 64-bit value as two unsigned 32-bit halves. */
export interface U64 {
  hi: number;
  lo: number;
}

const FNV_OFFSET: U64 = { hi: 0xcbf29ce4, lo: 0x84222325 };

/** (a * b) mod 2^64 on 16-bit limbs (the classic Long.js multiplication). Writes into `out`. */
function mul64(ahi: number, alo: number, bhi: number, blo: number, out: U64): U64 {
  const a48 = ahi >>> 16;
  const a32 = ahi & 0xffff;
  const a16 = alo >>> 16;
  const a00 = alo & 0xffff;
  const b48 = bhi >>> 16;
  const b32 = bhi & 0xffff;
  const b16 = blo >>> 16;
  const b00 = blo & 0xffff;
  let c00 = a00 * b00;
  let c16 = c00 >>> 16;
  c00 &= 0xffff;
  c16 += a16 * b00;
  let c32 = Math.floor(c16 / 0x10000);
  c16 %= 0x10000;
  c16 += a00 * b16;
  c32 += Math.floor(c16 / 0x10000);
  c16 %= 0x10000;
  c32 += a32 * b00;
  let c48 = Math.floor(c32 / 0x10000);
  c32 %= 0x10000;
  c32 += a16 * b16;
  c48 += Math.floor(c32 / 0x10000);
  c32 %= 0x10000;
  c32 += a00 * b32;
  c48 += Math.floor(c32 / 0x10000);
  c32 %= 0x10000;
  c48 += a48 * b00 + a32 * b16 + a16 * b32 + a00 * b48;
  c48 %= 0x10000;
  out.hi = ((c48 << 16) | c32) >>> 0;
  out.lo = ((c16 << 16) | c00) >>> 0;
  return out;
}

/** FNV-1a 64 of `s`, continuing from `state` (default: the FNV offset basis). */
export function fnv1a64(s: string, state: U64 = FNV_OFFSET): U64 {
  const h: U64 = { hi: state.hi, lo: state.lo };
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h.lo = (h.lo ^ (c & 0xff)) >>> 0;
    mul64(h.hi, h.lo, 0x100, 0x1b3, h);
    if (c > 0xff) {
      h.lo = (h.lo ^ (c >>> 8)) >>> 0;
      mul64(h.hi, h.lo, 0x100, 0x1b3, h);
    }
  }
  return h;
}

/** MurmurHash3 fmix64, in place. */
export function fmix64(h: U64): U64 {
  h.lo = (h.lo ^ (h.hi >>> 1)) >>> 0; // h ^= h >>> 33
  mul64(h.hi, h.lo, 0xff51afd7, 0xed558ccd, h);
  h.lo = (h.lo ^ (h.hi >>> 1)) >>> 0;
  mul64(h.hi, h.lo, 0xc4ceb9fe, 0x1a85ec53, h);
  h.lo = (h.lo ^ (h.hi >>> 1)) >>> 0;
  return h;
}

/** The high 53 bits of a 64-bit hash as a number strictly inside (0, 1). */
export function toUnitInterval(h: U64): number {
  const x = h.hi * 0x200000 + (h.lo >>> 11); // 32 + 21 bits
  return (x + 0.5) / 2 ** 53;
}

/** The full 64-bit finalized hash of `s`, as a BigInt (for tests and diagnostics). */
export function hash64(s: string): bigint {
  const h = fmix64(fnv1a64(s));
  return (BigInt(h.hi) << 32n) | BigInt(h.lo);
}
