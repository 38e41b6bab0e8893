import { describe, expect, test } from "vitest";
import { defaultWorkers } from "../../../dataplane/runtime/primary-runtime";

describe("BALLAST_WORKERS default", () => {
  test("one worker per core when there are several; the primary itself serves on a single core", () => {
    expect(defaultWorkers(1)).toBe(0);
    expect(defaultWorkers(2)).toBe(2);
    expect(defaultWorkers(8)).toBe(8);
  });
});
