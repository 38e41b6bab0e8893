import { describe, expect, test } from "vitest";
import { CheckState, type CheckStatus } from "../../../dataplane/health/checker";

const ok = { ok: true, reason: "ok" };
const fail = { ok: false, reason: "connection refused" };

function run(initial: CheckStatus, results: string, thresholds = { healthyThreshold: 3, unhealthyThreshold: 2 }): string {
  const s = new CheckState(initial);
  return [...results].map((r, i) => (s.record(r === "+" ? ok : fail, i, thresholds), s.status[0])).join("");
}

describe("CheckState", () => {
  // p = pending, h = healthy, u = unhealthy; + = probe passed, - = probe failed. healthy 3, unhealthy 2.
  test.each([
    ["pending", "+", "h"], // healthy on the first success
    ["pending", "-++", "uuu"], // a failed first probe needs healthyThreshold successes
    ["pending", "-+++", "uuuh"],
    ["healthy", "-", "h"],
    ["healthy", "--", "hu"], // out after unhealthyThreshold consecutive failures
    ["healthy", "-+-", "hhh"], // not consecutive: stays in
    ["unhealthy", "++-+++", "uuuuuh"], // a failure resets the success count
  ] as const)("from %s, probes %s give %s", (initial, results, expected) => {
    expect(run(initial, results)).toBe(expected);
  });

  test("reports a change only when the status changes, and keeps the last result", () => {
    const s = new CheckState("pending");
    expect(s.record(fail, 10, { healthyThreshold: 1, unhealthyThreshold: 1 })).toBe("unhealthy");
    expect(s.record(fail, 20, { healthyThreshold: 1, unhealthyThreshold: 1 }, 7)).toBeUndefined();
    expect(s.lastCheck).toEqual({ at: 20, ok: false, reason: "connection refused", ms: 7 });
    expect(s.record(ok, 30, { healthyThreshold: 1, unhealthyThreshold: 1 })).toBe("healthy");
  });
});
