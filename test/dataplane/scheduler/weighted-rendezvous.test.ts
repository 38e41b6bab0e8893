import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fmix64, fnv1a64, hash64 } from "../../../dataplane/scheduler/hash64";
import type { Candidate } from "../../../dataplane/scheduler/scheduler";
import { WeightedRendezvous } from "../../../dataplane/scheduler/weighted-rendezvous";
import { clientIps } from "../../helpers/random";

/** Reference FNV-1a 64 + fmix64 in BigInt, to pin the limb arithmetic. */
function referenceHash(s: string): bigint {
  const M = (1n << 64n) - 1n;
  let h = 0xcbf29ce484222325n;
  const step = (b: number) => {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & M;
  };
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    step(c & 0xff);
    if (c > 0xff) step(c >>> 8);
  }
  h ^= h >> 33n;
  h = (h * 0xff51afd7ed558ccdn) & M;
  h ^= h >> 33n;
  h = (h * 0xc4ceb9fe1a85ec53n) & M;
  h ^= h >> 33n;
  return h;
}

function servers(n: number, weight = 100): Candidate[] {
  return Array.from({ length: n }, (_, i) => ({ key: `10.0.0.${i + 1}|80`, weight, active: 0 }));
}

function assign(s: WeightedRendezvous, c: readonly Candidate[], ips: readonly string[]): Map<string, string> {
  return new Map(ips.map((ip) => [ip, c[s.pick({ candidates: c, clientIp: ip })]!.key]));
}

describe("hash64", () => {
  test("matches a BigInt reference of FNV-1a 64 + fmix64", () => {
    expect(hash64("")).toBe(referenceHash(""));
    // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (published test vector).
    const a = fnv1a64("a");
    expect(((BigInt(a.hi) << 32n) | BigInt(a.lo)).toString(16)).toBe("af63dc4c8601ec8c");
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (s) => {
      expect(hash64(s)).toBe(referenceHash(s));
    }), { numRuns: 150 });
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 10 }), (s) => {
      expect(hash64(s)).toBe(referenceHash(s));
    }), { numRuns: 100 });
  });

  test("fmix64 of 0 is 0 (the finalizer is a bijection fixing 0)", () => {
    const h = fmix64({ hi: 0, lo: 0 });
    expect([h.hi, h.lo]).toEqual([0, 0]);
  });
});

describe("WeightedRendezvous", () => {
  const ips = clientIps(1000, 7);

  test("is deterministic: two instances (two processes) agree on every client", () => {
    const c = servers(5);
    expect([...assign(new WeightedRendezvous(), c, ips)]).toEqual([...assign(new WeightedRendezvous(), c, ips)]);
  });

  test("does not depend on candidate order", () => {
    const c = servers(5);
    const reversed = [...c].reverse();
    expect([...assign(new WeightedRendezvous(), c, ips)]).toEqual([...assign(new WeightedRendezvous(), reversed, ips)]);
  });

  test.each([4, 5, 10])("removing 1 of %i servers moves only that server's clients (≈1/N of 1,000)", (n) => {
    const c = servers(n);
    const before = assign(new WeightedRendezvous(), c, ips);
    const removed = c[1]!.key;
    const after = assign(new WeightedRendezvous(), c.filter((x) => x.key !== removed), ips);
    let moved = 0;
    for (const ip of ips) {
      if (before.get(ip) !== after.get(ip)) {
        moved++;
        expect(before.get(ip)).toBe(removed); // only the removed server's clients move
      }
    }
    // Binomial(1000, 1/N): ±5 standard deviations is < ±0.07 for N ≥ 4.
    expect(Math.abs(moved / ips.length - 1 / n)).toBeLessThan(0.07);
  });

  test("adding a server moves only the clients it now wins (≈1/(N+1))", () => {
    const c = servers(4);
    const before = assign(new WeightedRendezvous(), c, ips);
    const added: Candidate = { key: "10.0.0.99|80", weight: 100, active: 0 };
    const after = assign(new WeightedRendezvous(), [...c, added], ips);
    let moved = 0;
    for (const ip of ips) {
      if (before.get(ip) !== after.get(ip)) {
        moved++;
        expect(after.get(ip)).toBe(added.key);
      }
    }
    expect(Math.abs(moved / ips.length - 1 / 5)).toBeLessThan(0.07);
  });

  test("shares follow the weights: 1:3 gives ≈25% of 10,000 clients", () => {
    const c: Candidate[] = [
      { key: "a|80", weight: 1, active: 0 },
      { key: "b|80", weight: 3, active: 0 },
    ];
    const many = clientIps(10_000, 11);
    const s = new WeightedRendezvous();
    const a = many.filter((ip) => c[s.pick({ candidates: c, clientIp: ip })]!.key === "a|80").length;
    // sd of a binomial share at n = 10,000 is 0.43%; ±3% is ~7 sd.
    expect(Math.abs(a / many.length - 0.25)).toBeLessThan(0.03);
  });

  test("property: the pick is always one of the candidates and stable per client", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 10 }), fc.ipV4(), (ws, ip) => {
        const c = ws.map((weight, i) => ({ key: `s${i}|80`, weight, active: 0 }));
        const s = new WeightedRendezvous();
        const i = s.pick({ candidates: c, clientIp: ip });
        expect(i >= 0 && i < c.length).toBe(true);
        expect(s.pick({ candidates: c, clientIp: ip })).toBe(i);
      }),
    );
  });
});
