import { request } from "undici";
import { afterEach, describe, expect, test } from "vitest";
import { HealthManager } from "../../../../dataplane/health/health-manager";
import { silentLogger } from "../../../../dataplane/log";
import { Metrics } from "../../../../dataplane/metrics";
import { startOrigin, type Origin } from "../../../helpers/origin";
import { Harness, eventually, key, snapshotOf, type Cfg } from "./harness";

/**
 * Health checks driving a real Engine, checked by what happens (how many failed probes take a server
 * out, that it then gets no traffic, that clients never see an error), not by how soon: the exact
 * timing is health-manager.test.ts's, on a fake clock. The model's smallest interval is 5 s, so the HealthManager
 * runs with its test-only `timeScale`: 0.05 makes interval 5 s → 250 ms and timeout 2 s → 100 ms.
 */
const SCALE = 0.05;
const INTERVAL_MS = 5000 * SCALE;
const UNHEALTHY = 2;
const HEALTHY = 3;

describe("health checks driving traffic", () => {
  let h: Harness;
  let mgr: HealthManager;
  const origins: Origin[] = [];
  afterEach(async () => {
    mgr?.close();
    await h?.close();
    await Promise.all(origins.splice(0).map((o) => o.close()));
  });

  async function setup(check: Cfg["check"]) {
    const os = await Promise.all(["a", "b"].map((n) => startOrigin(n)));
    origins.push(...os);
    const [a, b] = os as [Origin, Origin];
    h = new Harness();
    mgr = new HealthManager({ log: silentLogger(), metrics: new Metrics(), timeScale: SCALE });
    mgr.onChange((t) => h.engine.setHealth(t));
    const snapshot = snapshotOf({ servers: [{ port: a.port }, { port: b.port }], check });
    mgr.apply(snapshot);
    h.engine.setHealth(mgr.table());
    await h.engine.apply(snapshot);
    expect(await eventually(() => mgr.table().web?.[key(a.port)]?.status === "healthy" && mgr.table().web?.[key(b.port)]?.status === "healthy")).toBe(true);
    return { a, b };
  }

  /** Client traffic until stopped: counts answers per origin and non-200 statuses. */
  function traffic() {
    const agent = h.agent();
    const counts: Record<string, number> = {};
    const statuses: number[] = [];
    let running = true;
    const loop = (async () => {
      for (let i = 0; running && i < 100_000; i++) {
        const res = await request(h.url("/"), { dispatcher: agent });
        const body = await res.body.text();
        if (res.statusCode !== 200) statuses.push(res.statusCode);
        else counts[body] = (counts[body] ?? 0) + 1;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    return {
      counts,
      statuses,
      stop: async () => {
        running = false;
        await loop;
      },
    };
  }

  test("a server failing its HTTP check leaves after unhealthyThreshold failed probes, gets no request after, and returns after healthyThreshold successes", async () => {
    const { a, b } = await setup({ protocol: "HTTP", path: "/health", interval: 5, timeout: 2, unhealthyThreshold: UNHEALTHY, healthyThreshold: HEALTHY });
    const t = traffic();
    // The probes b had received when its status last changed (counted in the change callback).
    const probes = () => b.requests.filter((r) => r.url === "/health").length;
    const probesAt: Record<string, number> = {};
    const stopWatching = mgr.onChange((table) => {
      const status = table.web?.[key(b.port)]?.status;
      if (status && probesAt[status] === undefined) probesAt[status] = probes();
    });
    try {
      await eventually(() => (t.counts.b ?? 0) > 5);
      delete probesAt.healthy;
      const failedFrom = probes();
      b.healthStatus = 500; // b still serves traffic, but its check fails
      expect(await eventually(() => mgr.table().web?.[key(b.port)]?.status === "unhealthy", 30_000)).toBe(true);
      expect(probesAt.unhealthy! - failedFrom, "failed probes before b left").toBe(UNHEALTHY);
      await new Promise((r) => setTimeout(r, 50)); // requests already in flight finish
      const bTraffic = () => b.requests.filter((r) => r.url === "/").length;
      const before = bTraffic();
      await new Promise((r) => setTimeout(r, INTERVAL_MS * 2));
      expect(bTraffic()).toBe(before);
      expect(mgr.status("web", key(b.port))).toMatchObject({ health: "unhealthy", lastCheck: { ok: false, reason: "status 500 not in 2xx,3xx" } });

      const recoverAt = Date.now();
      const recoveredFrom = probes();
      b.healthStatus = 200;
      expect(await eventually(() => mgr.table().web?.[key(b.port)]?.status === "healthy", 30_000)).toBe(true);
      expect(probesAt.healthy! - recoveredFrom, "successful probes before b returned").toBe(HEALTHY);
      // Needs healthyThreshold consecutive successes: at least (healthyThreshold - 1) intervals.
      expect(Date.now() - recoverAt).toBeGreaterThanOrEqual(INTERVAL_MS * (HEALTHY - 1) - 50);
      expect(await eventually(() => bTraffic() > before, 30_000)).toBe(true);
      expect(t.statuses).toEqual([]);
      expect(a.requests.length).toBeGreaterThan(0);
    } finally {
      stopWatching();
      await t.stop();
    }
  });

  test("a server killed mid-run leaves on its failed checks with no failed client request, and returns when restarted", async () => {
    const { b } = await setup({ protocol: "TCP", interval: 5, timeout: 2, unhealthyThreshold: UNHEALTHY, healthyThreshold: HEALTHY });
    const t = traffic();
    try {
      await eventually(() => (t.counts.b ?? 0) > 5);
      await b.kill();
      expect(await eventually(() => mgr.table().web?.[key(b.port)]?.status === "unhealthy", 30_000)).toBe(true);
      // Out because its checks failed (the reason a TCP probe gives), not for anything else.
      expect(mgr.status("web", key(b.port))).toMatchObject({ health: "unhealthy", lastCheck: { ok: false, reason: "connection refused" } });
      const served = t.counts.b ?? 0;
      await b.restart();
      expect(await eventually(() => mgr.table().web?.[key(b.port)]?.status === "healthy", 30_000)).toBe(true);
      expect(await eventually(() => (t.counts.b ?? 0) > served, 30_000)).toBe(true);
      // Refused connections were retried on a: clients never saw an error.
      expect(t.statuses).toEqual([]);
    } finally {
      await t.stop();
    }
  });
});
