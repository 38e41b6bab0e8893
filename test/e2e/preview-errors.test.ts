// Every mistake of every resource in one `pulumi preview`, with the real engine: the sdk judges the
// inputs known at construction and reports each mistake against its resource, so a program with
// mistakes in four resources needs one run, not four. Nothing reaches the balancer (a data plane
// process). Build first (`npm run build`).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDataplane, type Dataplane } from "../helpers/dataplane-process";
import { makeProject, type PulumiProject } from "../helpers/e2e";
import { assertTool, describeRun, requireTool } from "../helpers/toolchain";

const pulumiTool = requireTool("pulumi");
if (pulumiTool.skip) console.warn(`[e2e preview-errors] skipped outside CI: ${pulumiTool.reason}`);

const STEP_MS = 180_000;

/** Four resources, one mistake or more each; the listener's only mistake is its service's protocol. */
const PROGRAM = `
const ballast = require("ballast");
const balancer = { adminUrl: process.env.DP_URL, adminToken: process.env.DP_TOKEN };
const broken = process.env.BROKEN === "1";
const pool = new ballast.ServerGroup("pool", {
  balancer, type: "virtual", servers: [{ address: "127.0.0.1", port: 8080, weight: broken ? 150 : 50 }],
});
if (process.env.BY_NAME) {
  new ballast.Listener("by-name", { balancer, protocol: "tcp", port: 8082, backendService: process.env.BY_NAME });
}
if (broken) {
const web = new ballast.BackendService("web", {
  balancer, protocol: "http", port: 8080, serverGroup: pool,
  sessionPersistence: { type: "insert-cookie", cookieTimeout: 99999 },
});
new ballast.HealthCheck("web-check", { balancer, backendService: web, protocol: "HTTP", interval: 1, path: "health" });
new ballast.Listener("front", { balancer, protocol: "tcp", port: 8081, backendService: web });
}
`;

describe.skipIf(pulumiTool.skip)(`pulumi preview of a program with mistakes${pulumiTool.skip ? ` (skipped: ${pulumiTool.reason})` : ""}`, () => {
  let dp: Dataplane;
  let project: PulumiProject;
  const env = () => ({ DP_URL: dp.url, DP_TOKEN: dp.token });

  beforeAll(async () => {
    assertTool(pulumiTool);
    dp = await startDataplane({ env: { BALLAST_WORKERS: "0" } });
    project = makeProject({
      prefix: "ballast-e2e-preview-",
      files: {
        "Pulumi.yaml": "name: preview-errors\nruntime: nodejs\nmain: index.js\n",
        "package.json": JSON.stringify({ name: "preview-errors", private: true, main: "index.js" }),
        "index.js": PROGRAM,
      },
    });
    await project.ok(["stack", "init", "t"], { timeoutMs: STEP_MS });
  }, STEP_MS);

  afterAll(async () => {
    await dp?.stop();
    project?.cleanup();
  });

  it("lists every mistake of all four resources, each against its resource with field, limit and value as written", async () => {
    const r = await project.pulumi(["preview", "--stack", "t"], { timeoutMs: STEP_MS, env: { ...env(), BROKEN: "1" } });
    const out = r.stdout + r.stderr;
    expect(r.code, describeRun("preview", r)).not.toBe(0);
    const expected: Array<[string, string]> = [
      ["ServerGroup (pool)", `servers[0].weight: must be a whole number from 0 to 100 (got 150)`],
      ["BackendService (web)", `sessionPersistence.cookieTimeout: must be a whole number from 0 to 86400 seconds (got 99999)`],
      ["HealthCheck (web-check)", `interval: must be a whole number from 5 to 300 seconds (got 1)`],
      ["HealthCheck (web-check)", `path: `],
      ["Listener (front)", `backendService: a tcp listener needs a tcp service; BackendService "web" is http`],
    ];
    for (const [resource, line] of expected) {
      // The engine's diagnostics name the resource (`pulumi-nodejs:dynamic/ballast:<Kind> (<name>):`) above its lines.
      const block = out.split(`pulumi-nodejs:dynamic/ballast:${resource}:`)[1];
      expect(block, `${resource} in\n${out}`).toBeDefined();
      expect(block!.split(/\n\s{2}\S/)[0], `${resource}: ${line}\n${out}`).toContain(line);
    }
    expect(out).toContain("ballast: 5 mistakes in 4 resources");
    expect(out).not.toContain("{<nil>}");
    expect(out, "no JavaScript stack trace").not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
    for (const collection of ["listeners", "backend-services", "server-groups", "health-checks"]) {
      const body = (await (await dp.api(`/v1/${collection}`)).json()) as { items: unknown[] };
      expect(body.items, collection).toEqual([]);
    }
  });

  it("fails `up` the same way and leaves what the stack already has on the balancer", async () => {
    await project.ok(["up", "--yes", "--skip-preview", "--stack", "t"], { timeoutMs: STEP_MS, env: env() });
    const groups = async () => ((await (await dp.api("/v1/server-groups")).json()) as { items: Array<{ name: string }> }).items.map((g) => g.name);
    const before = await groups();
    expect(before).toHaveLength(1);
    const r = await project.pulumi(["up", "--yes", "--skip-preview", "--stack", "t"], { timeoutMs: STEP_MS, env: { ...env(), BROKEN: "1" } });
    expect(r.code, describeRun("up", r)).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("servers[0].weight: must be a whole number from 0 to 100 (got 150)");
    expect(await groups()).toEqual(before);
    await project.ok(["destroy", "--yes", "--skip-preview", "--stack", "t"], { timeoutMs: STEP_MS, env: env() });
  });

  it("refuses at preview a tcp listener that names an http service already on the balancer", async () => {
    const made = await dp.api("/v1/backend-services", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "named-web", protocol: "http", port: 8080 }),
    });
    expect(made.status).toBe(201);
    const r = await project.pulumi(["preview", "--stack", "t"], { timeoutMs: STEP_MS, env: { ...env(), BY_NAME: "named-web" } });
    const out = r.stdout + r.stderr;
    expect(r.code, describeRun("preview", r)).not.toBe(0);
    expect(out).toContain('backendService: a tcp listener needs a tcp service; BackendService "named-web" on the balancer is http');
    expect(out).not.toContain("{<nil>}");
    const listeners = (await (await dp.api("/v1/listeners")).json()) as { items: unknown[] };
    expect(listeners.items).toEqual([]);
  });
});
