import type * as net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import type { Snapshot } from "../../../../dataplane/config/snapshot";
import { TcpProxy } from "../../../../dataplane/engine/tcp-proxy";
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

/** Connection draining: removed / weight-0 / swapped-out servers, removed services and listeners. */

const res = new Resources();
afterEach(() => res.closeAll());

async function setup() {
  const a = res.add(await startBackend({ mode: "greet", name: "a" }));
  const b = res.add(await startBackend({ mode: "greet", name: "b" }));
  const proxy = new TcpProxy({ log: silentLogger(), metrics: new Metrics(), now: Date.now });
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
  return { a, b, proxy, apply, both, open };
}

const srv = (b: Backend, weight = 100) => ({ address: b.host, port: b.port, weight });

async function alive(c: net.Socket, token = "ok"): Promise<void> {
  c.write(token);
  expect((await readBytes(c, token.length, 5_000)).toString()).toBe(token);
}

describe("TcpProxy draining", () => {
  test("a server removed with drain 3 s keeps its connection for 3 s, then it is closed (before 4 s)", async () => {
    const { a, b, apply, open, proxy } = await setup();
    const first = await open();
    expect(first.name).toBe("a");
    const t0 = Date.now();
    apply({ services: { svc: { connectionDrainTimeout: 3, servers: [srv(b)] } } });
    const row = proxy.stats().svc![a.key];
    expect(row).toEqual({ activeConnections: 1, draining: true, drainingUntil: expect.any(Number) });
    // The deadline the status page counts down to: 3 s after the drain began.
    expect(row!.drainingUntil).toBeGreaterThanOrEqual(t0 + 3000);
    expect(row!.drainingUntil).toBeLessThanOrEqual(Date.now() + 3000);
    const closed = whenClosed(first.c, 15_000);
    // New connections go elsewhere at once, while the old one still works.
    for (let i = 0; i < 4; i++) {
      const n = await open();
      expect(n.name).toBe("b");
      n.c.destroy();
    }
    await sleep(2_500 - (Date.now() - t0));
    await alive(first.c);
    const { at, reset } = await closed;
    expect(at - t0).toBeGreaterThanOrEqual(3_000);
    expect(at - t0).toBeLessThan(4_000);
    expect(reset).toBe(false);
    expect(a.connections).toHaveLength(1);
  });

  test("drain 0 closes the connections of a removed server at once", async () => {
    const { b, apply, open } = await setup();
    const first = await open();
    expect(first.name).toBe("a");
    const t0 = Date.now();
    apply({ services: { svc: { connectionDrainTimeout: 0, servers: [srv(b)] } } });
    const { at } = await whenClosed(first.c, 5_000);
    expect(at - t0).toBeLessThan(1_000);
  });

  test("weight 0 drains; weight back before the deadline keeps the connection", async () => {
    const { apply, both, open } = await setup();
    const first = await open();
    expect(first.name).toBe("a");
    apply(both(1, [0, 100]));
    expect((await open()).name).toBe("b");
    await sleep(300);
    apply(both(1, [50, 100]));
    await sleep(1_500);
    await alive(first.c);
  });

  test("weight 0 with drain 1 s closes the connection after about 1 s", async () => {
    const { apply, both, open } = await setup();
    const first = await open();
    const t0 = Date.now();
    apply(both(1, [0, 100]));
    const { at } = await whenClosed(first.c, 10_000);
    expect(at - t0).toBeGreaterThanOrEqual(1_000);
    expect(at - t0).toBeLessThan(2_000);
  });

  test("a group swap drains servers missing from the new group and keeps the ones in both", async () => {
    const { a, b, apply, open } = await setup();
    apply({ services: { svc: { connectionDrainTimeout: 1, group: "g1", servers: [srv(a), srv(b)] } } });
    const toA = await open();
    const toB = await open();
    expect([toA.name, toB.name]).toEqual(["a", "b"]);
    const t0 = Date.now();
    apply({ services: { svc: { connectionDrainTimeout: 1, group: "g2", servers: [srv(b)] } } });
    const { at } = await whenClosed(toA.c, 10_000);
    expect(at - t0).toBeGreaterThanOrEqual(1_000);
    expect(at - t0).toBeLessThan(2_000);
    await alive(toB.c);
  });

  test("a shorter drain timeout mid-drain counts from the start of the drain", async () => {
    const { b, apply, open } = await setup();
    const first = await open();
    const t0 = Date.now();
    apply({ services: { svc: { connectionDrainTimeout: 60, servers: [srv(b)] } } });
    await sleep(300);
    apply({ services: { svc: { connectionDrainTimeout: 1, servers: [srv(b)] } } });
    const { at } = await whenClosed(first.c, 10_000);
    expect(at - t0).toBeGreaterThanOrEqual(1_000);
    expect(at - t0).toBeLessThan(2_000);
  });

  test("a removed service drains with its last drain timeout", async () => {
    const { apply, open } = await setup();
    const first = await open();
    const t0 = Date.now();
    apply({ services: {}, listeners: [] });
    const { at } = await whenClosed(first.c, 10_000);
    expect(at - t0).toBeGreaterThanOrEqual(3_000);
    expect(at - t0).toBeLessThan(4_000);
  });

  test("a removed listener's connections keep running, bounded by the service's drain timeout", async () => {
    const { apply, both, open } = await setup();
    apply(both(1));
    const first = await open();
    const t0 = Date.now();
    apply({ ...both(1), listeners: [] });
    await sleep(500);
    await alive(first.c);
    const { at } = await whenClosed(first.c, 10_000);
    expect(at - t0).toBeGreaterThanOrEqual(1_000);
    expect(at - t0).toBeLessThan(2_000);
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
