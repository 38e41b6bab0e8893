import { randomBytes } from "node:crypto";
import type * as net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import type { Snapshot } from "../../../../dataplane/config/snapshot";
import type { HealthTable } from "../../../../dataplane/engine/core/server-health";
import { TcpProxy } from "../../../../dataplane/engine/tcp/tcp-proxy";
import { silentLogger } from "../../../../dataplane/log";
import { Metrics } from "../../../../dataplane/metrics";
import { seededRandom } from "../../../helpers/random";
import { Resources, connect, readBytes, sleep, startBackend, startFront, tcpSnapshot, waitUntil, whenClosed, type Backend, type TcpSnapshotSpec } from "../../../helpers/tcp";

/**
 * Reconfiguration is live: 20 long-lived TCP streams exchange data without pause while 50 snapshot
 * changes (weights, other servers added and removed, the health check, other listeners and
 * services, the scheduler, drain timeouts) and health pushes are applied. The servers the streams
 * use stay in the configuration throughout, so not one stream may be reset or lose a byte.
 */

const res = new Resources();
afterEach(() => res.closeAll());

const STREAMS = 20;
const CHANGES = 50;

interface Stream {
  socket: net.Socket;
  rounds: number;
  bytes: number;
  error: string | undefined;
  closedEarly: boolean;
  done: Promise<void>;
}

/** Ping-pong of random chunks until `stop()`: each echo must equal what was sent, in order. */
function run(socket: net.Socket, rnd: () => number, stop: () => boolean): Stream {
  const st: Stream = { socket, rounds: 0, bytes: 0, error: undefined, closedEarly: false, done: Promise.resolve() };
  socket.on("error", (e: NodeJS.ErrnoException) => (st.error = e.code ?? e.message));
  socket.on("close", () => {
    if (!stop()) st.closedEarly = true;
  });
  st.done = (async () => {
    for (let i = 0; i < 100_000 && !stop(); i++) {
      const chunk = randomBytes(256 + Math.floor(rnd() * 4096));
      socket.write(chunk);
      const echo = await readBytes(socket, chunk.length, 20_000);
      if (!echo.equals(chunk)) throw new Error(`stream corrupted at round ${st.rounds}`);
      st.rounds++;
      st.bytes += chunk.length;
    }
  })().catch((err: Error) => {
    st.error ??= err.message;
  });
  return st;
}

describe("TcpProxy live reconfiguration", () => {
  test("50 changes under load reset no connection to servers that remained, and lose no byte", async () => {
    const rnd = seededRandom(7);
    const keepers: Backend[] = [res.add(await startBackend({ name: "k1" })), res.add(await startBackend({ name: "k2" }))];
    const others: Backend[] = [];
    for (let i = 0; i < 4; i++) others.push(res.add(await startBackend({ name: `o${i}` })));
    const proxy = new TcpProxy({ log: silentLogger(), metrics: new Metrics(), now: Date.now });
    res.add({ close: () => proxy.close(0) });
    const srv = (b: Backend, weight = 100) => ({ address: b.host, port: b.port, weight });

    let gen = 0;
    let snapshot: Snapshot = tcpSnapshot(++gen, {
      services: { svc: { servers: keepers.map((k) => srv(k)) } },
      listeners: [{ name: "front", port: 10000, service: "svc" }],
    });
    proxy.apply(snapshot);
    const front = res.add(await startFront(proxy, () => snapshot.listeners.find((l) => l.name === "front")!));

    let stopped = false;
    const streams: Stream[] = [];
    for (let i = 0; i < STREAMS; i++) streams.push(run(res.socket(await connect(front.port)), rnd, () => stopped));
    await waitUntil(() => keepers.reduce((n, k) => n + k.connections.length, 0) === STREAMS, 10_000, "every stream at a keeper");
    const keeperConns = keepers.flatMap((k) => [...k.connections]);

    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const shortLived: Promise<void>[] = [];
    for (let change = 0; change < CHANGES; change++) {
      const extra = others.filter(() => rnd() < 0.5).map((o) => srv(o, pick([0, 1, 50, 100])));
      const spec: TcpSnapshotSpec = {
        services: {
          svc: {
            scheduler: pick(["wrr", "wlc", "source-ip"] as const),
            connectionDrainTimeout: pick([0, 1, 300]),
            servers: [...keepers.map((k) => srv(k, 1 + Math.floor(rnd() * 100))), ...extra],
            ...(rnd() < 0.5 ? { healthCheckInterval: pick([5, 10, 30]) } : {}),
            ...(rnd() < 0.3 ? { persistence: pick([1, 60]) } : {}),
          },
          ...(rnd() < 0.5 ? { aux: { connectionDrainTimeout: 0, servers: others.filter(() => rnd() < 0.5).map((o) => srv(o)) } } : {}),
        },
        listeners: [{ name: "front", port: 10000, service: "svc" }],
      };
      if (spec.services.aux) {
        for (let l = 0; l < 3; l++) if (rnd() < 0.5) spec.listeners!.push({ name: `aux-${l}`, port: 10001 + l, service: "aux" });
      }
      snapshot = tcpSnapshot(++gen, spec);
      proxy.apply(snapshot);
      // Health pushes too: other servers flap, and even a keeper marked unhealthy keeps its connections.
      const health: HealthTable = {
        svc: Object.fromEntries(
          [...keepers, ...others].map((b) => [b.key, { status: rnd() < 0.2 ? ("unhealthy" as const) : ("healthy" as const) }]),
        ),
      };
      proxy.setHealth(health);
      if (change % 10 === 0) {
        // New short connections keep working in the middle of it (whatever server they reach).
        shortLived.push(
          (async () => {
            const c = res.socket(await connect(front.port));
            c.on("error", () => {});
            const closed = whenClosed(c, 10_000);
            c.write("x");
            await Promise.race([readBytes(c, 1, 10_000).then(() => c.end()), closed]);
          })(),
        );
      }
      await sleep(20);
    }
    const roundsAtEnd = streams.map((s) => s.rounds);
    // Every stream moves on after the last change (or fails, which the checks below report). Waiting
    // for the rounds, not for a fixed time, keeps a slow machine from looking like a stalled stream.
    await waitUntil(() => streams.every((s, i) => s.error !== undefined || (s.rounds > roundsAtEnd[i]! && s.rounds > 10)), 30_000, "every stream past the last change");
    stopped = true;
    await Promise.all(streams.map((s) => s.done));
    await Promise.all(shortLived);

    for (const [i, s] of streams.entries()) {
      expect(s.error, `stream ${i}`).toBeUndefined();
      expect(s.closedEarly, `stream ${i}`).toBe(false);
      // Every stream kept moving during and after the changes.
      expect(s.rounds, `stream ${i}`).toBeGreaterThan(roundsAtEnd[i]!);
      expect(s.rounds, `stream ${i}`).toBeGreaterThan(10);
    }
    // The keepers saw every byte, and still hold every stream.
    expect(keeperConns.filter((c) => c.closed)).toHaveLength(0);
    expect(keeperConns.reduce((n, c) => n + c.bytes, 0)).toBe(streams.reduce((n, s) => n + s.bytes, 0));

    // And they end cleanly: FIN, not reset.
    const ends = streams.map((s) => {
      const closed = whenClosed(s.socket, 10_000);
      s.socket.end();
      return closed;
    });
    for (const e of await Promise.all(ends)) expect(e.reset).toBe(false);
  });
});
