// The root project's program driven step by step by the real Pulumi engine (local file backend,
// passphrase secrets) against a real data plane container (the image of scripts/image.sh, on the
// host network, state on a named volume), with origins started here on 127.0.0.1.
//
// The steps share one stack and one balancer and run in order; each asserts what the engine
// reports (preview --json steps, exit codes, messages) and what the balancer holds (admin API),
// and sends real HTTP through the listeners. Under CI a missing pulumi or docker fails the file.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImage, COLLECTIONS, removeAll, startDataplaneContainer, waitFor, type DataplaneContainer } from "../helpers/container";
import { keepRequesting, previewSteps, rootProgramProject, sendRequests, summarize, type PulumiProject } from "../helpers/e2e";
import { startOrigin, type Origin } from "../helpers/origin";
import { freePort } from "../helpers/ports";
import { assertTool, describeRun, requireTool } from "../helpers/toolchain";

const pulumiTool = requireTool("pulumi");
const dockerTool = requireTool("docker");
const skip = pulumiTool.skip || dockerTool.skip;
const why = [pulumiTool, dockerTool].filter((t) => t.skip).map((t) => t.reason).join("; ");
if (skip) console.warn(`[e2e lifecycle] skipped outside CI: ${why}`);

const STACK = "test";
const OTHER = "other";
const STEP_MS = 180_000;

type Config = Record<string, unknown>;

describe.skipIf(skip)(`root program lifecycle against a data plane container${skip ? ` (skipped: ${why})` : ""}`, () => {
  let dp: DataplaneContainer;
  let project: PulumiProject;
  let origins: Origin[] = [];
  let listenerPort = 0;
  let otherListenerPort = 0;
  const weights = [50, 30, 20];
  let servicePort = 0;

  const listenerUrl = () => `http://127.0.0.1:${listenerPort}`;
  const baseConfig = (): Config => ({
    "ballast:adminUrl": dp.url,
    "ballast:services": {
      web: {
        protocol: "http",
        port: servicePort,
        connectionDrainTimeout: 5,
        servers: origins.map((o, i) => ({ address: "127.0.0.1", port: o.port, weight: weights[i], description: o.name })),
        healthCheck: { protocol: "HTTP", path: "/health", interval: 5, timeout: 2, healthyThreshold: 1, unhealthyThreshold: 2 },
      },
    },
    "ballast:listeners": { front: { protocol: "http", port: listenerPort, service: "web" } },
  });
  const setConfig = (config: Config, stack = STACK) => project.writeStackConfig(stack, config);
  const pulumi = (args: string[], stack = STACK) => project.pulumi([...args, "--stack", stack], { timeoutMs: STEP_MS });
  const ok = (args: string[], stack = STACK) => project.ok([...args, "--stack", stack], { timeoutMs: STEP_MS });
  const up = (stack = STACK) => ok(["up", "--yes", "--skip-preview"], stack);
  const outputs = async (stack = STACK) =>
    (await project.outputs(stack)) as { services: Record<string, string>; serverGroups: Record<string, string>; listeners: Record<string, { name: string }> };
  const names = async (collection: (typeof COLLECTIONS)[number]) => (await dp.list(collection)).map((o) => o.name).sort();
  /** Waits until every server of the service has passed a health check, so traffic can be judged. */
  const healthy = async (service: string) => {
    const ready = await waitFor(async () => {
      const res = await dp.api(`/v1/backend-services/${service}/status`);
      const body = (await res.json()) as { servers: Array<{ health: string }> };
      return body.servers.length === origins.length && body.servers.every((s) => s.health === "healthy");
    }, 20_000);
    expect(ready, `servers of ${service} did not all turn healthy`).toBe(true);
  };
  const initStack = async (stack: string) => {
    await ok(["stack", "init"], stack);
    await ok(["config", "set", "--secret", "ballast:adminToken", dp.token], stack);
  };

  beforeAll(async () => {
    assertTool(pulumiTool);
    assertTool(dockerTool);
    const image = await buildImage();
    origins = await Promise.all(["origin-1", "origin-2", "origin-3"].map((name) => startOrigin(name)));
    [listenerPort, otherListenerPort, servicePort] = await Promise.all([freePort(), freePort(), freePort()]);
    dp = await startDataplaneContainer({ image });
    project = rootProgramProject();
    await initStack(STACK);
  }, 360_000);

  afterAll(async () => {
    // Best effort, bounded: leave no stack, container, volume, origin or temp dir behind.
    if (project && dp) {
      for (const stack of [OTHER, STACK]) {
        await project.pulumi(["destroy", "--yes", "--skip-preview", "--stack", stack], { timeoutMs: 120_000 }).catch(() => undefined);
      }
    }
    await removeAll();
    await Promise.all(origins.map((o) => o.close()));
    project?.cleanup();
  }, 300_000);

  it("refuses an invalid stack config in preview, listing every error, and deploys nothing", async () => {
    const bad = baseConfig() as { "ballast:services": { web: Config & { healthCheck: Config } }; "ballast:listeners": { front: Config } };
    bad["ballast:listeners"].front.port = 70000;
    bad["ballast:services"].web.healthCheck.interval = 400;
    bad["ballast:services"].web.healthCheck.path = "health";
    setConfig(bad);

    const preview = await pulumi(["preview"]);
    const out = preview.stdout + preview.stderr;
    expect(preview.code, describeRun("preview", preview)).not.toBe(0);
    expect(out).toContain("ballast:listeners.front.port: must be a whole number from 1 to 65535");
    expect(out).toContain("ballast:services.web.healthCheck.interval: must be a whole number from 5 to 300 seconds");
    expect(out).toContain("ballast:services.web.healthCheck.path: must start with /");

    const attempt = await pulumi(["up", "--yes"]);
    expect(attempt.code, describeRun("up", attempt)).not.toBe(0);
    for (const c of COLLECTIONS) expect(await dp.list(c), c).toEqual([]);
  }, STEP_MS);

  it("previews the planned creates", async () => {
    setConfig(baseConfig());
    const preview = await ok(["preview", "--json"]);
    expect(summarize(previewSteps(preview))).toEqual(["BackendService create", "HealthCheck create", "Listener create", "ServerGroup create"]);
    for (const c of COLLECTIONS) expect(await dp.list(c), c).toEqual([]);
  }, STEP_MS);

  it("creates them with up, and traffic flows through the listener to the origins by weight", async () => {
    await up();
    const out = await outputs();
    expect(await names("server-groups")).toEqual([out.serverGroups["web-pool"]]);
    expect(await names("backend-services")).toEqual([out.services.web]);
    expect(await names("listeners")).toEqual([out.listeners.front!.name]);
    expect(await dp.list("health-checks")).toHaveLength(1);

    await healthy(out.services.web!);
    const traffic = await sendRequests(listenerUrl(), 100);
    expect(traffic.failures, JSON.stringify(traffic.counts)).toBe(0);
    for (const [i, o] of origins.entries()) expect(traffic.counts[o.name] ?? 0, JSON.stringify(traffic.counts)).toBeCloseTo(weights[i]!, -1);
  }, STEP_MS);

  it("reports no changes on a second preview, and on a refresh right after up", async () => {
    await ok(["preview", "--expect-no-changes"]);
    await ok(["refresh", "--yes", "--expect-no-changes"]);
  }, STEP_MS);

  it("updates a weight in place", async () => {
    weights[2] = 60;
    setConfig(baseConfig());
    const preview = await ok(["preview", "--json"]);
    expect(summarize(previewSteps(preview))).toEqual(["ServerGroup update"]);
    const groupBefore = (await dp.list("server-groups"))[0]!;
    await up();
    const groupAfter = (await dp.list("server-groups"))[0]!;
    expect(groupAfter.name).toBe(groupBefore.name);
    expect(groupAfter.version).toBe(groupBefore.version + 1);
    expect((groupAfter.servers as Array<{ weight: number }>).map((s) => s.weight)).toEqual(weights);
  }, STEP_MS);

  it("replaces a service whose port changes, while its listener keeps serving", async () => {
    const before = await outputs();
    servicePort = await freePort();
    setConfig(baseConfig());
    const preview = await ok(["preview", "--json"]);
    const steps = summarize(previewSteps(preview));
    expect(steps).toContain("BackendService replace");
    expect(steps).toContain("Listener update");
    expect(steps).not.toContain("Listener replace");

    await healthy(before.services.web!);
    const load = keepRequesting(listenerUrl());
    let traffic;
    try {
      await up();
    } finally {
      traffic = await load.stop();
    }
    expect(traffic.total).toBeGreaterThan(0);
    expect(traffic.failures, `answers during the replacement: ${JSON.stringify(traffic.counts)}`).toBe(0);

    const after = await outputs();
    expect(after.services.web).not.toBe(before.services.web);
    expect(after.listeners.front!.name).toBe(before.listeners.front!.name);
    expect(await names("backend-services")).toEqual([after.services.web]);
    const svc = (await dp.list("backend-services"))[0]!;
    expect(svc.port).toBe(servicePort);
  }, STEP_MS);

  it("refuses to delete a service that a listener of another stack still uses, naming it", async () => {
    const mine = await outputs();
    await initStack(OTHER);
    setConfig({ "ballast:adminUrl": dp.url, "ballast:listeners": { borrowed: { protocol: "http", port: otherListenerPort, service: mine.services.web } } }, OTHER);
    await up(OTHER);
    const theirs = await outputs(OTHER);
    const borrowed = theirs.listeners.borrowed!.name;

    setConfig({ "ballast:adminUrl": dp.url });
    const removal = await pulumi(["up", "--yes", "--skip-preview"]);
    const out = removal.stdout + removal.stderr;
    expect(removal.code, describeRun("up removing the service", removal)).not.toBe(0);
    expect(out).toContain("BALLAST_PROVIDER_IN_USE");
    expect(out).toContain(`backend service '${mine.services.web}' is used by listeners '${borrowed}'`);
    expect(await names("backend-services")).toEqual([mine.services.web]);
    expect(await names("listeners")).toEqual([borrowed]);

    // The other stack lets go; this stack's declared state comes back.
    await ok(["destroy", "--yes", "--skip-preview"], OTHER);
    await ok(["stack", "rm", "--yes"], OTHER);
    setConfig(baseConfig());
    await up();
    await ok(["preview", "--expect-no-changes"]);
    await healthy(mine.services.web!);
    const traffic = await sendRequests(listenerUrl(), 10);
    expect(traffic.failures, JSON.stringify(traffic.counts)).toBe(0);
  }, STEP_MS * 2);

  it("shows an out-of-band change as drift on refresh, and the next up restores the declared state", async () => {
    const group = (await dp.list("server-groups"))[0]!;
    const drifted = { type: "virtual", servers: [{ address: "127.0.0.1", port: origins[0]!.port, weight: 7 }] };
    const put = await dp.api(`/v1/server-groups/${group.name}`, { method: "PUT", body: JSON.stringify(drifted) });
    expect(put.status, await put.clone().text()).toBe(200);

    // --preview-only refuses PULUMI_SKIP_CONFIRMATIONS (it counts as --yes).
    const check = await project.pulumi(["refresh", "--preview-only", "--expect-no-changes", "--diff", "--stack", STACK], {
      timeoutMs: STEP_MS,
      env: { PULUMI_SKIP_CONFIRMATIONS: undefined },
    });
    expect(check.code, describeRun("refresh --expect-no-changes after drift", check)).not.toBe(0);
    expect(check.stdout, describeRun("refresh --preview-only", check)).toMatch(/ServerGroup/);
    expect(check.stdout).toMatch(/weight\s*:\s*\d+ => 7/);

    await ok(["refresh", "--yes"]);
    const plan = await ok(["preview", "--json"]);
    expect(summarize(previewSteps(plan))).toEqual(["ServerGroup update"]);
    await up();
    const restored = (await dp.list("server-groups"))[0]!;
    expect((restored.servers as Array<{ weight: number }>).map((s) => s.weight)).toEqual(weights);
    await ok(["preview", "--expect-no-changes"]);
  }, STEP_MS);

  it("recreates an object deleted out of band with refresh and up", async () => {
    const { listeners } = await outputs();
    const name = listeners.front!.name;
    const del = await dp.api(`/v1/listeners/${name}`, { method: "DELETE" });
    expect(del.status).toBe(204);

    const refresh = await ok(["refresh", "--yes"]);
    expect(refresh.stdout).toMatch(/Listener\s+front\s+deleted/);
    const plan = await ok(["preview", "--json"]);
    expect(summarize(previewSteps(plan))).toEqual(["Listener create"]);
    await up();
    expect(await dp.list("listeners")).toHaveLength(1);
    await healthy((await outputs()).services.web!);
    const traffic = await sendRequests(listenerUrl(), 10);
    expect(traffic.failures, JSON.stringify(traffic.counts)).toBe(0);
  }, STEP_MS);

  it("takes over an object created out of band only with adopt: true", async () => {
    const created = await dp.api("/v1/server-groups", {
      method: "POST",
      body: JSON.stringify({ name: "adopted-pool", type: "virtual", servers: [{ address: "127.0.0.1", port: origins[2]!.port }] }),
    });
    expect(created.status).toBe(201);
    const declared = { name: "adopted-pool", type: "virtual", servers: [{ address: "127.0.0.1", port: origins[0]!.port, weight: 10 }] };

    setConfig({ ...baseConfig(), "ballast:serverGroups": { spare: declared } });
    const clash = await pulumi(["up", "--yes", "--skip-preview"]);
    expect(clash.code, describeRun("up without adopt", clash)).not.toBe(0);
    expect(clash.stdout + clash.stderr).toContain("adopt: true");

    setConfig({ ...baseConfig(), "ballast:serverGroups": { spare: { ...declared, adopt: true } } });
    await up();
    const adopted = (await dp.list("server-groups")).find((g) => g.name === "adopted-pool")!;
    expect(adopted.servers).toEqual([{ address: "127.0.0.1", port: origins[0]!.port, weight: 10 }]);
    expect(adopted.version).toBe(2);
    await ok(["preview", "--expect-no-changes"]);
  }, STEP_MS);

  it("round-trips stack export and import with the secrets still encrypted", async () => {
    const exported = await ok(["stack", "export"]);
    expect(exported.stdout).not.toContain(dp.token);
    expect(exported.stdout).toContain("4dabf18193072939515e22adb298388d"); // Pulumi's secret signature
    expect(exported.stdout).toContain("ciphertext");
    expect(readFileSync(join(project.dir, `Pulumi.${STACK}.yaml`), "utf8")).not.toContain(dp.token);

    const file = join(project.dir, "..", "export.json");
    writeFileSync(file, exported.stdout);
    await ok(["stack", "import", "--file", file]);
    await ok(["preview", "--expect-no-changes"]);
  }, STEP_MS);

  it("keeps its configuration across a docker restart of the data plane container", async () => {
    const before = await dp.snapshot();
    const id = dp.id;
    await dp.restart();
    expect(dp.id).toBe(id);
    expect(await dp.snapshot()).toEqual(before);
    await ok(["preview", "--expect-no-changes"]);
    await healthy((await outputs()).services.web!);
    const traffic = await sendRequests(listenerUrl(), 10);
    expect(traffic.failures, JSON.stringify(traffic.counts)).toBe(0);
  }, STEP_MS);

  it("leaves the data plane empty after destroy", async () => {
    await ok(["destroy", "--yes", "--skip-preview"]);
    for (const c of COLLECTIONS) expect(await dp.list(c), c).toEqual([]);
  }, STEP_MS);
});
