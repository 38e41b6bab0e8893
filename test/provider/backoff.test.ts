import { describe, expect, it } from "vitest";
import { backoffDelay, backoffSchedule, defaultBackoff } from "../../provider/backoff";

describe("backoff", () => {
  it("doubles from 100 ms up to 4 s and stops within a 30 s budget", () => {
    const schedule = backoffSchedule(defaultBackoff);
    expect(schedule.slice(0, 7)).toEqual([100, 200, 400, 800, 1600, 3200, 4000]);
    const total = schedule.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThanOrEqual(30_000);
    expect(total + 4_000).toBeGreaterThan(30_000);
  });

  it("gives no further wait once the time already spent would pass the budget", () => {
    expect(backoffDelay(defaultBackoff, 0, 29_950)).toBe(undefined);
    expect(backoffDelay(defaultBackoff, 0, 29_900)).toBe(100);
  });
});
