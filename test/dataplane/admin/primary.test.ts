import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../dataplane/log";
import { Metrics } from "../../../dataplane/metrics";
import { StartupError, startPrimary, type Primary } from "../../../dataplane/primary";
import { makeTempDir } from "../../helpers/dataplane-process";
import { body } from "../../model/fixtures";
import { FakeRuntime } from "../store/fake-runtime";
import { expectError, expectJson, json } from "./api-helpers";

/** The primary in-process with a fake runtime: what only a runtime can make happen. */

const TOKEN = "in-process-token-0123456789";
const opened: Primary[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((p) => p.close(0)));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function primary(runtime = new FakeRuntime(), stateDir?: string) {
  const dir = stateDir ?? makeTempDir("ballast-primary-");
  if (!stateDir) dirs.push(dir);
  const p = await startPrimary({ adminAddr: "127.0.0.1:0", token: TOKEN, stateDir: dir, log: silentLogger(), runtime });
  opened.push(p);
  const api = (path: string, init: RequestInit = {}) =>
    fetch(p.url + path, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${TOKEN}` } });
  return { p, runtime, dir, api, stateBytes: () => readFileSync(join(dir, "state.json")) };
}

async function withService(api: (path: string, init?: RequestInit) => Promise<Response>) {
  await expectJson(await api("/v1/server-groups", json("POST", body("virtualGroup"))), 201);
  await expectJson(await api("/v1/backend-services", json("POST", body("httpService", { serverGroup: "pool" }))), 201);
}

describe("startPrimary", () => {
  it("gives the runtime the loaded configuration before the admin API opens", async () => {
    const first = await primary();
    await withService(first.api);
    await first.p.close(0);
    const runtime = new FakeRuntime();
    await primary(runtime, first.dir);
    expect(runtime.applied).toHaveLength(1);
    expect(Object.keys(runtime.live?.services ?? {})).toEqual(["web"]);
  });

  it("409 port_unavailable when the runtime cannot bind a listener's port; nothing changes", async () => {
    const { runtime, api, stateBytes } = await primary();
    await withService(api);
    const before = stateBytes();
    runtime.busyPorts.add(80);
    const error = await expectError(await api("/v1/listeners", json("POST", body("httpListener"))), 409, "port_unavailable");
    expect(error.message).toContain("front");
    expect(error.message).toContain("80");
    expect(error.issues?.[0]?.path).toBe("port");
    expect(stateBytes()).toEqual(before);
    expect((await expectJson<{ items: unknown[] }>(await api("/v1/listeners"), 200)).items).toEqual([]);
  });

  it("500 state_write_failed when the state file cannot be written; nothing changes", async () => {
    const { api, dir } = await primary();
    await withService(api);
    rmSync(dir, { recursive: true, force: true });
    await expectError(await api("/v1/backend-services", json("POST", body("tcpService"))), 500, "state_write_failed");
    await expectError(await api("/v1/backend-services/db"), 404, "not_found");
  });

  it("status comes from the runtime", async () => {
    const { runtime, api } = await primary();
    await withService(api);
    runtime.status = [
      {
        address: "10.0.0.1",
        port: 8080,
        weight: 100,
        effectiveWeight: 40,
        health: "healthy",
        lastCheck: { at: "2026-01-01T00:00:00.000Z", ok: true, reason: "200" },
        activeConnections: 2,
        activeRequests: 1,
      },
    ];
    expect(await expectJson(await api("/v1/backend-services/web/status"), 200)).toEqual({ service: "web", servers: runtime.status });
  });

  it("/metrics merges the runtime's metrics, and still renders when the runtime cannot answer", async () => {
    const runtime = new FakeRuntime();
    const worker = new Metrics();
    worker.inc("ballast_requests_total", "Requests.", { service: "web" }, 5);
    runtime.dumps = [worker.dump(), worker.dump()];
    const { p } = await primary(runtime);
    expect(await (await fetch(`${p.url}/metrics`)).text()).toMatch(/^ballast_requests_total\{service="web"\} 10$/m);
    runtime.metrics = async () => {
      throw new Error("workers gone");
    };
    const res = await fetch(`${p.url}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("ballast_config_generation");
  });

  it("close stops the admin API and closes the runtime with the grace period", async () => {
    const { p, runtime } = await primary();
    const t0 = Date.now();
    await p.close(60_000);
    const took = Date.now() - t0;
    // The runtime gets what is left of the grace period once the admin API has stopped: never more
    // than the whole, never less than the whole minus the time close took.
    expect(runtime.closedWith).toBeLessThanOrEqual(60_000);
    expect(runtime.closedWith).toBeGreaterThanOrEqual(60_000 - took);
    await expect(fetch(`${p.url}/healthz`)).rejects.toThrow();
  });

  it("refuses to start when the stored configuration cannot be made live", async () => {
    const first = await primary();
    await withService(first.api);
    await expectJson(await first.api("/v1/listeners", json("POST", body("httpListener"))), 201);
    await first.p.close(0);
    const runtime = new FakeRuntime();
    runtime.busyPorts.add(80);
    const err = await startPrimary({ adminAddr: "127.0.0.1:0", token: TOKEN, stateDir: first.dir, log: silentLogger(), runtime }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toContain("port 80");
  });

  it("refuses a bad admin address", async () => {
    const dir = makeTempDir("ballast-primary-");
    dirs.push(dir);
    await expect(startPrimary({ adminAddr: "nowhere", token: TOKEN, stateDir: dir, log: silentLogger(), runtime: new FakeRuntime() })).rejects.toThrow(
      /host:port/,
    );
  });
});
