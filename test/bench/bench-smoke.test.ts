import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

/**
 * Keeps `npm run bench` from rotting: its one-second smoke (`--smoke`) starts a Node origin, the
 * built data plane configured through its admin API and the Node-only peers, drives them with the
 * bench's Node load generator, and writes the report. It needs no Debian package and installs
 * nothing. Speeds are never asserted: only that every part ran and the report has its tables.
 */

const ROOT = resolve(__dirname, "../..");
const RUN = join(ROOT, "bench", "run.mjs");

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function runBench(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [RUN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
    // SIGINT lets the bench stop everything it started; SIGKILL only if that hangs too.
    const timer = setTimeout(() => {
      child.kill("SIGINT");
      setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
    }, timeoutMs);
    child.once("close", (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

describe("npm run bench (smoke)", () => {
  it("measures the origin, Ballast and the Node peers and writes every table of the report", async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-bench-smoke-"));
    const out = join(dir, "benchmarks.md");
    // Fixed ports below the ephemeral range (32768+); another base if something holds one.
    let result = { code: null as number | null, output: "" };
    for (let attempt = 0; attempt < 3; attempt++) {
      const portBase = 20_000 + Math.floor(Math.random() * 24) * 500;
      result = await runBench(["--smoke", "--no-build", "--port-base", String(portBase), "--out", out], 45_000);
      if (!/port \d+ is taken/.test(result.output)) break;
    }
    const { code, output } = result;
    expect(code, output).toBe(0);

    const report = readFileSync(out, "utf8");
    expect(report).toContain("<!-- bench:begin");
    expect(report).toContain("<!-- bench:end -->");
    for (const title of ["### HTTP keep-alive, 64 B responses, 16 connections", "### TCP pass-through carrying HTTP", "### Memory", "### Admin change to traffic shift"]) {
      expect(report).toContain(title);
    }
    // Every measured row carries a number; nothing failed to start or to run.
    expect(report).not.toMatch(/not measured|failed:/);
    expect(report).toMatch(/\| Ballast \(default: one process on one core\) \| [\d,]+ \|/);
    expect(report).toMatch(/\| Node net pipe \| [\d,]+ \|/);
    // After every cell, the next request through each proxy was answered (issue 20).
    const ballastRows = report.split("\n").filter((l) => l.startsWith("| Ballast (default"));
    expect(ballastRows.length).toBeGreaterThanOrEqual(2);
    for (const row of ballastRows.slice(0, 2)) expect(row).toMatch(/\| 200 in [\d.]+ (ms|µs) \|$/);
    expect(report).not.toMatch(/no answer in/);
  });
});
