import fc from "fast-check";
import { describe, expect, test } from "vitest";
import type { Candidate } from "../../../dataplane/scheduler/scheduler";
import { SmoothWrr } from "../../../dataplane/scheduler/smooth-wrr";

function cands(weights: Record<string, number>): Candidate[] {
  return Object.entries(weights).map(([key, weight]) => ({ key, weight, active: 0 }));
}

function sequence(weights: Record<string, number>, picks: number, s = new SmoothWrr()): string[] {
  const c = cands(weights);
  return Array.from({ length: picks }, () => c[s.pick({ candidates: c, clientIp: "" })]!.key);
}

describe("SmoothWrr", () => {
  test.each([
    // nginx's own example from the smooth WRR commit message.
    [{ a: 5, b: 1, c: 1 }, "a a b a c a a"],
    [{ a: 1, b: 3 }, "b a b b"],
    [{ a: 2, b: 1 }, "a b a"],
    [{ a: 1, b: 1, c: 1 }, "a b c"],
    [{ a: 3, b: 2 }, "a b a b a"],
    [{ a: 100 }, "a"],
  ])("picks %j in the exact sequence %s, and repeats it every cycle", (weights, expected) => {
    const cycle = expected.split(" ");
    expect(sequence(weights, cycle.length * 3).join(" ")).toBe([expected, expected, expected].join(" "));
  });

  test("returns -1 with no candidates", () => {
    expect(new SmoothWrr().pick({ candidates: [], clientIp: "" })).toBe(-1);
  });

  test("gives 1:3 weights 25% of 10,000 picks to within 0.1%", () => {
    const picks = sequence({ a: 1, b: 3 }, 10_000);
    const share = picks.filter((k) => k === "a").length / picks.length;
    expect(Math.abs(share - 0.25)).toBeLessThanOrEqual(0.001);
  });

  test("keeps its round across a server leaving and coming back (state is per key)", () => {
    const s = new SmoothWrr();
    const all = cands({ a: 1, b: 1, c: 1 });
    expect(all[s.pick({ candidates: all, clientIp: "" })]!.key).toBe("a");
    const withoutB = all.filter((c) => c.key !== "b");
    // b is out: c is next in the round, then a.
    expect(withoutB[s.pick({ candidates: withoutB, clientIp: "" })]!.key).toBe("c");
    expect(all[s.pick({ candidates: all, clientIp: "" })]!.key).toBe("b");
  });

  test("property: over each cycle of sum(weights) picks every server gets exactly its weight", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 12 }), (ws) => {
        const weights = Object.fromEntries(ws.map((w, i) => [`s${i}`, w]));
        const total = ws.reduce((a, b) => a + b, 0);
        const s = new SmoothWrr();
        for (let cycle = 0; cycle < 2; cycle++) {
          const picks = sequence(weights, total, s);
          ws.forEach((w, i) => expect(picks.filter((k) => k === `s${i}`).length).toBe(w));
        }
      }),
      { numRuns: 300 },
    );
  });

  test("property: no bursts — after any k picks a server has fewer than k·w/W + 1 picks", () => {
    // The running value of a picked server drops from a positive maximum by W, so it stays above -W;
    // picks·W − k·w equals minus that value, hence picks < k·w/W + 1. A plain (bursty) weighted round
    // robin sends w picks in a row and breaks this at once, e.g. {a:5, b:5} gives a 5 times.
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 2, maxLength: 12 }), (ws) => {
        const total = ws.reduce((a, b) => a + b, 0);
        const s = new SmoothWrr();
        const c = ws.map((weight, i) => ({ key: `s${i}`, weight, active: 0 }));
        const counts = ws.map(() => 0);
        let worst = -Infinity;
        for (let k = 1; k <= total; k++) {
          counts[s.pick({ candidates: c, clientIp: "" })]!++;
          ws.forEach((w, i) => (worst = Math.max(worst, counts[i]! - (k * w) / total)));
        }
        expect(worst).toBeLessThan(1);
      }),
      { numRuns: 200 },
    );
  });

  test("property: consecutive picks of one server stay below n·W/(W−w), where plain wrr would give w in a row", () => {
    // From the bound above and its counterpart (a running value stays below (n−1)·W), a run of r
    // picks satisfies r·(1 − w/W) < n. E.g. {a:5, b:5}: at most 3 in a row; plain wrr sends 5.
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 2, maxLength: 12 }), (ws) => {
        const total = ws.reduce((a, b) => a + b, 0);
        const s = new SmoothWrr();
        const c = ws.map((weight, i) => ({ key: `s${i}`, weight, active: 0 }));
        const longest = ws.map(() => 0);
        let last = -1;
        let run = 0;
        for (let k = 0; k < 2 * total; k++) {
          const i = s.pick({ candidates: c, clientIp: "" });
          run = i === last ? run + 1 : 1;
          last = i;
          longest[i] = Math.max(longest[i]!, run);
        }
        ws.forEach((w, i) => expect(longest[i]!).toBeLessThan((ws.length * total) / (total - w)));
      }),
      { numRuns: 200 },
    );
    expect(sequence({ a: 5, b: 5 }, 10).join("")).toBe("ababababab");
  });

  test("property: with `uniformWeight` it picks exactly as without, across candidate sets coming and going", () => {
    // The uniform path skips reading each candidate's weight; it must not change a single pick,
    // whatever running weights the earlier (possibly non-uniform) rounds left behind.
    const round = fc.record({
      members: fc.subarray(["a", "b", "c", "d", "e", "f"], { minLength: 1 }),
      weight: fc.integer({ min: 1, max: 100 }),
      uneven: fc.boolean(),
      picks: fc.integer({ min: 1, max: 20 }),
    });
    fc.assert(
      fc.property(fc.array(round, { minLength: 1, maxLength: 12 }), (rounds) => {
        const plain = new SmoothWrr();
        const hinted = new SmoothWrr();
        for (const r of rounds) {
          const c = r.members.map((key, i) => ({ key, weight: r.uneven ? r.weight + i : r.weight, active: 0 }));
          const hint = r.uneven && c.length > 1 ? undefined : r.weight;
          for (let k = 0; k < r.picks; k++) {
            expect(hinted.pick({ candidates: c, clientIp: "", uniformWeight: hint })).toBe(plain.pick({ candidates: c, clientIp: "" }));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  test("property: never returns an index outside the candidates", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 0, maxLength: 6 }), { maxLength: 30 }), (rounds) => {
        const s = new SmoothWrr();
        for (const ws of rounds) {
          const c = ws.map((weight, i) => ({ key: `s${i}`, weight, active: 0 }));
          const i = s.pick({ candidates: c, clientIp: "" });
          if (c.length === 0) expect(i).toBe(-1);
          else expect(i >= 0 && i < c.length).toBe(true);
        }
      }),
    );
  });
});
