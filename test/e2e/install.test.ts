// The path a user takes (README, "Use Ballast in your own program"): `npm pack` this repository,
// install the tarball into a fresh program in a temp dir outside the repository that brings its
// own @pulumi/pulumi and typescript (from the npm cache or registry), and run `pulumi preview`,
// `up` and `destroy` with the real engine against a data plane process. The program's three files
// are the code blocks of that README section, so the README cannot drift from what works.
// Build first (`npm run build && npm run bundle`): the tarball is packed from them.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDataplane, type Dataplane } from "../helpers/dataplane-process";
import { projectAt, sendRequests, type PulumiProject } from "../helpers/e2e";
import { startOrigin, type Origin } from "../helpers/origin";
import { freePort } from "../helpers/ports";
import { assertTool, describeRun, pinnedPulumiVersion, repoRoot, requireTool, runCommand, toolPath, which } from "../helpers/toolchain";

const pulumiTool = requireTool("pulumi");
if (pulumiTool.skip) console.warn(`[e2e install] skipped outside CI: ${pulumiTool.reason}`);

const STEP_MS = 240_000;
const SECTION = "## Use Ballast in your own program";

/** The fenced code blocks of the README's install section, keyed by the file named on their first line. */
function readmeFiles(readme: string): Record<string, string> {
  const start = readme.indexOf(SECTION);
  if (start < 0) throw new Error(`README.md has no "${SECTION}" section`);
  const end = readme.indexOf("\n## ", start + SECTION.length);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const files: Record<string, string> = {};
  for (const m of section.matchAll(/```(\w+)\n([\s\S]*?)```/g)) {
    const first = /^(?:#|\/\/) (\S+)\n/.exec(m[2]!);
    if (first) files[first[1]!] = m[2]!;
  }
  return files;
}

describe.skipIf(pulumiTool.skip)(`an installed ballast package${pulumiTool.skip ? ` (skipped: ${pulumiTool.reason})` : ""}`, () => {
  let work: string;
  let app: string;
  let tarball: string;
  let dp: Dataplane;
  let origin: Origin;
  let project: PulumiProject;
  const npmEnv = () => ({ ...process.env, PATH: toolPath(), npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" });
  const npm = async (args: string[], cwd: string) => {
    const npmBin = which("npm", toolPath());
    if (!npmBin) throw new Error("npm is not on PATH");
    const r = await runCommand(npmBin, args, { cwd, env: npmEnv(), timeoutMs: STEP_MS });
    if (r.code !== 0) throw new Error(describeRun(`npm ${args.join(" ")}`, r));
    return r;
  };

  beforeAll(async () => {
    assertTool(pulumiTool);
    for (const built of ["dist/sdk/index.js", "dist/provider/impl.js", "build/image/main.js"]) {
      if (!existsSync(join(repoRoot, built))) throw new Error(`${built} is missing: run \`npm run build && npm run bundle\` first`);
    }
    work = mkdtempSync(join(tmpdir(), "ballast-install-"));
    expect(relative(repoRoot, work).startsWith(".."), "the program must live outside the repository").toBe(true);
    // The scripts already ran (the test's prerequisites); `npm pack` alone runs them through `prepack`.
    const packed = await npm(["pack", "--ignore-scripts", "--json", "--pack-destination", work], repoRoot);
    tarball = join(work, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);
    app = join(work, "my-lb");
    mkdirSync(app);
    origin = await startOrigin("installed-origin");
    dp = await startDataplane({ env: { BALLAST_WORKERS: "0" } });
  }, STEP_MS);

  afterAll(async () => {
    await dp?.stop();
    await origin?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it("the tarball holds the compiled sdk, provider and model, the image build context, docs, LICENSE and CHANGELOG, and nothing else", async () => {
    const listed = await npm(["pack", "--ignore-scripts", "--dry-run", "--json"], repoRoot);
    const paths = (JSON.parse(listed.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    for (const needed of [
      "package.json", "README.md", "LICENSE", "CHANGELOG.md", "Dockerfile", ".dockerignore",
      "build/image/main.js", "build/image/worker-main.js", "build/image/healthcheck.js", "build/state/.keep",
      "dist/sdk/index.js", "dist/sdk/index.d.ts", "dist/provider/impl.js", "dist/model/index.js", "docs/sdk.md",
      // The `ballast` command (package.json `bin`) and the data plane modules it loads.
      "dist/dataplane/cli/ballast.js",
    ]) {
      expect(paths, needed).toContain(needed);
    }
    const allowed = /^(package\.json|README\.md|LICENSE|CHANGELOG\.md|Dockerfile|\.dockerignore|build\/(image|state)\/.+|dist\/(sdk|provider|model)\/.+\.(js|d\.ts)|dist\/dataplane\/.+\.js|docs\/.+)$/;
    expect(paths.filter((p) => !allowed.test(p))).toEqual([]);
    expect(readFileSync(join(repoRoot, "LICENSE"), "utf8")).toContain("Apache License\n                           Version 2.0, January 2004");
  });

  it("installs next to the program's own @pulumi/pulumi and runs preview, up and destroy with the real engine", async () => {
    const files = readmeFiles(readFileSync(join(repoRoot, "README.md"), "utf8"));
    expect(Object.keys(files).sort()).toEqual(["Pulumi.yaml", "index.ts", "tsconfig.json"]);
    for (const [file, text] of Object.entries(files)) writeFileSync(join(app, file), text);

    await npm(["init", "-y"], app);
    await npm(["install", "--prefer-offline", `@pulumi/pulumi@${pinnedPulumiVersion()}`, "typescript@6.0.3", tarball], app);
    // One Pulumi SDK in the program: ballast (a peer) and @pulumi/docker use the program's copy.
    expect(existsSync(join(app, "node_modules/@pulumi/pulumi/package.json"))).toBe(true);
    expect(existsSync(join(app, "node_modules/ballast/node_modules/@pulumi/pulumi"))).toBe(false);
    expect(existsSync(join(app, "node_modules/@pulumi/docker/node_modules/@pulumi/pulumi"))).toBe(false);
    // The package's command is on the program's PATH.
    const version = await runCommand(join(app, "node_modules/.bin/ballast"), ["--version"], { cwd: app, env: npmEnv(), timeoutMs: 60_000 });
    expect(version.stdout.trim(), describeRun("ballast --version", version)).toBe(`ballast ${JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).version}`);
    // The Balancer's default build context is the installed package: the Dockerfile and the bundle it copies.
    const context = await runCommand(process.execPath, ["-e", 'process.stdout.write(require("ballast").defaultBuildContext())'], { cwd: app, env: npmEnv(), timeoutMs: 60_000 });
    expect(context.stdout, describeRun("defaultBuildContext", context)).toBe(realpathSync(join(app, "node_modules/ballast")));
    for (const f of ["Dockerfile", ".dockerignore", "build/image/main.js", "build/state/.keep"]) {
      expect(existsSync(join(context.stdout, f)), f).toBe(true);
    }

    const stateDir = join(work, "state");
    mkdirSync(stateDir);
    project = projectAt(app, stateDir);
    const listenerPort = await freePort();
    const opts = { timeoutMs: STEP_MS };
    await project.ok(["stack", "init", "dev"], opts);
    await project.ok(["config", "set", "adminUrl", dp.url], opts);
    await project.ok(["config", "set", "--secret", "adminToken", dp.token], opts);
    await project.ok(["config", "set", "originPort", String(origin.port)], opts);
    await project.ok(["config", "set", "listenerPort", String(listenerPort)], opts);

    const preview = await project.ok(["preview"], opts);
    expect(preview.stdout).toMatch(/\+ 4 to create/);
    await project.ok(["up", "--yes"], opts);
    const listeners = (await (await dp.api("/v1/listeners")).json()) as { items: Array<{ name: string; port: number }> };
    expect(listeners.items.map((l) => l.port)).toEqual([listenerPort]);
    const traffic = await sendRequests(`http://127.0.0.1:${listenerPort}`, 3);
    expect(traffic.counts).toEqual({ "installed-origin": 3 });

    await project.ok(["destroy", "--yes"], opts);
    for (const collection of ["listeners", "backend-services", "server-groups"]) {
      const body = (await (await dp.api(`/v1/${collection}`)).json()) as { items: unknown[] };
      expect(body.items, collection).toEqual([]);
    }
  });
});
