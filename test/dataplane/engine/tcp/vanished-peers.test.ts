import * as net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import type { Snapshot } from "../../../../dataplane/config/snapshot";
import { TcpProxy, type TcpProxyOptions } from "../../../../dataplane/engine/tcp/tcp-proxy";
import { silentLogger } from "../../../../dataplane/log";
import { Metrics } from "../../../../dataplane/metrics";
import { Resources, connect, listenerOf, readBytes, startBackend, startBlackhole, startFront, tcpSnapshot, waitUntil, whenClosed, type Backend, type TcpServiceSpec } from "../../../helpers/tcp";

/**
 * Issue 20, TCP side: a client or a server that vanishes at any stage of a proxied connection
 * leaves nothing behind (the other side closed, no connection counted, nothing buffered), and the
 * next connections are served. Asserted on the sockets' states, never on a stopwatch.
 */

const res = new Resources();
afterEach(() => res.closeAll());

async function setup(spec: TcpServiceSpec, opts: Partial<TcpProxyOptions> = {}) {
  const proxy = new TcpProxy({ log: silentLogger(), metrics: new Metrics(), now: Date.now, ...opts });
  res.add({ close: () => proxy.close(0) });
  const snapshot: Snapshot = tcpSnapshot(1, { services: { svc: spec }, listeners: [{ name: "front", port: 10000, service: "svc" }] });
  proxy.apply(snapshot);
  const front = res.add(await startFront(proxy, () => listenerOf(snapshot, "front")));
  const client = async () => res.socket(await connect(front.port));
  return { proxy, client };
}

/** Nothing held: no connection counted, nothing buffered, every server-side socket closed. */
async function nothingLeft(proxy: TcpProxy, backend: Backend): Promise<void> {
  await waitUntil(() => Object.keys(proxy.stats()).length === 0, 10_000, "no connection counted");
  await waitUntil(() => backend.connections.every((c) => c.closed), 10_000, "every server-side socket closed");
  expect(proxy.buffered()).toEqual({ toServers: 0, toClients: 0 });
}

/** A new connection echoes through. */
async function nextServed(client: () => Promise<net.Socket>): Promise<void> {
  const c = await client();
  c.write("next");
  expect((await readBytes(c, 4)).toString()).toBe("next");
  c.destroy();
}

describe("TCP: a peer that vanishes (issue 20)", () => {
  test("a client gone before its first byte: the server side is closed", async () => {
    const b = res.add(await startBackend());
    const { proxy, client } = await setup({ servers: [{ address: b.host, port: b.port }] });
    const c = await client();
    await waitUntil(() => b.connections.length === 1, 10_000, "server connected");
    c.resetAndDestroy();
    await nothingLeft(proxy, b);
    await nextServed(client);
  });

  test("a client gone mid-upload: the server side is closed", async () => {
    const b = res.add(await startBackend({ mode: "sink" }));
    const { proxy, client } = await setup({ servers: [{ address: b.host, port: b.port }] });
    const c = await client();
    c.write(Buffer.alloc(4 * 1024 * 1024));
    await waitUntil(() => (b.connections[0]?.bytes ?? 0) > 0, 10_000, "upload started");
    c.resetAndDestroy();
    await nothingLeft(proxy, b);
  });

  test("a client gone mid-download while it was not reading: the server side is closed, nothing stays buffered", async () => {
    const big = Buffer.alloc(32 * 1024 * 1024, 0x61);
    const b = res.add(await startBackend({ mode: "sink", onConnection: (conn) => conn.socket.write(big) }));
    const { proxy, client } = await setup({ servers: [{ address: b.host, port: b.port }] });
    const c = await client();
    c.pause();
    await waitUntil(() => proxy.buffered().toClients > 0, 10_000, "backpressure engaged");
    c.resetAndDestroy();
    await nothingLeft(proxy, b);
  });

  test("a client that half-closes then vanishes before the reply: the server side is closed", async () => {
    const b = res.add(await startBackend({ mode: "sink" }));
    const { proxy, client } = await setup({ servers: [{ address: b.host, port: b.port }] });
    const c = await client();
    c.end("bye");
    await waitUntil(() => b.connections[0]?.ended === true, 10_000, "FIN forwarded");
    c.destroy();
    // The server never answers or closes: the half-open connection must not stay behind.
    await nothingLeft(proxy, b);
  });

  test("a server gone mid-download: the client is closed, nothing is left, the next connection is served", async () => {
    const big = Buffer.alloc(8 * 1024 * 1024, 0x61);
    let first = true;
    const b = res.add(
      await startBackend({
        onConnection: (conn) => {
          if (!first) return;
          first = false;
          conn.socket.write(big.subarray(0, 1024 * 1024));
          setImmediate(() => conn.socket.resetAndDestroy());
        },
      }),
    );
    const { proxy, client } = await setup({ servers: [{ address: b.host, port: b.port }] });
    const c = await client();
    const closed = await whenClosed(c);
    expect(closed.at).toBeGreaterThan(0);
    await nothingLeft(proxy, b);
    await nextServed(client);
  });

  test("a client gone while its server connection is still being made: nothing is left once the attempt ends", async () => {
    const blackhole = await startBlackhole(res);
    const b = res.add(await startBackend());
    const { proxy, client } = await setup({ servers: [{ address: "127.0.0.1", port: blackhole.port }] }, { connectTimeoutMs: 300, maxConnectAttempts: 1 });
    const c = await client();
    await waitUntil(() => Object.keys(proxy.stats()).length === 1, 10_000, "connecting");
    c.resetAndDestroy();
    await nothingLeft(proxy, b);
  });

  test("many clients vanishing at once mid-transfer: nothing is left, the next connections are served", async () => {
    const b = res.add(await startBackend());
    const { proxy, client } = await setup({ servers: [{ address: b.host, port: b.port }] });
    const clients: net.Socket[] = [];
    for (let i = 0; i < 64; i++) {
      const c = await client();
      c.on("error", () => {});
      c.on("data", () => c.write(Buffer.alloc(16 * 1024)));
      c.write(Buffer.alloc(16 * 1024));
      clients.push(c);
    }
    await waitUntil(() => b.connections.length === 64 && b.connections.every((x) => x.bytes > 64 * 1024), 20_000, "traffic on every connection");
    for (const [i, c] of clients.entries()) (i % 2 === 0 ? c.resetAndDestroy() : c.destroy());
    await nothingLeft(proxy, b);
    for (let i = 0; i < 3; i++) await nextServed(client);
  });
});
