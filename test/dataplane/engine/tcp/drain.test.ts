import type * as net from "node:net";
import { afterEach, describe, expect, test, vi } from "vitest";
import type { Snapshot } from "../../../../dataplane/config/snapshot";
import { TcpProxy } from "../../../../dataplane/engine/tcp/tcp-proxy";
import { silentLogger } from "../../../../dataplane/log";
import { Metrics } from "../../../../dataplane/metrics";
import {
  Resources,
  connect,
  listenerOf,
  readBytes,
  sleep,
  startBackend,
  startFront,
  tcpSnapshot,
  whenClosed,
  type Backend,
  type TcpSnapshotSpec,
} from "../../../helpers/tcp";

/**
 * Connection draining: removed / weight-0 / swapped-out servers, removed services and listeners.
 * Each drain is checked by behaviour, not by the clock: the connection still works once the drain has
 * started, it is never closed before its deadline (a loaded machine is late, never early), it does
 * close (`whenClosed`'s cap is only a hang guard), and the balancer closed it for the drain (the
 * `reason` of ballast_tcp_closed_total). The exact deadline arithmetic is drain-schedule.test.ts's.
 */

const res = new Resources();
afterEach(() => {
  vi.useRealTimers();
  return res.closeAll();
});

async function setup() {
  const a = res.add(await startBackend({ mode: "greet", name: "a" }));
  const b = res.add(await startBackend({ mode: "greet", name: "b" }));
  const metrics = new Metrics();
  // Read lazily, so that a test which fakes the clock after setup drives the drain deadlines.
  const proxy = new TcpProxy({ log: silentLogger(), metrics, now: () => Date.now() });
  res.add({ close: () => proxy.close(0) });
  let snapshot: Snapshot;
  let gen = 0;
  const apply = (spec: TcpSnapshotSpec) => {
    snapshot = tcpSnapshot(++gen, { listeners: [{ name: "front", port: 10000, service: "svc" }], ...spec });
    proxy.apply(snapshot);
  };
  const both = (drain: number, weights: [number, number] = [100, 100]) => ({
    services: { svc: { connectionDrainTimeout: drain, servers: [srv(a, weights[0]), srv(b, weights[1])] } },
  });
  apply(both(3));
  const front = res.add(await startFront(proxy, () => listenerOf(snapshot, "front")));
  /** Opens a connection and returns it with the name of the backend that greeted it. */
  const open = async () => {
    const c = res.socket(await connect(front.port));
    const name = (await readBytes(c, 2)).toString().trim();
    return { c, name };
  };
  return { a, b, proxy, metrics, apply, both, open };
}

/** Hang guard for a drain close: far above every drain timeout used here. */
const CLOSE_CAP_MS = 30_000;

/** Client connections the balancer closed, by reason (idle, drain, shutdown). */
function closedBy(metrics: Metrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [labels, value] of metrics.dump().families.ballast_tcp_closed_total?.series ?? []) {
    const reason = /reason="([^"]*)"/.exec(labels)?.[1] ?? "?";
    out[reason] = (out[reason] ?? 0) + (value as number);
  }
  return out;
}

const srv = (b: Backend, weight = 100) => ({ address: b.host, port: b.port, weight });

async function alive(c: net.Socket, token = "ok"): Promise<void> {
  c.write(token);
  expect((await readBytes(c, token.length, 5_000)).toString()).toBe(token);
}

describe("TcpProxy draining", () => {
  test("a server removed with drain 3 s keeps its connection until the deadline, then the drain closes it", async () => {
    const { a, b, apply, open, proxy, metrics } = await setup();
    const first = await open();
    expect(first.name).toBe("a");
    const t0 = Date.now();
    apply({ services: { svc: { connectionDrainTimeout: 3, servers: [srv(b)] } } });
    const row = proxy.stats().svc![a.key];
    expect(row).toEqual({ activeConnections: 1, draining: true, drainingUntil: expect.any(Number) });
    // The deadline the status page counts down to: 3 s after the drain began.
    expect(row!.drainingUntil).toBeGreaterThanOrEqual(t0 + 3000);
    expect(row!.drainingUntil).toBeLessThanOrEqual(Date.now() + 3000);
    const closed = whenClosed(first.c, CLOSE_CAP_MS);
    // New connections go elsewhere at once, while the old one still works.
    for (let i = 0; i < 4; i++) {
      const n = await open();
      expect(n.name).toBe("b");
      n.c.destroy();
    }
    await alive(first.c);
    expect(closedBy(metrics)).toEqual({});
    const { at, reset } = await closed;
    expect(at - t0).toBeGreaterThanOrEqual(3_000);
    expect(reset).toBe(false);
    expect(closedBy(metrics)).toEqual({ drain: 1 });
    expect(a.connections).toHaveLength(1);
  });

  test("the deadline is exact: open 1 ms before it, closed by the drain at it (faked timers, real sockets)", async () => {
    const { a, b, apply, open, proxy, metrics } = await setup();
    const first = await open();
    expect(first.name).toBe("a");
    // Only the drain's clock and timer are faked; sockets and I/O callbacks stay real.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    apply({ services: { svc: { connectionDrainTimeout: 3, servers: [srv(b)] } } });
    await vi.advanceTimersByTimeAsync(2_999);
    await alive(first.c);
    expect(closedBy(metrics)).toEqual({});
    expect(proxy.stats().svc![a.key]).toEqual({ activeConnections: 1, draining: true, drainingUntil: expect.any(Number) });
    await vi.advanceTimersByTimeAsync(1);
    expect(closedBy(metrics)).toEqual({ drain: 1 });
    vi.useRealTimers();
    expect((await whenClosed(first.c, CLOSE_CAP_MS)).reset).toBe(false);
  });

  test("drain 0 closes the connections of a removed server at once", async () => {
    const { a, b, apply, open, proxy, metrics } = await setup();
    const first = await open();
    expect(first.name).toBe("a");
    apply({ services: { svc: { connectionDrainTimeout: 0, servers: [srv(b)] } } });
    // "At once" is "within apply": closed before it returns, no timer involved.
    expect(closedBy(metrics)).toEqual({ drain: 1 });
    expect(proxy.stats().svc?.[a.key]).toBeUndefined();
    await whenClosed(first.c, CLOSE_CAP_MS);
  });

  test("weight 0 drains; weight back before the deadline keeps the connection", async () => {
    const { a, apply, both, open, proxy, metrics } = await setup();
    const first = await open();
    expect(first.name).toBe("a");
    apply(both(2, [0, 100]));
    expect(proxy.stats().svc![a.key]).toEqual({ activeConnections: 1, draining: true, drainingUntil: expect.any(Number) });
    expect((await open()).name).toBe("b");
    apply(both(2, [50, 100]));
    expect(proxy.stats().svc![a.key]).toEqual({ activeConnections: 1 });
    // Past the 2 s deadline the drain would have had (sleeping longer is never too short).
    await sleep(2_500);
    await alive(first.c);
    expect(closedBy(metrics)).toEqual({});
  });

  test("weight 0 with drain 1 s closes the connection at its deadline, not before", async () => {
    const { a, apply, both, open, proxy, metrics } = await setup();
    const first = await open();
    expect(first.name).toBe("a");
    const t0 = Date.now();
    apply(both(1, [0, 100]));
    expect(proxy.stats().svc![a.key]).toEqual({ activeConnections: 1, draining: true, drainingUntil: expect.any(Number) });
    const { at } = await whenClosed(first.c, CLOSE_CAP_MS);
    expect(at - t0).toBeGreaterThanOrEqual(1_000);
    expect(closedBy(metrics)).toEqual({ drain: 1 });
  });

  test("a group swap drains servers missing from the new group and keeps the ones in both", async () => {
    const { a, b, apply, open, metrics } = await setup();
    apply({ services: { svc: { connectionDrainTimeout: 1, group: "g1", servers: [srv(a), srv(b)] } } });
    const toA = await open();
    const toB = await open();
    expect([toA.name, toB.name]).toEqual(["a", "b"]);
    const t0 = Date.now();
    apply({ services: { svc: { connectionDrainTimeout: 1, group: "g2", servers: [srv(b)] } } });
    const { at } = await whenClosed(toA.c, CLOSE_CAP_MS);
    expect(at - t0).toBeGreaterThanOrEqual(1_000);
    expect(closedBy(metrics)).toEqual({ drain: 1 });
    await alive(toB.c);
  });

  test("a shorter drain timeout mid-drain replaces the running one", async () => {
    const { b, apply, open, metrics } = await setup();
    const first = await open();
    const t0 = Date.now();
    apply({ services: { svc: { connectionDrainTimeout: 60, servers: [srv(b)] } } });
    await sleep(300);
    apply({ services: { svc: { connectionDrainTimeout: 1, servers: [srv(b)] } } });
    // Under the 60 s drain it would outlive the hang guard; that it counts from the drain's start is
    // drain-schedule.test.ts's exact check.
    const { at } = await whenClosed(first.c, CLOSE_CAP_MS);
    expect(at - t0).toBeGreaterThanOrEqual(1_000);
    expect(closedBy(metrics)).toEqual({ drain: 1 });
  });

  test("a removed service drains with its last drain timeout", async () => {
    const { apply, open, metrics } = await setup();
    const first = await open();
    const t0 = Date.now();
    apply({ services: {}, listeners: [] });
    await alive(first.c);
    const { at } = await whenClosed(first.c, CLOSE_CAP_MS);
    expect(at - t0).toBeGreaterThanOrEqual(3_000);
    expect(closedBy(metrics)).toEqual({ drain: 1 });
  });

  test("a removed listener's connections keep running, bounded by the service's drain timeout", async () => {
    const { apply, both, open, metrics } = await setup();
    apply(both(1));
    const first = await open();
    const t0 = Date.now();
    apply({ ...both(1), listeners: [] });
    await alive(first.c);
    const { at } = await whenClosed(first.c, CLOSE_CAP_MS);
    expect(at - t0).toBeGreaterThanOrEqual(1_000);
    expect(closedBy(metrics)).toEqual({ drain: 1 });
  });

  test("changes that leave a server in place never touch its connections", async () => {
    const { a, b, apply, both, open } = await setup();
    apply(both(0));
    const first = await open();
    expect(first.name).toBe("a");
    apply(both(0, [30, 100]));
    apply({ services: { svc: { connectionDrainTimeout: 0, servers: [srv(a, 30)] } } });
    apply({ services: { svc: { connectionDrainTimeout: 0, healthCheckInterval: 7, servers: [srv(a, 30), srv(b)] } } });
    apply({ ...both(0), listeners: [{ name: "front", port: 10000, service: "svc" }, { name: "other", port: 10001, service: "svc" }] });
    await sleep(200);
    await alive(first.c);
  });
});
