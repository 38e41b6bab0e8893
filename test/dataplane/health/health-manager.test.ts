import { afterEach, describe, expect, test } from "vitest";
import { buildSnapshot, serverKey, type Snapshot } from "../../../dataplane/config/snapshot";
import { HealthManager } from "../../../dataplane/health/health-manager";
import type { HealthTable } from "../../../dataplane/engine/core/server-health";
import type { Probe, ProbeResult } from "../../../dataplane/health/probe";
import { silentLogger } from "../../../dataplane/log";
import { Metrics } from "../../../dataplane/metrics";
import { BackendService, HealthCheck, ServerGroup, type HealthCheckInput } from "../../../model";
import { FakeClock, settle } from "../../helpers/fake-clock";

/** A probe whose answer per address the test sets; "hang" never answers (until aborted). */
class ScriptedProbe {
  readonly answers = new Map<string, ProbeResult | "hang">();
  readonly calls: { address: string; port: number; signal: AbortSignal }[] = [];
  readonly probe: Probe = (target, _check, signal) => {
    this.calls.push({ ...target, signal });
    const a = this.answers.get(target.address) ?? { ok: true, reason: "ok" };
    if (a !== "hang") return Promise.resolve(a);
    return new Promise((resolve) => signal.addEventListener("abort", () => resolve({ ok: false, reason: String((signal.reason as Error).message) })));
  };
  set(address: string, up: boolean | "hang") {
    this.answers.set(address, up === "hang" ? "hang" : up ? { ok: true, reason: "ok" } : { ok: false, reason: "connection refused" });
  }
  callsTo(address: string) {
    return this.calls.filter((c) => c.address === address).length;
  }
}

interface Cfg {
  servers: { address: string; weight?: number; role?: "primary" | "secondary" }[];
  check?: Partial<HealthCheckInput> | null;
  slowStart?: number;
  availability?: boolean;
}

let generation = 0;
function snapshot(cfg: Cfg): Snapshot {
  const group = ServerGroup.parse(
    cfg.availability ? { name: "g", type: "availability", servers: cfg.servers } : { name: "g", type: "virtual", servers: cfg.servers },
  );
  const svc = BackendService.parse({ name: "web", protocol: "http", port: 80, serverGroup: "g", ...(cfg.slowStart ? { slowStart: cfg.slowStart } : {}) });
  const checks =
    cfg.check === null
      ? []
      : [HealthCheck.parse({ name: "hc", backendService: "web", protocol: "TCP", interval: 5, timeout: 2, healthyThreshold: 3, unhealthyThreshold: 2, ...cfg.check })];
  return buildSnapshot({ listeners: [], backendServices: [svc], serverGroups: [group], healthChecks: checks }, ++generation);
}

const k = (address: string) => serverKey(address, 80);

describe("HealthManager", () => {
  let mgr: HealthManager | undefined;
  afterEach(() => mgr?.close());

  function setup() {
    const clock = new FakeClock();
    const probe = new ScriptedProbe();
    const metrics = new Metrics();
    const tables: HealthTable[] = [];
    const logs: unknown[] = [];
    const log = silentLogger();
    log.warn = ((obj: unknown, msg: string) => void logs.push({ obj, msg })) as unknown as typeof log.warn;
    mgr = new HealthManager({ log, metrics, clock, probe: probe.probe });
    mgr.onChange((t) => tables.push(t));
    return { clock, probe, metrics, tables, logs, mgr };
  }

  test("probes a new server at once; it is out until its first success, then in", async () => {
    const { clock, probe, mgr } = setup();
    probe.set("a", true);
    mgr.apply(snapshot({ servers: [{ address: "a" }] }));
    expect(mgr.table().web?.[k("a")]?.status).toBe("unhealthy"); // pending: no traffic before the first probe
    await settle();
    expect(probe.callsTo("a")).toBe(1);
    expect(mgr.table().web?.[k("a")]?.status).toBe("healthy");
    await clock.advance(5000);
    expect(probe.callsTo("a")).toBe(2); // every interval
  });

  test("a new server failing its first probe needs healthyThreshold successes", async () => {
    const { clock, probe, mgr } = setup();
    probe.set("a", false);
    mgr.apply(snapshot({ servers: [{ address: "a" }] }));
    await settle();
    expect(mgr.table().web?.[k("a")]?.status).toBe("unhealthy");
    probe.set("a", true);
    await clock.advance(5000);
    await clock.advance(5000);
    expect(mgr.table().web?.[k("a")]?.status).toBe("unhealthy");
    await clock.advance(5000);
    expect(mgr.table().web?.[k("a")]?.status).toBe("healthy");
  });

  test("a healthy server goes out after unhealthyThreshold failures: logged, counted, onChange", async () => {
    const { clock, probe, mgr, metrics, tables, logs } = setup();
    mgr.apply(snapshot({ servers: [{ address: "a" }] }));
    await settle();
    probe.set("a", false);
    await clock.advance(5000);
    expect(mgr.table().web?.[k("a")]?.status).toBe("healthy");
    await clock.advance(5000);
    expect(mgr.table().web?.[k("a")]?.status).toBe("unhealthy");
    expect(tables.at(-1)?.web?.[k("a")]?.status).toBe("unhealthy");
    expect(logs).toContainEqual({ obj: { service: "web", server: "a:80", reason: "connection refused" }, msg: "server unhealthy" });
    const text = metrics.render();
    expect(text).toContain('ballast_health_transitions_total{server="a:80",service="web",to="unhealthy"} 1');
    expect(text).toContain('ballast_health_transitions_total{server="a:80",service="web",to="healthy"} 1');
    expect(mgr.status("web", k("a"))).toMatchObject({ health: "unhealthy", lastCheck: { ok: false, reason: "connection refused" } });
    expect(new Date(mgr.status("web", k("a"))!.lastCheck!.at).getTime()).toBe(clock.now());
  });

  test("a probe never outlives the timeout: it is aborted and counts as a failure", async () => {
    const { clock, probe, mgr } = setup();
    probe.set("a", "hang");
    mgr.apply(snapshot({ servers: [{ address: "a" }] }));
    await settle();
    expect(probe.calls[0]!.signal.aborted).toBe(false);
    await clock.advance(1999);
    expect(probe.calls[0]!.signal.aborted).toBe(false);
    await clock.advance(1);
    expect(probe.calls[0]!.signal.aborted).toBe(true);
    expect(mgr.status("web", k("a"))?.lastCheck?.reason).toBe("timeout after 2s");
    // The next probe starts one interval after the previous one started.
    await clock.advance(2999);
    expect(probe.callsTo("a")).toBe(1);
    await clock.advance(1);
    expect(probe.callsTo("a")).toBe(2);
  });

  test("servers without a health check are unchecked (absent from the table)", () => {
    const { mgr, probe } = setup();
    mgr.apply(snapshot({ servers: [{ address: "a" }], check: null }));
    expect(mgr.table()).toEqual({});
    expect(mgr.status("web", k("a"))).toEqual({ health: "unchecked", lastCheck: null, since: expect.any(Number) });
    expect(probe.calls).toHaveLength(0);
  });

  test("records the time of each server's last change of state: added, health turned, weight to or from 0", async () => {
    const { clock, probe, mgr } = setup();
    probe.set("a", true);
    const added = clock.now();
    mgr.apply(snapshot({ servers: [{ address: "a" }] }));
    await settle();
    expect(mgr.status("web", k("a"))?.since).toBe(added); // first probe: pending → healthy at once
    await clock.advance(5000);
    mgr.apply(snapshot({ servers: [{ address: "a", weight: 50 }] }));
    expect(mgr.status("web", k("a"))?.since).toBe(added); // a weight change that keeps it serving is no change of state
    mgr.apply(snapshot({ servers: [{ address: "a", weight: 0 }] }));
    expect(mgr.status("web", k("a"))?.since).toBe(added + 5000);
    probe.set("a", false);
    await clock.advance(5000);
    await clock.advance(5000);
    expect(mgr.status("web", k("a"))?.health).toBe("unhealthy");
    expect(mgr.status("web", k("a"))?.since).toBe(added + 15000);
    expect(mgr.status("web", k("a"))?.lastCheck).toMatchObject({ ok: false, reason: "connection refused", ms: 0 });
  });

  test("availability groups: only the primary is checked", async () => {
    const { mgr, probe } = setup();
    mgr.apply(snapshot({ availability: true, servers: [{ address: "p", role: "primary" }, { address: "s", role: "secondary" }] }));
    await settle();
    expect(probe.callsTo("p")).toBe(1);
    expect(probe.callsTo("s")).toBe(0);
    expect(mgr.table().web?.[k("s")]).toBeUndefined();
  });

  test("apply adds and removes checkers live; a removed server's loop stops", async () => {
    const { clock, probe, mgr } = setup();
    mgr.apply(snapshot({ servers: [{ address: "a" }, { address: "b" }] }));
    await settle();
    mgr.apply(snapshot({ servers: [{ address: "a" }] }));
    await clock.advance(20_000);
    expect(probe.callsTo("b")).toBe(1);
    expect(probe.callsTo("a")).toBe(5);
    expect(mgr.table().web?.[k("b")]).toBeUndefined();
    expect(clock.pending).toBe(1);
  });

  test("a changed check restarts the checkers (probe at once) and keeps current status", async () => {
    const { clock, probe, mgr } = setup();
    mgr.apply(snapshot({ servers: [{ address: "a" }] }));
    await settle();
    probe.set("a", false);
    mgr.apply(snapshot({ servers: [{ address: "a" }], check: { interval: 7 } }));
    expect(mgr.table().web?.[k("a")]?.status).toBe("healthy");
    await settle();
    expect(probe.callsTo("a")).toBe(2);
    await clock.advance(7000);
    expect(mgr.table().web?.[k("a")]?.status).toBe("unhealthy");
    expect(clock.pending).toBe(1); // only the new loop is scheduled
  });

  test("adding a check to a serving service keeps its servers in until the check says otherwise", async () => {
    const { mgr, probe } = setup();
    mgr.apply(snapshot({ servers: [{ address: "a" }], check: null }));
    probe.set("a", false);
    mgr.apply(snapshot({ servers: [{ address: "a" }, { address: "b" }] }));
    expect(mgr.table().web?.[k("a")]?.status).toBe("healthy");
    expect(mgr.table().web?.[k("b")]?.status).toBe("unhealthy"); // new: pending its first probe
  });

  describe("slow start", () => {
    test("the first servers of an empty set get none", async () => {
      const { mgr } = setup();
      mgr.apply(snapshot({ servers: [{ address: "a" }, { address: "b" }], slowStart: 60 }));
      await settle();
      expect(mgr.table().web?.[k("a")]).toEqual({ status: "healthy" });
    });

    test("a server added to a non-empty set starts when it turns healthy, and flaps do not pause it", async () => {
      const { clock, probe, mgr } = setup();
      mgr.apply(snapshot({ servers: [{ address: "a" }], slowStart: 60 }));
      await settle();
      probe.set("b", false);
      mgr.apply(snapshot({ servers: [{ address: "a" }, { address: "b" }], slowStart: 60 }));
      await settle();
      expect(mgr.table().web?.[k("b")]).toEqual({ status: "unhealthy" });
      probe.set("b", true);
      await clock.advance(15_000); // 3 successes
      const from = clock.now();
      expect(mgr.table().web?.[k("b")]).toEqual({ status: "healthy", slowStartFrom: from });
      probe.set("b", false);
      await clock.advance(10_000);
      expect(mgr.table().web?.[k("b")]).toEqual({ status: "unhealthy", slowStartFrom: from });
      probe.set("b", true);
      await clock.advance(15_000);
      expect(mgr.table().web?.[k("b")]).toEqual({ status: "healthy", slowStartFrom: from }); // not restarted
    });

    test("without a health check it starts at once; removed and re-added it never re-enters", async () => {
      const { clock, mgr } = setup();
      mgr.apply(snapshot({ servers: [{ address: "a" }], slowStart: 60, check: null }));
      mgr.apply(snapshot({ servers: [{ address: "a" }, { address: "b" }], slowStart: 60, check: null }));
      expect(mgr.table().web?.[k("b")]).toEqual({ status: "unchecked", slowStartFrom: clock.now() });
      mgr.apply(snapshot({ servers: [{ address: "a" }], slowStart: 60, check: null }));
      await clock.advance(61_000);
      mgr.apply(snapshot({ servers: [{ address: "a" }, { address: "b" }], slowStart: 60, check: null }));
      expect(mgr.table().web?.[k("b")]).toBeUndefined();
    });
  });

  test("close stops every loop", async () => {
    const { clock, mgr } = setup();
    mgr.apply(snapshot({ servers: [{ address: "a" }, { address: "b" }] }));
    await settle();
    mgr.close();
    expect(clock.pending).toBe(0);
  });
});
