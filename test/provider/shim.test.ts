import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * What Pulumi stores as `__provider` must not change when Ballast's implementation changes: the
 * serialized shim loads the implementation from the installed package at call time. These tests
 * build the shim like `tsc` does, install it with two different implementations, serialize the
 * provider exactly as `pulumi.dynamic.Resource` does, and run the serialized text the way the
 * dynamic provider host does (`require-from-string`, cwd = the Pulumi project directory).
 */

const repoRoot = resolve(__dirname, "../..");
const requireFromRepo = createRequire(join(repoRoot, "package.json"));
let root: string;

/** The shim compiled with the project's settings (CommonJS, es2023), as in dist/. */
function compiledShim(): string {
  const source = readFileSync(join(repoRoot, "provider/shim.ts"), "utf8");
  return ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2023, esModuleInterop: true },
  }).outputText;
}

/** A fake implementation module that answers `check` with which build it is. */
function fakeImpl(build: string): string {
  return `"use strict";
// build ${build}: ${"x".repeat(build.length * 100)}
exports.provider = (key) => ({ check: async (olds, news) => ({ inputs: { build: ${JSON.stringify(build)}, key, news } }) });
`;
}

/** Installs a ballast package (shim + implementation) into `<dir>/node_modules/ballast`, or at `dir` itself. */
function installBallast(dir: string, impl: string, asRoot = false): string {
  const pkg = asRoot ? dir : join(dir, "node_modules", "ballast");
  mkdirSync(join(pkg, "dist", "provider"), { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "ballast", version: "0.0.0", main: "dist/provider/shim.js" }));
  writeFileSync(join(pkg, "dist", "provider", "shim.js"), compiledShim());
  writeFileSync(join(pkg, "dist", "provider", "impl.js"), impl);
  return pkg;
}

/** Serializes a provider the way `pulumi.dynamic.Resource` does. */
async function serialize(provider: object): Promise<string> {
  const sf = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
  return sf.text;
}

/** Runs the serialized provider as the dynamic provider host does, from `cwd`, and calls `check`. */
function runSerialized(text: string, cwd: string, news: object = { a: 1 }): unknown {
  const file = join(root, `provider-${Math.random().toString(36).slice(2)}.js`);
  writeFileSync(file, text);
  const script = `
    const requireFromString = require(${JSON.stringify(requireFromRepo.resolve("require-from-string"))});
    const text = require("node:fs").readFileSync(${JSON.stringify(file)}, "utf8");
    const provider = requireFromString(text).handler();
    provider.check({}, ${JSON.stringify(news)}).then((r) => process.stdout.write(JSON.stringify(r)));
  `;
  return JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd, encoding: "utf8", timeout: 30_000, stdio: ["ignore", "pipe", "pipe"] }));
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "ballast-shim-"));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("the serialized provider shim", () => {
  it("serializes to the same small text for two builds with different implementations", async () => {
    const a = installBallast(join(root, "a"), fakeImpl("A"));
    const b = installBallast(join(root, "b"), fakeImpl("B-with-a-much-longer-implementation"));
    const shimA = createRequire(join(a, "package.json"))("./dist/provider/shim.js");
    const shimB = createRequire(join(b, "package.json"))("./dist/provider/shim.js");
    expect(shimA).not.toBe(shimB);

    for (const key of ["listeners", "backend-services", "server-groups", "health-checks", "token"]) {
      const textA = await serialize(shimA.shimProvider(key));
      const textB = await serialize(shimB.shimProvider(key));
      expect(textA).toBe(textB);
      expect(textA.length).toBeLessThan(4_000);
      expect(textA).toContain(JSON.stringify(key));
      expect(textA).not.toContain(root);
      expect(textA).not.toContain("build A");
    }
  });

  it("loads the implementation installed in the project's node_modules at call time", async () => {
    const a = installBallast(join(root, "run-a"), fakeImpl("A"));
    installBallast(join(root, "run-b"), fakeImpl("B"));
    const text = await serialize(createRequire(join(a, "package.json"))("./dist/provider/shim.js").shimProvider("listeners"));
    expect(runSerialized(text, join(root, "run-a"))).toEqual({ inputs: { build: "A", key: "listeners", news: { a: 1 } } });
    // the same stored text, run in a project with another Ballast version, uses that version
    expect(runSerialized(text, join(root, "run-b"))).toMatchObject({ inputs: { build: "B" } });
  });

  it("falls back to the nearest package named ballast above the project (a project inside Ballast's repository)", async () => {
    const repo = installBallast(join(root, "repo"), fakeImpl("C"), true);
    const project = join(repo, "examples", "basic");
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "basic-example" }));
    const text = await serialize(createRequire(join(repo, "package.json"))("./dist/provider/shim.js").shimProvider("token"));
    expect(runSerialized(text, project)).toMatchObject({ inputs: { build: "C", key: "token" } });
  });

  it("says how to fix a project where ballast cannot be found", async () => {
    const lonely = join(root, "lonely");
    mkdirSync(lonely, { recursive: true });
    const a = installBallast(join(root, "src"), fakeImpl("A"));
    const text = await serialize(createRequire(join(a, "package.json"))("./dist/provider/shim.js").shimProvider("listeners"));
    expect(() => runSerialized(text, lonely)).toThrow(/cannot load ballast\/dist\/provider\/impl .*npm install ballast/);
  });

  it("runs the real implementation from this repository's root project", async () => {
    const impl = join(repoRoot, "dist/provider/impl.js");
    expect(existsSync(impl), "run `npx tsc -p tsconfig.json` first").toBe(true);
    const copy = join(root, "real");
    mkdirSync(copy, { recursive: true });
    cpSync(join(repoRoot, "dist/provider/shim.js"), join(copy, "shim.js"));
    const text = await serialize(createRequire(join(copy, "shim.js"))("./shim.js").shimProvider("backend-services"));
    const news = { name: "web", protocol: "http", port: 80, adminUrl: "http://127.0.0.1:9180", adminToken: "0123456789abcdef" };
    expect(runSerialized(text, repoRoot, news)).toEqual({
      inputs: { ...news, scheduler: "wrr", connectionDrainTimeout: 300, forwardedHeaders: [] },
    });
  });
});
