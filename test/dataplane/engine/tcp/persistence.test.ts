import { afterEach, describe, expect, test } from "vitest";
import type { Snapshot } from "../../../../dataplane/config/snapshot";
import { TcpProxy } from "../../../../dataplane/engine/tcp-proxy";
import { silentLogger } from "../../../../dataplane/log";
import { Metrics } from "../../../../dataplane/metrics";
import { Resources, connect, listenerOf, readBytes, sleep, startBackend, startFront, tcpSnapshot, type Backend, type TcpServiceSpec } from "../../../helpers/tcp";

/** Source-IP persistence with real sockets (the table's clock logic is unit-tested in source-table.test.ts). */

const res = new Resources();
afterEach(() => res.closeAll());

async function setup(count: number, persistence: number | undefined) {
  const backends: Backend[] = [];
  for (let i = 0; i < count; i++) backends.push(res.add(await startBackend({ mode: "greet", name: `b${i}` })));
  const proxy = new TcpProxy({ log: silentLogger(), metrics: new Metrics(), now: Date.now });
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
  const visit = async (from = "127.0.0.1", keepOpen = false) => {
    const c = res.socket(await connect(front.port, "127.0.0.1", { localAddress: from }));
    const name = (await readBytes(c, 3)).toString().trim();
    if (!keepOpen) {
      c.end();
      await new Promise<void>((r) => (c.closed ? r() : c.once("close", () => r())));
    }
    return { name, socket: c };
  };
  return { proxy, backends, apply, visit };
}

describe("TcpProxy source-IP persistence", () => {
  test("without persistence wrr rotates a client over the servers", async () => {
    const { visit } = await setup(3, undefined);
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push((await visit()).name);
    expect(seen).toEqual(["b0", "b1", "b2"]);
  });

  test("a client sticks to its server across reconnects within the timeout and is re-balanced after it", async () => {
    const { visit } = await setup(3, 1);
    expect((await visit()).name).toBe("b0");
    for (let i = 0; i < 3; i++) {
      await sleep(200);
      expect((await visit()).name).toBe("b0");
    }
    // Another client is balanced normally (wrr continues its round) and sticks in its turn.
    expect((await visit("127.0.0.2")).name).toBe("b1");
    expect((await visit("127.0.0.2")).name).toBe("b1");
    // 1 s after the last close, with margin for a loaded machine, the first client is re-balanced.
    await sleep(1_400);
    expect((await visit()).name).toBe("b2");
  });

  test("an open connection pins the client however long it lasts; the timeout starts at its close", async () => {
    const { visit } = await setup(2, 1);
    const first = await visit("127.0.0.1", true);
    expect(first.name).toBe("b0");
    await sleep(1_300);
    expect((await visit()).name).toBe("b0");
    first.socket.end();
    await new Promise<void>((r) => (first.socket.closed ? r() : first.socket.once("close", () => r())));
    await sleep(500);
    expect((await visit()).name).toBe("b0");
  });

  test("a sticky server that is no longer usable is replaced, and the client sticks to the new one", async () => {
    const { visit, apply, proxy, backends } = await setup(3, 60);
    expect((await visit()).name).toBe("b0");
    apply((servers) => servers.map((s, i) => (i === 0 ? { ...s, weight: 0 } : s)));
    const moved = (await visit()).name;
    expect(moved).not.toBe("b0");
    expect((await visit()).name).toBe(moved);
    // Unhealthy replaces it too.
    const movedKey = backends.find((b) => b.name === moved)!.key;
    proxy.setHealth({ svc: { [movedKey]: { status: "unhealthy" } } });
    const again = (await visit()).name;
    expect(["b1", "b2"]).toContain(again);
    expect(again).not.toBe(moved);
    expect((await visit()).name).toBe(again);
  });
});
