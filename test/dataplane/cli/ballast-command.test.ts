import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ballast } from "./ballast-cli";

/** The `ballast` command's surface, run as a child process from dist/: help, version, usage errors. */

const VERSION = (JSON.parse(readFileSync(resolve(__dirname, "../../../package.json"), "utf8")) as { version: string }).version;
const SUBCOMMANDS = ["serve", "validate", "status", "export", "import"];

describe("ballast", () => {
  it("lists its commands with --help (exit 0) and without a command (exit 2)", async () => {
    const help = await ballast(["--help"]);
    expect(help.code).toBe(0);
    for (const name of SUBCOMMANDS) expect(help.stdout).toMatch(new RegExp(`^  ${name} `, "m"));
    const none = await ballast([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("Usage: ballast <command>");
  });

  it("prints the package version with --version", async () => {
    const r = await ballast(["--version"]);
    expect({ code: r.code, out: r.stdout }).toEqual({ code: 0, out: `ballast ${VERSION}\n` });
  });

  it("refuses an unknown command with exit 2", async () => {
    const r = await ballast(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it.each(SUBCOMMANDS)("%s: --help and --version exit 0", async (name) => {
    const help = await ballast([name, "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(new RegExp(`^Usage: ballast ${name}`));
    expect(help.stdout).toContain("--version");
    const version = await ballast([name, "--version"]);
    expect({ code: version.code, out: version.stdout }).toEqual({ code: 0, out: `ballast ${VERSION}\n` });
  });

  it.each(SUBCOMMANDS)("%s: an unknown flag is a usage error, exit 2", async (name) => {
    const r = await ballast([name, "--no-such-flag"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--no-such-flag");
    expect(r.stderr).toContain(`ballast ${name} --help`);
  });

  it("validate without its FILE, or with two, is a usage error", async () => {
    expect((await ballast(["validate"])).code).toBe(2);
    expect((await ballast(["validate", "a.json", "b.json"])).code).toBe(2);
  });

  it("status, export and import without a token are usage errors; a bad --format too", async () => {
    for (const args of [["status"], ["export"], ["import", "-"]]) {
      const r = await ballast(args, { input: '{"format":"ballast/v1"}' });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain("BALLAST_ADMIN_TOKEN");
    }
    expect((await ballast(["export", "--format", "xml", "--token", "t".repeat(20)])).code).toBe(2);
  });

  it("exits 3 when the admin API cannot be reached", async () => {
    const r = await ballast(["status", "--admin-url", "http://127.0.0.1:1", "--token", "t".repeat(20)]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("cannot reach the admin API at http://127.0.0.1:1");
  });
});
