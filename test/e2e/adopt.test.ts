// Adoption with the real engine: `pulumi preview` of a resource with `adopt: true` shows, against
// the resource, every field whose current value on the balancer `up` will change, including the
// ones the program leaves out (they go back to their defaults). Against a data plane process; build
// first (`npm run build`).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDataplane, type Dataplane } from "../helpers/dataplane-process";
import { makeProject, type PulumiProject } from "../helpers/e2e";
import { assertTool, describeRun, requireTool } from "../helpers/toolchain";

const pulumiTool = requireTool("pulumi");
if (pulumiTool.skip) console.warn(`[e2e adopt] skipped outside CI: ${pulumiTool.reason}`);

const STEP_MS = 180_000;

const PROGRAM = `
const ballast = require("ballast");
const balancer = { adminUrl: process.env.DP_URL, adminToken: process.env.DP_TOKEN };
new ballast.BackendService("legacy", { balancer, name: "legacy-web", adopt: true, protocol: "http", port: 8080, slowStart: 60 });
`;

describe.skipIf(pulumiTool.skip)(`adopting an existing object${pulumiTool.skip ? ` (skipped: ${pulumiTool.reason})` : ""}`, () => {
  let dp: Dataplane;
  let project: PulumiProject;
  const run = (args: string[]) => project.pulumi([...args, "--stack", "t"], { timeoutMs: STEP_MS, env: { DP_URL: dp.url, DP_TOKEN: dp.token } });

  beforeAll(async () => {
    assertTool(pulumiTool);
    dp = await startDataplane({ env: { BALLAST_WORKERS: "0" } });
    project = makeProject({
      prefix: "ballast-e2e-adopt-",
      files: {
        "Pulumi.yaml": "name: adopt\nruntime: nodejs\nmain: index.js\n",
        "package.json": JSON.stringify({ name: "adopt", private: true, main: "index.js" }),
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

  it("preview lists the fields up changes, defaults included; up makes them so", async () => {
    const made = await dp.api("/v1/backend-services", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "legacy-web", protocol: "http", port: 8080, scheduler: "wlc", connectionDrainTimeout: 60 }),
    });
    expect(made.status).toBe(201);

    const preview = await run(["preview"]);
    const out = preview.stdout + preview.stderr;
    expect(preview.code, describeRun("preview", preview)).toBe(0);
    const block = out.slice(out.indexOf("pulumi-nodejs:dynamic/ballast:BackendService (legacy):"));
    expect(block).toContain('adopt: `up` takes over BackendService "legacy-web" and changes 3 fields on the balancer:');
    expect(block).toContain("connectionDrainTimeout: 60 → 300 (the default; the program does not set it)");
    expect(block).toContain('scheduler: "wlc" → "wrr" (the default; the program does not set it)');
    expect(block).toContain("slowStart: unset → 60");

    const up = await run(["up", "--yes", "--skip-preview"]);
    expect(up.code, describeRun("up", up)).toBe(0);
    const live = (await (await dp.api("/v1/backend-services/legacy-web")).json()) as Record<string, unknown>;
    expect(live).toMatchObject({ scheduler: "wrr", connectionDrainTimeout: 300, slowStart: 60, version: 2 });
  });
});
