// Names with the real engine: preview shows the names up creates; a rename with `aliases` keeps the
// object and its name; `import` is refused up front with a message naming `adopt`; the stack's
// `pulumi:autonaming` setting is honoured; `get` reads an existing object. Against a data plane
// process; build first (`npm run build`).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDataplane, type Dataplane } from "../helpers/dataplane-process";
import { makeProject, previewSteps, type PulumiProject } from "../helpers/e2e";
import { assertTool, describeRun, requireTool } from "../helpers/toolchain";

const pulumiTool = requireTool("pulumi");
if (pulumiTool.skip) console.warn(`[e2e names] skipped outside CI: ${pulumiTool.reason}`);

const STEP_MS = 180_000;

const PROGRAM = `
const ballast = require("ballast");
const balancer = { adminUrl: process.env.DP_URL, adminToken: process.env.DP_TOKEN };
const phase = process.env.PHASE || "";
const servers = [{ address: "127.0.0.1", port: 8080 }];
const renamed = phase === "renamed" || phase === "get" || phase === "autonaming";
const pool = new ballast.ServerGroup(renamed ? "pool2" : "pool", { balancer, type: "virtual", servers }, renamed ? { aliases: [{ name: "pool" }] } : {});
exports.pool = pool.name;
if (phase === "import") {
  new ballast.ServerGroup("legacy", { balancer, type: "virtual", name: "legacy" }, { import: "legacy" });
}
if (phase === "get") {
  const seen = ballast.ServerGroup.get("seen", pool.name, { balancer });
  exports.seen = { name: seen.name, servers: seen.servers, version: seen.version };
}
if (phase === "autonaming") {
  exports.patterned = new ballast.ServerGroup("patterned", { balancer, type: "virtual" }).name;
  exports.verbatim = new ballast.BackendService("exact-svc", { balancer, protocol: "http", port: 8080 }).name;
}
`;

describe.skipIf(pulumiTool.skip)(`resource names${pulumiTool.skip ? ` (skipped: ${pulumiTool.reason})` : ""}`, () => {
  let dp: Dataplane;
  let project: PulumiProject;
  const env = (phase: string) => ({ DP_URL: dp.url, DP_TOKEN: dp.token, PHASE: phase });
  const run = (args: string[], phase = "") => project.pulumi([...args, "--stack", "t"], { timeoutMs: STEP_MS, env: env(phase) });
  const ok = async (args: string[], phase = "") => {
    const r = await run(args, phase);
    if (r.code !== 0) throw new Error(describeRun(`pulumi ${args.join(" ")}`, r));
    return r;
  };
  const groups = async () => ((await (await dp.api("/v1/server-groups")).json()) as { items: Array<{ name: string; version: number }> }).items;

  beforeAll(async () => {
    assertTool(pulumiTool);
    dp = await startDataplane({ env: { BALLAST_WORKERS: "0" } });
    project = makeProject({
      prefix: "ballast-e2e-names-",
      files: {
        "Pulumi.yaml": "name: names\nruntime: nodejs\nmain: index.js\n",
        "package.json": JSON.stringify({ name: "names", private: true, main: "index.js" }),
        "index.js": PROGRAM,
      },
    });
    await project.ok(["stack", "init", "t"], { timeoutMs: STEP_MS });
  }, STEP_MS);

  afterAll(async () => {
    if (project && dp) await run(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
    await dp?.stop();
    project?.cleanup();
  }, STEP_MS);

  it("preview shows the autoname up creates", async () => {
    const preview = await ok(["preview", "--json"]);
    const step = previewSteps(preview).find((s) => s.urn.endsWith("::pool"));
    const previewed = (step as unknown as { newState?: { inputs?: { name?: string } } }).newState?.inputs?.name;
    expect(previewed).toMatch(/^pool-[0-9a-f]{7}$/);
    await ok(["up", "--yes", "--skip-preview"]);
    expect((await groups()).map((g) => g.name)).toEqual([previewed]);
  });

  it("a rename with aliases keeps the object and its name", async () => {
    const [before] = await groups();
    const preview = await ok(["preview", "--json", "--show-sames"], "renamed");
    const steps = previewSteps(preview).filter((s) => /ballast:ServerGroup/.test(s.urn));
    expect(steps.map((s) => `${s.op} ${s.urn.split("::").pop()}`)).toEqual(["same pool2"]);
    await ok(["up", "--yes", "--skip-preview"], "renamed");
    expect(await groups()).toEqual([before]);
    expect((await project.outputs("t")).pool).toBe(before!.name);
  });

  it("refuses `import` up front with a message naming adopt, never a TypeError", async () => {
    const r = await run(["preview"], "import");
    const out = r.stdout + r.stderr;
    expect(r.code, describeRun("preview", r)).not.toBe(0);
    expect(out).toContain("ServerGroup (legacy)");
    expect(out).toContain("`adopt: true`");
    expect(out).not.toContain("TypeError");
  });

  it("get reads an existing object with its live fields", async () => {
    await ok(["up", "--yes", "--skip-preview"], "get");
    const [pool] = await groups();
    const seen = (await project.outputs("t")).seen as { name: string; servers: unknown[]; version: number };
    expect(seen).toEqual({ name: pool!.name, servers: [{ address: "127.0.0.1", port: 8080, weight: 100 }], version: pool!.version });
  });

  it("honours pulumi:autonaming: a pattern, and a verbatim mode for one resource type", async () => {
    project.writeStackConfig("t", {
      "pulumi:autonaming": {
        pattern: "${name}-${hex(4)}",
        providers: { "pulumi-nodejs": { resources: { "pulumi-nodejs:dynamic/ballast:BackendService": { mode: "verbatim" } } } },
      },
    });
    const preview = await ok(["preview", "--json"], "autonaming");
    const previewed = previewSteps(preview).find((s) => s.urn.endsWith("::patterned")) as unknown as { newState?: { inputs?: { name?: string } } };
    await ok(["up", "--yes", "--skip-preview"], "autonaming");
    const out = await project.outputs("t");
    expect(out.patterned).toMatch(/^patterned-[0-9a-f]{4}$/);
    expect(previewed.newState?.inputs?.name).toBe(out.patterned);
    expect(out.verbatim).toBe("exact-svc");
  });
});
