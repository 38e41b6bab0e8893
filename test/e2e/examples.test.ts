// The examples (examples/quickstart, examples/two-stacks) run as users run them: TypeScript through
// Pulumi's ts-node, `ballast` resolved as an installed package, the balancer given by
// BALLAST_ADMIN_URL / BALLAST_ADMIN_TOKEN, against a data plane process (`node
// dist/dataplane/main.js`; the container is covered by lifecycle.test.ts). Build first.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COLLECTIONS } from "../helpers/container";
import { startDataplane, type Dataplane } from "../helpers/dataplane-process";
import { copyExample, sendRequests } from "../helpers/e2e";
import { startOrigin, type Origin } from "../helpers/origin";
import { freePort } from "../helpers/ports";
import { assertTool, describeRun, requireTool } from "../helpers/toolchain";

const pulumiTool = requireTool("pulumi");
if (pulumiTool.skip) console.warn(`[e2e examples] skipped outside CI: ${pulumiTool.reason}`);

const STEP_MS = 180_000;

describe.skipIf(pulumiTool.skip)(`examples${pulumiTool.skip ? ` (skipped: ${pulumiTool.reason})` : ""}`, () => {
  let dp: Dataplane;
  let origins: Origin[] = [];
  const cleanups: Array<() => Promise<unknown> | void> = [];

  const env = () => ({ BALLAST_ADMIN_URL: dp.url, BALLAST_ADMIN_TOKEN: dp.token });
  const items = async (collection: string) => ((await (await dp.api(`/v1/${collection}`)).json()) as { items: unknown[] }).items;
  const waitHealthy = async (url: string) => {
    for (let i = 0; i < 100; i++) {
      const r = await sendRequests(url, 3);
      if (r.failures === 0) return;
      await new Promise((res) => setTimeout(res, 200));
    }
  };

  beforeAll(async () => {
    assertTool(pulumiTool);
    origins = await Promise.all(["origin-1", "origin-2", "origin-3"].map((name) => startOrigin(name)));
    dp = await startDataplane({ env: { BALLAST_WORKERS: "1" } });
  }, 120_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
    await dp?.stop();
    await Promise.all(origins.map((o) => o.close()));
  }, 300_000);

  it("quickstart: up serves traffic, a second preview is empty, destroy empties the balancer", async () => {
    const example = copyExample("quickstart");
    const project = example.project();
    cleanups.push(async () => {
      await project.pulumi(["destroy", "--yes", "--skip-preview", "--stack", "e2e"], { env: env(), timeoutMs: 120_000 });
      example.cleanup();
    });
    const opts = { env: env(), timeoutMs: STEP_MS };
    const listenerPort = await freePort();
    await project.ok(["stack", "init", "e2e"], opts);
    project.writeStackConfig("e2e", {
      "ballast-example-quickstart:originPorts": origins.map((o) => o.port),
      "ballast-example-quickstart:listenerPort": listenerPort,
    });
    await project.ok(["up", "--yes", "--skip-preview", "--stack", "e2e"], opts);
    const out = await project.outputs("e2e");
    expect(out.url).toBe(`http://127.0.0.1:${listenerPort}/`);

    await waitHealthy(`http://127.0.0.1:${listenerPort}`);
    const traffic = await sendRequests(`http://127.0.0.1:${listenerPort}`, 60);
    expect(traffic.failures, JSON.stringify(traffic.counts)).toBe(0);
    // Weights 3:2:1.
    expect(traffic.counts["origin-1"]).toBeGreaterThan(traffic.counts["origin-3"] ?? 0);

    await project.ok(["preview", "--expect-no-changes", "--stack", "e2e"], opts);
    await project.ok(["destroy", "--yes", "--skip-preview", "--stack", "e2e"], opts);
    for (const c of COLLECTIONS) expect(await items(c), c).toEqual([]);
  }, STEP_MS * 2);

  it("two-stacks: the app stack reaches the platform's balancer through a StackReference, and the guard protects shared objects", async () => {
    const example = copyExample("two-stacks");
    const platform = example.project("platform");
    const app = example.project("app");
    const opts = { env: env(), timeoutMs: STEP_MS };
    // The app stack gets nothing from the environment: only the StackReference.
    const appOpts = { timeoutMs: STEP_MS };
    cleanups.push(async () => {
      await app.pulumi(["destroy", "--yes", "--skip-preview", "--stack", "dev"], { timeoutMs: 120_000 });
      await platform.pulumi(["destroy", "--yes", "--skip-preview", "--stack", "dev"], { env: env(), timeoutMs: 120_000 });
      example.cleanup();
    });
    const [webPort, apiPort] = [await freePort(), await freePort()];

    await platform.ok(["stack", "init", "dev"], opts);
    platform.writeStackConfig("dev", { "ballast-platform:originPorts": origins.map((o) => o.port) });
    await platform.ok(["up", "--yes", "--skip-preview", "--stack", "dev"], opts);
    const exported = await platform.ok(["stack", "output", "--json", "--stack", "dev"], opts);
    expect(exported.stdout).not.toContain(dp.token);

    await app.ok(["stack", "init", "dev"], appOpts);
    app.writeStackConfig("dev", {
      "ballast-app:platformStack": "organization/ballast-platform/dev",
      "ballast-app:webPort": webPort,
      "ballast-app:apiPort": apiPort,
    });
    await app.ok(["up", "--yes", "--skip-preview", "--stack", "dev"], appOpts);
    await app.ok(["preview", "--expect-no-changes", "--stack", "dev"], appOpts);
    const appState = await app.ok(["stack", "export", "--stack", "dev"], appOpts);
    expect(appState.stdout).not.toContain(dp.token);

    for (const port of [webPort, apiPort]) {
      await waitHealthy(`http://127.0.0.1:${port}`);
      const traffic = await sendRequests(`http://127.0.0.1:${port}`, 12);
      expect(traffic.failures, `port ${port}: ${JSON.stringify(traffic.counts)}`).toBe(0);
    }

    // The platform cannot take its service away while the app's listener uses it.
    const early = await platform.pulumi(["destroy", "--yes", "--skip-preview", "--stack", "dev"], opts);
    expect(early.code, describeRun("platform destroy before the app", early)).not.toBe(0);
    expect(early.stdout + early.stderr).toContain("BALLAST_PROVIDER_IN_USE");

    await app.ok(["destroy", "--yes", "--skip-preview", "--stack", "dev"], appOpts);
    await platform.ok(["destroy", "--yes", "--skip-preview", "--stack", "dev"], opts);
    for (const c of COLLECTIONS) expect(await items(c), c).toEqual([]);
  }, STEP_MS * 3);
});
