import { spawn } from "node:child_process";
import * as net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import type { Snapshot } from "../../../../dataplane/config/snapshot";
import { TcpProxy, type TcpProxyOptions } from "../../../../dataplane/engine/tcp/tcp-proxy";
import { silentLogger } from "../../../../dataplane/log";
import { Metrics } from "../../../../dataplane/metrics";
import {
  Resources,
  closedPort,
  connect,
  listenerOf,
  readBytes,
  startBackend,
  startBlackhole,
  startFront,
  tcpSnapshot,
  waitUntil,
  whenClosed,
  type TcpServiceSpec,
} from "../../../helpers/tcp";
import { hangGuard } from "../../../helpers/hang-guard";

const res = new Resources();
afterEach(() => res.closeAll());

function makeProxy(opts: Partial<TcpProxyOptions> = {}) {
  const metrics = new Metrics();
  const proxy = new TcpProxy({ log: silentLogger(), metrics, now: Date.now, ...opts });
  res.add({ close: () => proxy.close(0) });
  return { proxy, metrics };
}

/** A proxy fronting service `svc` through listener `front`; `apply` swaps the service spec. */
async function setup(spec: TcpServiceSpec, opts: Partial<TcpProxyOptions> = {}) {
  const { proxy, metrics } = makeProxy(opts);
  let gen = 0;
  let snapshot: Snapshot;
  const apply = (s: TcpServiceSpec) => {
    snapshot = tcpSnapshot(++gen, { services: { svc: s }, listeners: [{ name: "front", port: 10000, service: "svc" }] });
    proxy.apply(snapshot);
  };
  apply(spec);
  const front = res.add(await startFront(proxy, () => listenerOf(snapshot, "front")));
  const client = async () => res.socket(await connect(front.port));
  return { proxy, metrics, front, client, apply };
}

function metric(metrics: Metrics, name: string): number {
  const fam = metrics.dump().families[name];
  return (fam?.series ?? []).reduce((sum, [, v]) => sum + (v as number), 0);
}

/** A counter's series summed by the value of one label (e.g. `reason`). */
function byLabel(metrics: Metrics, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [labels, value] of metrics.dump().families[name]?.series ?? []) {
    const v = new RegExp(`${label}="([^"]*)"`).exec(labels)?.[1] ?? "?";
    out[v] = (out[v] ?? 0) + (value as number);
  }
  return out;
}

/**
 * Hang guard for a close the test waits for: far above every timeout configured here. Tests check
 * that a timeout did not fire early (a loaded machine is never early) and why the connection closed,
 * never how soon after the timeout it did.
 */
const CLOSE_CAP_MS = 30_000;

describe("TcpProxy", () => {
  test("pipes bytes both ways and forwards a client's FIN while the reply still flows", async () => {
    const late = res.add(
      net.createServer({ allowHalfOpen: true }, (s) => {
        const got: Buffer[] = [];
        s.on("data", (d) => got.push(d));
        s.on("end", () => {
          // Answer only after the client's FIN: the proxy must keep the client's read side open.
          setTimeout(() => s.end(Buffer.concat([Buffer.from("got:"), ...got])), 100);
        });
      }),
    );
    await new Promise<void>((r) => late.listen(0, "127.0.0.1", () => r()));
    const port = (late.address() as net.AddressInfo).port;
    const { client } = await setup({ servers: [{ address: "127.0.0.1", port }] });
    const c = await client();
    c.end("hello");
    const reply: Buffer[] = [];
    c.on("data", (d) => reply.push(d));
    const closed = await whenClosed(c);
    expect(closed.error).toBeUndefined();
    expect(Buffer.concat(reply).toString()).toBe("got:hello");
  });

  test("echoes through an echo server and counts connections and bytes", async () => {
    const b = res.add(await startBackend());
    const { client, metrics, proxy } = await setup({ servers: [{ address: b.host, port: b.port }] });
    const c = await client();
    c.write("ping-1");
    expect((await readBytes(c, 6)).toString()).toBe("ping-1");
    expect(proxy.stats()).toEqual({ svc: { [b.key]: { activeConnections: 1 } } });
    c.end();
    await whenClosed(c);
    await waitUntil(() => Object.keys(proxy.stats()).length === 0, 5_000, "stats to empty");
    expect(metric(metrics, "ballast_tcp_connections_total")).toBe(1);
    expect(metric(metrics, "ballast_tcp_bytes_in_total")).toBe(6);
    expect(metric(metrics, "ballast_tcp_bytes_out_total")).toBe(6);
    const labels = metrics.dump().families.ballast_tcp_connections_total!.series[0]![0];
    expect(labels).toBe(`listener="front",server="127.0.0.1:${b.port}",service="svc"`);
  });

  test("a server that refuses before anything was sent is skipped for another one", async () => {
    const b = res.add(await startBackend());
    const dead = await closedPort();
    // wrr starts with the first server, so every other connection is first offered to the dead one.
    const { client, metrics } = await setup({ servers: [{ address: "127.0.0.1", port: dead }, { address: b.host, port: b.port }] });
    for (let i = 0; i < 4; i++) {
      const c = await client();
      c.write(`m${i}`);
      expect((await readBytes(c, 2)).toString()).toBe(`m${i}`);
      c.destroy();
    }
    expect(b.connections.length).toBe(4);
    expect(metric(metrics, "ballast_tcp_connect_failures_total")).toBeGreaterThanOrEqual(2);
  });

  test("closes the client when every server refuses, and when no server is usable", async () => {
    const p1 = await closedPort();
    const p2 = await closedPort();
    const { client, apply, metrics } = await setup({ servers: [{ address: "127.0.0.1", port: p1 }, { address: "127.0.0.1", port: p2 }] });
    await whenClosed(await client(), CLOSE_CAP_MS);
    // Closed because both servers refused, each tried once, not because a connect timed out.
    expect(byLabel(metrics, "ballast_tcp_connect_failures_total", "reason")).toEqual({ refused: 2 });
    apply({ servers: [{ address: "127.0.0.1", port: p1, weight: 0 }] });
    await whenClosed(await client(), CLOSE_CAP_MS);
    expect(metric(metrics, "ballast_tcp_no_server_total")).toBe(2);
  });

  test("weight 0 takes no new connections", async () => {
    const a = res.add(await startBackend());
    const z = res.add(await startBackend());
    const { client } = await setup({ servers: [{ address: a.host, port: a.port }, { address: z.host, port: z.port, weight: 0 }] });
    for (let i = 0; i < 6; i++) {
      const c = await client();
      c.write("x");
      await readBytes(c, 1);
      c.destroy();
    }
    expect(a.connections.length).toBe(6);
    expect(z.connections.length).toBe(0);
  });

  test("wlc spreads long-lived connections by active count over weight", async () => {
    const a = res.add(await startBackend());
    const b = res.add(await startBackend());
    const { client, proxy } = await setup({
      scheduler: "wlc",
      servers: [{ address: a.host, port: a.port, weight: 100 }, { address: b.host, port: b.port, weight: 50 }],
    });
    for (let i = 0; i < 6; i++) {
      const c = await client();
      c.write("x");
      await readBytes(c, 1);
    }
    expect(proxy.stats().svc).toEqual({ [a.key]: { activeConnections: 4 }, [b.key]: { activeConnections: 2 } });
  });

  test("connect timeout: a server that never answers the handshake closes the client after the timeout", async () => {
    const blackhole = await startBlackhole(res);
    const { client, metrics } = await setup(
      { servers: [{ address: "127.0.0.1", port: blackhole.port }] },
      { connectTimeoutMs: 400, maxConnectAttempts: 1 },
    );
    const c = await client();
    const t0 = Date.now();
    const closed = await whenClosed(c, CLOSE_CAP_MS);
    expect(closed.at - t0).toBeGreaterThanOrEqual(380);
    expect(byLabel(metrics, "ballast_tcp_connect_failures_total", "reason")).toEqual({ timeout: 1 });
    expect(metric(metrics, "ballast_tcp_no_server_total")).toBe(1);
  });

  test("a server that times out on connect is skipped for the next one", async () => {
    const blackhole = await startBlackhole(res);
    const b = res.add(await startBackend());
    const { client } = await setup(
      { servers: [{ address: "127.0.0.1", port: blackhole.port }, { address: b.host, port: b.port }] },
      { connectTimeoutMs: 300 },
    );
    const t0 = Date.now();
    const c = await client();
    c.write("late but there");
    expect((await readBytes(c, 14)).toString()).toBe("late but there");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
  });

  test("idle timeout: no byte either way for the timeout closes both sides; traffic keeps it open", async () => {
    const b = res.add(await startBackend());
    const { client, metrics } = await setup({ servers: [{ address: b.host, port: b.port }] }, { idleTimeoutMs: 1_000 });
    const c = await client();
    // A byte every 100 ms (a tenth of the timeout, so a stalled machine does not look idle) for
    // twice the 1 s timeout keeps the connection open past it.
    const start = Date.now();
    let quiet = start;
    for (let i = 0; i < 200 && Date.now() - start < 2_000; i++) {
      await new Promise((r) => setTimeout(r, 100));
      c.write("k");
      await readBytes(c, 1);
      quiet = Date.now();
    }
    expect(quiet - start).toBeGreaterThanOrEqual(1_000);
    expect(c.destroyed).toBe(false);
    expect(metric(metrics, "ballast_tcp_closed_total")).toBe(0);
    const closed = await whenClosed(c, CLOSE_CAP_MS);
    expect(closed.at - quiet).toBeGreaterThanOrEqual(950);
    await waitUntil(() => b.connections[0]!.closed, CLOSE_CAP_MS, "server side closed");
    expect(byLabel(metrics, "ballast_tcp_closed_total", "reason")).toEqual({ idle: 1 });
  });

  test("idle timeout with a reply waiting: a client that stops reading is closed; the proxy holds no connection after", async () => {
    const big = Buffer.alloc(32 * 1024 * 1024, 0x62);
    const b = res.add(await startBackend({ mode: "sink", onConnection: (conn) => conn.socket.write(big) }));
    const { client, proxy, metrics } = await setup({ servers: [{ address: b.host, port: b.port }] }, { idleTimeoutMs: 600 });
    const stalled = await client();
    stalled.pause();
    const t0 = Date.now();
    // Writes wait on the client's full buffers: nothing moves, whatever is queued.
    const closed = await whenClosed(stalled, CLOSE_CAP_MS);
    expect(closed.at - t0).toBeGreaterThanOrEqual(550);
    await waitUntil(() => b.connections[0]!.closed, CLOSE_CAP_MS, "server side closed");
    expect(byLabel(metrics, "ballast_tcp_closed_total", "reason")).toEqual({ idle: 1 });
    expect(proxy.stats()).toEqual({});
  });

  test("close(grace) lets connections run for the grace period, then closes them", async () => {
    const b = res.add(await startBackend());
    const { client, proxy, metrics } = await setup({ servers: [{ address: b.host, port: b.port }] });
    const c = await client();
    c.write("x");
    await readBytes(c, 1);
    const t0 = Date.now();
    const closing = proxy.close(500);
    // During the grace period the connection still carries bytes.
    c.write("y");
    expect((await readBytes(c, 1)).toString()).toBe("y");
    const closed = await whenClosed(c, CLOSE_CAP_MS);
    await hangGuard(closing, "proxy.close(500)");
    expect(closed.at - t0).toBeGreaterThanOrEqual(450);
    expect(byLabel(metrics, "ballast_tcp_closed_total", "reason")).toEqual({ shutdown: 1 });
    expect(proxy.stats()).toEqual({});
  });

  test("a listener naming no tcp service closes its clients", async () => {
    const { proxy } = makeProxy();
    proxy.apply(tcpSnapshot(1, { services: {} }));
    const front = res.add(await startFront(proxy, () => ({ name: "x", protocol: "tcp", port: 1, service: "missing" })));
    await whenClosed(res.socket(await connect(front.port)), 5_000);
  });
});
