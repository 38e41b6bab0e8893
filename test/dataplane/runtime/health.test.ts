import type http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { startOrigin, type Origin } from "../../helpers/origin";
import {
  admin,
  freeTcpPorts,
  keepAliveAgent,
  runLoad,
  startRuntime,
  stopRuntime,
  sumOf,
  waitFor,
  waitForWorkers,
  type RuntimeDataplane,
  type ServerStatusLine,
} from "../../helpers/runtime-harness";

/**
 * Health checking through the process: the checkers run in the primary, the health table reaches
 * both workers, a dead server is taken out and a restarted one brought back.
 */

const dataplanes: RuntimeDataplane[] = [];
const origins: Origin[] = [];
const agents: http.Agent[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) a.destroy();
  await Promise.all(dataplanes.splice(0).map((dp) => stopRuntime(dp)));
  await Promise.all(origins.splice(0).map((o) => o.close()));
});

function conns(n: number): http.Agent[] {
  return Array.from({ length: n }, () => {
    const a = keepAliveAgent();
    agents.push(a);
    return a;
  });
}

describe("runtime: health checks", () => {
  it(
    "an HTTP check takes a killed server out (no 502 afterwards, status unhealthy with a reason) and brings it back once restarted",
    async () => {
      const a = await startOrigin("a");
      const b = await startOrigin("b");
      origins.push(a, b);
      const dp = await startRuntime(2);
      dataplanes.push(dp);
      await waitForWorkers(dp, 2);
      const [port] = await freeTcpPorts(1);
      const api = admin(dp);
      await api.create("server-groups", {
        name: "pool",
        type: "virtual",
        servers: [
          { address: "127.0.0.1", port: a.port, weight: 1 },
          { address: "127.0.0.1", port: b.port, weight: 1 },
        ],
      });
      await api.create("backend-services", { name: "web", protocol: "http", port: 80, serverGroup: "pool" });
      await api.create("listeners", { name: "front", protocol: "http", port, backendService: "web" });
      await api.create("health-checks", {
        name: "web-check",
        backendService: "web",
        protocol: "HTTP",
        path: "/health",
        interval: 5,
        timeout: 2,
        unhealthyThreshold: 1,
        healthyThreshold: 2,
      });
      const lineOf = (servers: ServerStatusLine[], o: Origin) => servers.find((s) => s.port === o.port);
      const statusOf = async (o: Origin) => lineOf(await api.status("web"), o);

      await waitFor("both servers checked healthy", async () => {
        const s = await api.status("web");
        return s.every((x) => x.health === "healthy" && x.lastCheck?.ok) ? s : undefined;
      }, 20_000, 200);
      const probesSeen = b.requests.filter((r) => r.url === "/health");
      expect(probesSeen.length).toBeGreaterThan(0);
      expect(probesSeen[0]!.headers["user-agent"]).toBe("ballast-health-check");

      const warm = await runLoad({ port: port!, agents: conns(4), total: 100, maxMs: 30_000 });
      expect(warm.failures).toEqual([]);
      expect(warm.byBody.get("b")).toBeGreaterThan(20);

      await b.kill();
      const out = await waitFor("b reported unhealthy", async () => {
        const s = await statusOf(b);
        return s?.health === "unhealthy" ? s : undefined;
      }, 20_000, 200);
      expect(out.lastCheck?.ok).toBe(false);
      expect(out.lastCheck?.reason.length).toBeGreaterThan(0);
      expect(out.effectiveWeight).toBe(0);
      expect((await statusOf(a))?.health).toBe("healthy");

      // Once it is out, no request is sent its way: every one is answered by a.
      const during = await runLoad({ port: port!, agents: conns(4), total: 300, maxMs: 60_000 });
      expect(during.failures, "requests after b was taken out").toEqual([]);
      expect(Object.fromEntries(during.byBody)).toEqual({ a: 300 });
      const m = await api.metrics();
      expect(sumOf(m, "ballast_health_transitions_total", { service: "web", server: `127.0.0.1:${b.port}`, to: "unhealthy" })).toBe(1);
      expect(sumOf(m, "ballast_http_requests_total", { code: "502" })).toBe(0);

      await b.restart();
      const back = await waitFor("b healthy again", async () => {
        const s = await statusOf(b);
        return s?.health === "healthy" ? s : undefined;
      }, 30_000, 200);
      expect(back.lastCheck?.ok).toBe(true);
      expect(back.effectiveWeight).toBe(1);
      const servedBefore = b.requests.filter((r) => r.url === "/").length;
      const after = await runLoad({ port: port!, agents: conns(4), total: 200, maxMs: 60_000 });
      expect(after.failures).toEqual([]);
      expect(after.byBody.get("b")).toBeGreaterThan(60);
      expect(after.byBody.get("a")).toBeGreaterThan(60);
      expect(b.requests.filter((r) => r.url === "/").length - servedBefore).toBe(after.byBody.get("b"));
      expect(dp.output()).toContain('"server unhealthy"');
      expect(dp.output()).toContain('"server healthy"');
    },
    120_000,
  );
});
