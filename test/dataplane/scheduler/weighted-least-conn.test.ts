import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { SmoothWrr } from "../../../dataplane/scheduler/smooth-wrr";
import { WeightedLeastConn } from "../../../dataplane/scheduler/weighted-least-conn";

describe("WeightedLeastConn", () => {
  test("picks the lowest active/weight", () => {
    const s = new WeightedLeastConn();
    const c = [
      { key: "a", weight: 1, active: 1 }, // 1.0
      { key: "b", weight: 4, active: 3 }, // 0.75
      { key: "c", weight: 2, active: 2 }, // 1.0
    ];
    expect(s.pick({ candidates: c, clientIp: "" })).toBe(1);
  });

  test("breaks ties by weighted round robin (with nothing in flight the weights still hold)", () => {
    const s = new WeightedLeastConn();
    const c = [
      { key: "a", weight: 1, active: 0 },
      { key: "b", weight: 3, active: 0 },
    ];
    const picks = Array.from({ length: 8 }, () => c[s.pick({ candidates: c, clientIp: "" })]!.key).join(" ");
    expect(picks).toBe("b a b b b a b b");
  });

  test("sends new work to the emptier server while the other holds requests", () => {
    const s = new WeightedLeastConn();
    const c = [
      { key: "a", weight: 1, active: 0 },
      { key: "b", weight: 1, active: 0 },
    ];
    // Simulate a process: each pick is held open (active++) and never released.
    const picked: string[] = [];
    for (let i = 0; i < 10; i++) {
      const j = s.pick({ candidates: c, clientIp: "" });
      c[j]!.active++;
      picked.push(c[j]!.key);
    }
    expect(c[0]!.active).toBe(5);
    expect(c[1]!.active).toBe(5);
    c[0]!.active = 10; // a is busy
    for (let i = 0; i < 5; i++) expect(c[s.pick({ candidates: c, clientIp: "" })]!.key).toBe("b");
  });

  test("property: ties are broken by smooth WRR per server, whichever servers are tied", () => {
    // The tie-breaker's running weights belong to servers, not to positions in the tied list: with
    // {a, b} tied and then {b, c}, b keeps its own running weight rather than taking over a's.
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 2, maxLength: 5 }),
        fc.array(fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 5, maxLength: 5 }), { minLength: 1, maxLength: 30 }),
        (weights, rounds) => {
          const wlc = new WeightedLeastConn();
          const reference = new SmoothWrr();
          for (const busy of rounds) {
            // active = weight·busy: every candidate's ratio is 0 or 1, so the tied set is the idle ones (or all).
            const c = weights.map((weight, i) => ({ key: `s${i}`, weight, active: weight * busy[i]! }));
            const idle = c.filter((x) => x.active === 0);
            const tied = idle.length > 0 ? idle : c;
            const expected = tied.length === 1 ? tied[0]!.key : tied[reference.pickAmong(tied.map((x) => ({ ...x })))]!.key;
            expect(c[wlc.pick({ candidates: c, clientIp: "" })]!.key).toBe(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test("property: the pick always has the minimal active/weight", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ weight: fc.integer({ min: 1, max: 100 }), active: fc.integer({ min: 0, max: 50 }) }), { minLength: 1, maxLength: 10 }),
        (rows) => {
          const c = rows.map((r, i) => ({ key: `s${i}`, ...r }));
          const i = new WeightedLeastConn().pick({ candidates: c, clientIp: "" });
          const min = Math.min(...c.map((x) => x.active / x.weight));
          expect(c[i]!.active / c[i]!.weight).toBeCloseTo(min, 12);
        },
      ),
    );
  });
});
