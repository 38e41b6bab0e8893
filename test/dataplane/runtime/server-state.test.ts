import { describe, expect, test } from "vitest";
import { serverState } from "../../../dataplane/runtime/primary-runtime";

/** The state a server is reported in (`ballast_server_state`): one word, the most urgent first. */
describe("serverState", () => {
  const now = 1_000_000;
  test.each([
    ["no health check, weight 100", undefined, 100, undefined, "up"],
    ["healthy", { status: "healthy" as const }, 100, undefined, "up"],
    ["failed its check", { status: "unhealthy" as const }, 100, undefined, "down"],
    ["failed its check while at weight 0", { status: "unhealthy" as const }, 0, undefined, "down"],
    ["weight 0: no new requests, existing ones drain", { status: "healthy" as const }, 0, undefined, "draining"],
    ["10 s into a 60 s slow start", { status: "healthy" as const, slowStartFrom: now - 10_000 }, 100, 60, "slow_start"],
    ["past its slow start", { status: "healthy" as const, slowStartFrom: now - 61_000 }, 100, 60, "up"],
  ])("%s → %s", (_what, health, weight, slowStart, expected) => {
    expect(serverState(health, weight, slowStart, now)).toBe(expected);
  });
});
