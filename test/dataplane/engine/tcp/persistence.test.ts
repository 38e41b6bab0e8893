import { afterEach, describe, expect, test } from "vitest";
import type { Snapshot } from "../../../../dataplane/config/snapshot";
import { ServicePicker } from "../../../../dataplane/engine/core/service-picker";
import { TcpProxy } from "../../../../dataplane/engine/tcp/tcp-proxy";
import { silentLogger } from "../../../../dataplane/log";
import { Metrics } from "../../../../dataplane/metrics";
import { Resources, connect, listenerOf, readBytes, startBackend, startFront, tcpSnapshot, waitUntil, type Backend, type TcpServiceSpec } from "../../../helpers/tcp";

/**
 * Source-IP persistence with real sockets (the table's clock logic is unit-tested in
 * source-table.test.ts). The proxy's clock is a manual one the tests move, so "within the timeout"
 * and "after it" are exact whatever the machine's speed.
 */

const res = new Resources();
afterEach(() => res.closeAll());

async function setup(count: number, persistence: number | undefined) {
  const backends: Backend[] = [];
  for (let i = 0; i < count; i++) backends.push(res.add(await startBackend({ mode: "greet", name: `b${i}` })));
  let t = 1_700_000_000_000;
  const proxy = new TcpProxy({ log: silentLogger(), metrics: new Metrics(), now: () => t });
  /** Moves the proxy's clock forward (stickiness expiry reads it; nothing here waits on timers). */
  const advance = (ms: number) => void (t += ms);
  res.add({ close: () => proxy.close(0) });
  let snapshot: Snapshot;
  let gen = 0;
  const apply = (patch: (servers: TcpServiceSpec["servers"]) => TcpServiceSpec["servers"] = (s) => s) => {
    const servers = patch(backends.map((b) => ({ address: b.host, port: b.port })));
    snapshot = tcpSnapshot(++gen, {
      services: { svc: { servers, ...(persistence !== undefined ? { persistence } : {}) } },
      listeners: [{ name: "front", port: 10000, service: "svc" }],
    });
    proxy.apply(snapshot);
  };
  apply();
  const front = res.add(await startFront(proxy, () => listenerOf(snapshot, "front")));
  /** Connects from `from` (any 127/8 address is loopback on Linux) and returns the greeting's backend name. */
  const visit = async (from = "127.0.0.1", keepOpen = false, othersOpen = 0) => {
    const c = res.socket(await connect(front.port, "127.0.0.1", { localAddress: from }));
    const name = (await readBytes(c, 3)).toString().trim();
    if (!keepOpen) await close(c, othersOpen);
    return { name, socket: c };
  };
  /**
   * Ends a client connection and waits until the proxy has finished it too (its stickiness timeout
   * starts then), leaving the `othersOpen` connections the test still holds.
   */
  const close = async (c: import("node:net").Socket, othersOpen = 0) => {
    c.end();
    await new Promise<void>((r) => (c.closed ? r() : c.once("close", () => r())));
    const open = () => Object.values(proxy.stats().svc ?? {}).reduce((n, x) => n + x.activeConnections, 0);
    await waitUntil(() => open() === othersOpen, 10_000, "the proxy to finish the connection");
  };
  /** Where the consistent hash alone (no stickiness) places a client now. */
  const hashed = (clientIp: string) => new ServicePicker(snapshot.services.svc!, { now: () => t }).pickConsistent(clientIp)!;
  return { proxy, backends, apply, visit, advance, close, hashed };
}

describe("TcpProxy source-IP persistence", () => {
  test("without persistence wrr rotates a client over the servers", async () => {
    const { visit } = await setup(3, undefined);
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push((await visit()).name);
    expect(seen).toEqual(["b0", "b1", "b2"]);
  });

  test("a client sticks to its server across reconnects within the timeout and is re-balanced after it", async () => {
    const { visit, apply, backends, advance, hashed } = await setup(3, 1);
    const first = (await visit()).name;
    // Make the hash prefer the others (weight 1 against 100): within the timeout the client stays.
    apply((servers) => servers.map((s, i) => (backends[i]!.name === first ? { ...s, weight: 1 } : s)));
    for (let i = 0; i < 3; i++) {
      advance(999); // each reconnect 1 ms inside the 1 s timeout, which restarts at each close
      expect((await visit()).name).toBe(first);
    }
    // Another client is placed by the consistent hash and sticks in its turn.
    const other = (await visit("127.0.0.2")).name;
    expect((await visit("127.0.0.2")).name).toBe(other);
    // 1 s after the last close the first client is re-balanced: placed where the hash places it
    // now (another server, but for the 1 in 201 case the weighted hash still picks the light one).
    advance(1_000);
    const expected = backends.find((b) => b.port === hashed("127.0.0.1").port)!.name;
    expect((await visit()).name).toBe(expected);
  });

  test("a client new to a proxy is placed by the consistent hash, so separate workers agree", async () => {
    const a = await setup(3, 60);
    const b = await setup(3, 60);
    // Same servers in the same order, so the same keys: only the hash decides, not either wrr round.
    b.apply(() => a.backends.map((x) => ({ address: x.host, port: x.port })));
    await a.visit("127.0.0.9"); // advance a's state
    for (const ip of ["127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"]) {
      expect((await b.visit(ip)).name).toBe((await a.visit(ip)).name);
    }
  });

  test("an open connection pins the client however long it lasts; the timeout starts at its close", async () => {
    const { visit, apply, backends, advance, close } = await setup(2, 1);
    const first = await visit("127.0.0.1", true);
    apply((servers) => servers.map((s, i) => (backends[i]!.name === first.name ? { ...s, weight: 1 } : s)));
    advance(60_000);
    expect((await visit("127.0.0.1", false, 1)).name).toBe(first.name);
    await close(first.socket);
    advance(999);
    expect((await visit()).name).toBe(first.name);
  });

  test("a sticky server that is no longer usable is replaced, and the client sticks to the new one", async () => {
    const { visit, apply, proxy, backends } = await setup(3, 60);
    const first = (await visit()).name;
    apply((servers) => servers.map((s, i) => (backends[i]!.name === first ? { ...s, weight: 0 } : s)));
    const moved = (await visit()).name;
    expect(moved).not.toBe(first);
    expect((await visit()).name).toBe(moved);
    // Unhealthy replaces it too.
    const movedKey = backends.find((b) => b.name === moved)!.key;
    proxy.setHealth({ svc: { [movedKey]: { status: "unhealthy" } } });
    const again = (await visit()).name;
    expect(again).not.toBe(first);
    expect(again).not.toBe(moved);
    expect((await visit()).name).toBe(again);
  });
});
