// The data plane image as scripts/image.sh builds it: small, unprivileged, with a working
// HEALTHCHECK, a clean SIGTERM, and state on a named volume that survives a restart and a new
// container. Under CI a missing docker fails the file.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImage, removeAll, startDataplaneContainer, waitFor, type DataplaneContainer } from "../helpers/container";
import { assertTool, BASE_IMAGE, describeRun, requireTool, runDocker } from "../helpers/toolchain";

const dockerTool = requireTool("docker");
if (dockerTool.skip) console.warn(`[e2e image] skipped outside CI: ${dockerTool.reason}`);

/** What the bundle may add to the base image (node and its libraries). */
const MAX_BUNDLE_BYTES = 20_000_000;

async function imageField(image: string, format: string): Promise<string> {
  const r = await runDocker(["image", "inspect", "--format", format, image]);
  if (r.code !== 0) throw new Error(describeRun("docker image inspect", r));
  return r.stdout.trim();
}

describe.skipIf(dockerTool.skip)(`data plane image${dockerTool.skip ? ` (skipped: ${dockerTool.reason})` : ""}`, () => {
  let image = "";

  beforeAll(async () => {
    assertTool(dockerTool);
    image = await buildImage();
  }, 360_000);

  afterAll(async () => {
    await removeAll();
  }, 120_000);

  it("adds little to its base image and runs as the unprivileged user 1000", async () => {
    const size = Number(await imageField(image, "{{.Size}}"));
    expect(await imageField(image, '{{index .Config.Labels "org.opencontainers.image.title"}}')).toBe("ballast-dataplane");
    const baseSize = Number(await imageField(BASE_IMAGE, "{{.Size}}").catch(() => "0"));
    if (baseSize > 0) expect(size - baseSize).toBeLessThan(MAX_BUNDLE_BYTES);
    expect(size).toBeLessThan(300_000_000);
    expect(await imageField(image, "{{.Config.User}}")).toBe("1000:1000");

    const dp = await startDataplaneContainer({ image });
    const id = await runDocker(["exec", dp.id, "node", "-p", "process.getuid() + ':' + process.getgid()"]);
    expect(id.stdout.trim()).toBe("1000:1000");
  }, 120_000);

  it("reports healthy through its HEALTHCHECK on /healthz", async () => {
    expect(await imageField(image, "{{json .Config.Healthcheck.Test}}")).toContain("healthcheck.js");
    // The image's check command, probed every second instead of every 10 s to keep the test short.
    const dp = await startDataplaneContainer({ image, runArgs: ["--health-interval", "1s", "--health-start-period", "1s"] });
    const healthy = await waitFor(async () => (await dp.inspect("{{.State.Health.Status}}")) === "healthy", 30_000, 500);
    expect(healthy, await dp.inspect("{{json .State.Health}}")).toBe(true);
  }, 120_000);

  it("exits 0 on SIGTERM (docker stop) within the shutdown grace period", async () => {
    const dp = await startDataplaneContainer({ image, env: { BALLAST_SHUTDOWN_GRACE_MS: "8000" } });
    const stop = await runDocker(["stop", "--time", "20", dp.id], 60_000);
    expect(stop.code, describeRun("docker stop", stop)).toBe(0);
    // Exit code 0 rules out docker's SIGKILL after 20 s (137) and the grace period's watchdog (1);
    // the logs say it shut down in order, not that it ran out of time.
    expect(await dp.inspect("{{.State.ExitCode}}")).toBe("0");
    expect(await dp.inspect("{{.State.OOMKilled}}")).toBe("false");
    const logs = await dp.logs();
    expect(logs).toContain("shutting down");
    expect(logs).toContain("primary closed");
    expect(logs).not.toContain("did not finish in time");
  }, 120_000);

  it("keeps its state on the named volume across docker restart and a new container", async () => {
    const dp = await startDataplaneContainer({ image });
    const group = { name: "kept", type: "virtual", servers: [{ address: "10.0.0.1", port: 8080, weight: 7 }] };
    const created = await dp.api("/v1/server-groups", { method: "POST", body: JSON.stringify(group) });
    expect(created.status, await created.clone().text()).toBe(201);
    const stored = await dp.list("server-groups");

    await dp.restart();
    expect(await dp.list("server-groups")).toEqual(stored);

    const oldId = dp.id;
    await dp.recreate();
    expect(dp.id).not.toBe(oldId);
    expect(await dp.list("server-groups")).toEqual(stored);
  }, 120_000);
});
