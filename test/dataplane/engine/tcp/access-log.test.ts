import * as net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import type { Snapshot } from "../../../../dataplane/config/snapshot";
import { TcpProxy } from "../../../../dataplane/engine/tcp/tcp-proxy";
import { Metrics } from "../../../../dataplane/metrics";
import { capturedLog } from "../../../helpers/log-lines";
import { Resources, closedPort, connect, listenerOf, readBytes, startBackend, startFront, tcpSnapshot, waitUntil, whenClosed, type TcpServiceSpec } from "../../../helpers/tcp";

/** The TCP access log (docs/access-log.md): one line per connection, written when it closes. */

const res = new Resources();
afterEach(() => res.closeAll());

const KEYS = ["level", "time", "pid", "listener", "client", "bytesIn", "bytesOut", "service", "server", "connectMs", "firstByteMs", "totalMs", "retries", "termination", "msg"];

async function setup(spec: TcpServiceSpec, accessLog?: { enabled?: boolean; sampleRate?: number }) {
  const cap = capturedLog();
  const proxy = new TcpProxy({ log: cap.log, metrics: new Metrics(), now: Date.now });
  res.add({ close: () => proxy.close(0) });
  const snapshot: Snapshot = tcpSnapshot(1, { services: { svc: spec }, listeners: [{ name: "front", port: 10000, service: "svc", ...(accessLog ? { accessLog } : {}) }] });
  proxy.apply(snapshot);
  const front = res.add(await startFront(proxy, () => listenerOf(snapshot, "front")));
  return { cap, proxy, client: async () => res.socket(await connect(front.port)) };
}

describe("TCP access log", () => {
  test("the client closes: one line with the contract's keys, the bytes each way, client_closed", async () => {
    const b = res.add(await startBackend());
    const { cap, client } = await setup({ servers: [{ address: b.host, port: b.port }] });
    const c = await client();
    c.write("hello");
    expect((await readBytes(c, 5)).toString()).toBe("hello");
    c.end();
    await whenClosed(c);
    await waitUntil(() => cap.access().length === 1, 10_000, "the access line");
    const line = cap.access()[0]!;
    expect(Object.keys(line)).toEqual(KEYS);
    expect(line).toMatchObject({ listener: "front", service: "svc", server: `${b.host}:${b.port}`, bytesIn: 5, bytesOut: 5, retries: 0, termination: "client_closed", firstByteMs: -1, msg: "access" });
    expect(line.client).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(line.connectMs as number).toBeGreaterThanOrEqual(0);
    expect(line.totalMs as number).toBeGreaterThanOrEqual(0);
  });

  test("the server closes first: server_closed", async () => {
    const server = res.add(net.createServer((s) => s.end("bye")));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const { cap, client } = await setup({ servers: [{ address: "127.0.0.1", port }] });
    const c = await client();
    c.resume();
    c.on("end", () => c.end());
    await whenClosed(c);
    await waitUntil(() => cap.access().length === 1, 10_000, "the access line");
    expect(cap.access()[0]).toMatchObject({ termination: "server_closed", bytesOut: 3, bytesIn: 0 });
  });

  test("every server refuses: connect_failed with the retries made; a disabled access log writes nothing", async () => {
    const [p1, p2] = [await closedPort(), await closedPort()];
    const { cap, client } = await setup({ servers: [{ address: "127.0.0.1", port: p1 }, { address: "127.0.0.1", port: p2 }] });
    await whenClosed(await client());
    await waitUntil(() => cap.access().length === 1, 10_000, "the access line");
    expect(cap.access()[0]).toMatchObject({ termination: "connect_failed", retries: 1, server: "", connectMs: -1, bytesIn: 0, bytesOut: 0 });

    const b = res.add(await startBackend());
    const off = await setup({ servers: [{ address: b.host, port: b.port }] }, { enabled: false });
    const c = await off.client();
    c.end("x");
    await whenClosed(c);
    // The proxy's books are closed (its `finish` ran), and still no line.
    await waitUntil(() => Object.keys(off.proxy.stats()).length === 0, 10_000, "the connection finished");
    expect(off.cap.access()).toEqual([]);
  });
});
