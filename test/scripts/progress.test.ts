import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { pinnedPulumiVersion, repoRoot } from "../helpers/toolchain";

/**
 * Progress on long setup work, driven as a person sees it: each command below blocks until the test
 * has seen the progress line it should print while the work is still running, so a script that only
 * speaks at the end never gets released and fails the test (bounded wait).
 */

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), "ballast-progress-"));
  dirs.push(d);
  return d;
};

/** Runs bash with `args`; resolves once it exits, after `release` was called when `stderr` showed `awaited`. */
function runUntilSeen(args: string[], env: NodeJS.ProcessEnv, awaited: RegExp, release: () => void, waitMs = 60_000) {
  return new Promise<{ code: number | null; stderr: string; seenWhileRunning: boolean }>((resolve, reject) => {
    const child = spawn("bash", args, { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let seen = false;
    const giveUp = setTimeout(() => {
      release(); // the line never came: let the command finish so the test can fail on `seenWhileRunning`
    }, waitMs);
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      if (!seen && awaited.test(stderr)) {
        seen = true;
        release();
      }
    });
    child.stdout.resume();
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(giveUp);
      resolve({ code, stderr, seenWhileRunning: seen });
    });
  });
}

describe("scripts/ensure-pulumi.sh", () => {
  it("says what it is doing while go builds, not only when it is done", async () => {
    const work = temp();
    const releaseFile = join(work, "release");
    const fakeBin = join(work, "fake-bin");
    const cache = join(work, "cache");
    // A `go` that builds nothing until released: stands in for minutes of downloading and compiling.
    mkdirSync(fakeBin);
    writeFileSync(
      join(fakeBin, "go"),
      `#!/bin/sh
if [ "$1" = version ]; then echo "go version go1.25.0 linux/amd64"; exit 0; fi
i=0
while [ ! -e "${releaseFile}" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
printf '#!/bin/sh\\necho fake\\n' > "$out" && chmod +x "$out"
`,
    );
    chmodSync(join(fakeBin, "go"), 0o755);
    const env = {
      PATH: [fakeBin, dirname(process.execPath), "/usr/bin", "/bin"].join(":"),
      HOME: work,
      BALLAST_CACHE: cache,
      BALLAST_FORCE_PINNED_PULUMI: "1",
      BALLAST_PROGRESS_SECONDS: "1",
    };
    const r = await runUntilSeen(["scripts/ensure-pulumi.sh"], env, /ensure-pulumi: still building pulumi v[\d.]+/, () => writeFileSync(releaseFile, ""));
    expect(r.seenWhileRunning, r.stderr).toBe(true);
    expect(r.code, r.stderr).toBe(0);
    const bin = join(cache, `pulumi-v${pinnedPulumiVersion()}`, "bin");
    for (const b of ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]) expect(existsSync(join(bin, b)), b).toBe(true);
    expect(r.stderr).toMatch(/ensure-pulumi: building pulumi v[\d.]+ with go1\.25\.0/);
  }, 90_000);
});

describe("scripts/progress.sh run_live (the quickstart's `pulumi up`)", () => {
  it("shows each line as the command prints it, keeps it in the log, and returns the command's status", async () => {
    const work = temp();
    const releaseFile = join(work, "release");
    const log = join(work, "up.log");
    const script = `. scripts/progress.sh; run_live "${log}" sh -c 'echo " +  ballast:Listener front creating"; i=0; while [ ! -e "${releaseFile}" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; echo "Resources: 1 created"; exit 7'`;
    const r = await runUntilSeen(["-c", script], { PATH: process.env.PATH }, /front creating/, () => writeFileSync(releaseFile, ""));
    expect(r.seenWhileRunning, r.stderr).toBe(true);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain("   +  ballast:Listener front creating\n  Resources: 1 created\n");
    expect(readFileSync(log, "utf8")).toBe(" +  ballast:Listener front creating\nResources: 1 created\n");
  }, 90_000);

  it("is how the quickstart runs pulumi up (live, not only into a log file)", () => {
    const quickstart = readFileSync(join(repoRoot, "scripts/quickstart.sh"), "utf8");
    expect(quickstart).toMatch(/run_live "\$QS\/pulumi-up\.log" timeout \d+ pulumi up /);
    expect(quickstart).not.toMatch(/pulumi up[^\n]*--suppress-progress/);
  });
});
