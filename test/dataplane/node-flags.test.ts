import { readFileSync } from "node:fs";
import { afterEach, describe, expect, test } from "vitest";
import { NODE_ENV_DEFAULTS, NODE_FLAGS, missingFlags } from "../../dataplane/node-flags";
import { startDataplane, type Dataplane } from "../helpers/dataplane-process";

/** The data plane's V8 flags (dataplane/node-flags.ts): applied however it is started, unless given. */

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
const children = (pid: number) =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);

describe("data plane node flags", () => {
  let dp: Dataplane | undefined;
  afterEach(async () => {
    await dp?.stop();
    dp = undefined;
  });

  test("missingFlags: a flag given on the command line or in NODE_OPTIONS (either spelling) is not added again", () => {
    expect(NODE_FLAGS).toContain("--max-semi-space-size=4");
    expect(missingFlags([], "")).toEqual([...NODE_FLAGS]);
    expect(missingFlags(["--inspect", "--max-old-space-size=100"], "--trace-gc")).toEqual([...NODE_FLAGS]);
    const others = NODE_FLAGS.filter((f) => !f.startsWith("--max-semi-space-size="));
    expect(missingFlags(["--max-semi-space-size=16"], "")).toEqual(others);
    expect(missingFlags([], "--foo --max_semi_space_size=8")).toEqual(others);
    expect(missingFlags([...NODE_FLAGS], "")).toEqual([]);
  });

  test("`node main.js` runs with the flags (same PID: re-executed in place), and so do its workers", async () => {
    dp = await startDataplane({ env: { BALLAST_WORKERS: "1" } });
    const args = cmdline(dp.pid);
    for (const f of NODE_FLAGS) expect(args).toContain(f);
    expect(args.at(-1)).toMatch(/main\.js$/);
    const workers = children(dp.pid);
    expect(workers.length).toBe(1);
    for (const f of NODE_FLAGS) expect(cmdline(workers[0]!)).toContain(f);
  });

  test("a value the user gave in NODE_OPTIONS is kept", async () => {
    dp = await startDataplane({ env: { BALLAST_WORKERS: "0", NODE_OPTIONS: "--max-semi-space-size=8" } });
    expect(cmdline(dp.pid)).not.toContain("--max-semi-space-size=4");
  });

  test("the re-executed process gets MALLOC_ARENA_MAX=2 and a fixed MALLOC_MMAP_THRESHOLD_, unless the environment sets them", async () => {
    expect(NODE_ENV_DEFAULTS).toEqual({ MALLOC_ARENA_MAX: "2", MALLOC_MMAP_THRESHOLD_: "131072" });
    dp = await startDataplane({ env: { BALLAST_WORKERS: "0", MALLOC_ARENA_MAX: undefined, MALLOC_MMAP_THRESHOLD_: undefined } });
    expect(environ(dp.pid)).toContain("MALLOC_ARENA_MAX=2");
    expect(environ(dp.pid)).toContain("MALLOC_MMAP_THRESHOLD_=131072");
    await dp.stop();
    dp = await startDataplane({ env: { BALLAST_WORKERS: "0", MALLOC_ARENA_MAX: "4", MALLOC_MMAP_THRESHOLD_: "262144" } });
    expect(environ(dp.pid)).toContain("MALLOC_ARENA_MAX=4");
    expect(environ(dp.pid)).not.toContain("MALLOC_ARENA_MAX=2");
    expect(environ(dp.pid)).toContain("MALLOC_MMAP_THRESHOLD_=262144");
    expect(environ(dp.pid)).not.toContain("MALLOC_MMAP_THRESHOLD_=131072");
  });
});
