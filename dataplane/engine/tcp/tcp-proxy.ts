// Over 400 lines: one client connection's whole life (pick, connect and retry, PROXY header, both pipes, half-close, idle, drain, counters, access line) reads best as one piece; per-service state is engine/core/service-runtime.ts.
import * as net from "node:net";
import type { ListenerSnapshot, ServerSnapshot, ServiceSnapshot, Snapshot } from "../../config/snapshot";
import { serverLabel, type HealthTable } from "../core/server-health";
import type { Logger } from "../../log";
import type { Labels, Metrics } from "../../metrics";
import { AccessLog, endpoint, spanMs, type Termination } from "../access-log";
import { adoptReads } from "../adopt-reads";
import { monotonicMs } from "../../clock";
import { listenerIdentity } from "../core/drain";
import { encodeHeader } from "./proxy-protocol";
import { ReadBuffers, type Relay } from "../read-buffers";
import { ServiceRuntime, type ServerFlows } from "../core/service-runtime";
import { SlotList } from "../core/slot-list";
import { SourceTable } from "../core/source-table";

/**
 * The TCP/TLS proxy of one process. The Engine's tcp and tls listeners hand it accepted sockets
 * (TLS already terminated); it picks a server of the listener's service, connects, optionally sends a
 * PROXY protocol header, then pipes bytes both ways with backpressure until either side is done.
 *
 * - Bytes: client → server with `stream.pipe`; server → client through `ReadBuffers` (reads into
 *   reused buffers, written out at once), the direction of downloads. Both ways a full destination
 *   pauses the source, so at most a socket's high-water mark is buffered per direction.
 * - Half-close: both sockets allow half-open; a FIN from one side is forwarded as `end()` after the
 *   buffered bytes are flushed, and the other direction keeps flowing.
 * - Connect failures (refused, unreachable, connect timeout) happen before any byte reaches a server,
 *   so another usable server is tried, at most `maxConnectAttempts` in all; then the client is closed.
 * - Idle timeout: no byte moved in either direction for `idleTimeoutMs` closes both sides. One
 *   timer looks at every connection every quarter of the timeout (at most every 5 s) instead of a
 *   timer per socket refreshed on every read and write (what that cost: docs/benchmarks.md).
 * - Members, picking, slow start and draining: the service's `ServiceRuntime` (engine/core/).
 * - Source-IP persistence and availability failover: see `choose` and docs/traffic.md.
 */

/** Default milliseconds a server has to accept a connection (a cloud NLB's is 5 s as well). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Default idle timeout: 900 s, the idle timeout of a cloud NLB's TCP listener. */
export const DEFAULT_IDLE_TIMEOUT_MS = 900_000;
/** Default bound on servers tried for one client connection. */
export const DEFAULT_MAX_CONNECT_ATTEMPTS = 3;
/** How often byte counters of long-lived connections are flushed and sticky tables swept. */
const HOUSEKEEPING_MS = 5_000;
/** At most one "no usable server" warning per service per this many ms (each one is counted). */
const NO_SERVER_WARN_MS = 10_000;

export interface TcpProxyOptions {
  log: Logger;
  metrics: Metrics;
  /** Epoch ms clock: source-IP persistence expiry, drain deadlines, slow start. */
  now: () => number;
  /** Milliseconds a server has to accept a connection before the next one is tried. Default 5000. */
  connectTimeoutMs?: number;
  /** Milliseconds without a byte in either direction before both sides are closed. Default 900000. */
  idleTimeoutMs?: number;
  /** Servers tried per client connection before it is closed. Default 3. */
  maxConnectAttempts?: number;
  /** Bound on remembered client addresses per service (source-IP persistence). Default 100000. */
  maxSourceEntries?: number;
}

/** service → server key → counts. `draining` is set while the server's connections drain. */
export type TcpStats = Record<string, Record<string, { activeConnections: number; draining?: boolean; drainingUntil?: number }>>;

/** A tcp service in this process: the shared service runtime, plus source-IP persistence. */
interface ServiceState {
  /** Picker, connections per server (connecting or established) and their drains. */
  readonly runtime: ServiceRuntime<Connection>;
  sticky: SourceTable | undefined;
  lastNoServerWarn: number;
}

interface Connection {
  readonly client: net.Socket;
  readonly listener: ListenerSnapshot;
  readonly listenerId: string;
  readonly state: ServiceState;
  readonly clientIp: string;
  readonly clientPort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  server: ServerSnapshot | undefined;
  /** Its server's connections in the service runtime, while it has a server. */
  tracked: ServerFlows<Connection, never> | undefined;
  upstream: net.Socket | undefined;
  /** Server → client reads (one per connection, reattached on each connect attempt). */
  relay: Relay | undefined;
  /** Client → server reads, when the client socket could be adopted (else `stream.pipe`). */
  inbound: Relay | undefined;
  labels: Labels | undefined;
  established: boolean;
  headerBytes: number;
  flushedIn: number;
  flushedOut: number;
  readonly excluded: Set<string>;
  connectTimer: NodeJS.Timeout | undefined;
  /** What the idle check saw last (bytes read by each side, bytes waiting in each side's writes), and when it last changed (monotonic ms). */
  seen: [number, number, number, number];
  movedAt: number;
  done: boolean;
  /** Positions in `TcpProxy.all` and in its server's list (SlotList). */
  allSlot: number;
  inflightSlot: number;
  /** The access line of this connection, written at its close; undefined when not logged. */
  access: TcpAccess | undefined;
}

/** What the access line needs beyond the connection itself (monotonic ms). */
interface TcpAccess {
  readonly startedAt: number;
  attemptAt: number;
  connectedAt: number;
  /** The first reason the connection ended: who closed first, or why the balancer did. */
  ended: Termination | undefined;
}

const M_CONNECTIONS = "ballast_tcp_connections_total";
const H_CONNECTIONS = "TCP/TLS connections established to a server.";
const M_BYTES_IN = "ballast_tcp_bytes_in_total";
const H_BYTES_IN = "Payload bytes forwarded from clients to a server (PROXY headers excluded).";
const M_BYTES_OUT = "ballast_tcp_bytes_out_total";
const H_BYTES_OUT = "Bytes forwarded from a server to its clients.";
const M_CONNECT_FAILURES = "ballast_tcp_connect_failures_total";
const H_CONNECT_FAILURES = "Connections to a server that failed before any byte was sent (refused, error, timeout).";
const M_NO_SERVER = "ballast_tcp_no_server_total";
const H_NO_SERVER = "Client connections closed because no usable server was left.";
const M_CLOSED = "ballast_tcp_closed_total";
const H_CLOSED = "Client connections closed by the balancer, by reason (idle, drain, shutdown).";

export class TcpProxy {
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly now: () => number;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly maxSourceEntries: number | undefined;
  private readonly services = new Map<string, ServiceState>();
  /** Services removed from the configuration whose connections still drain. */
  private readonly retired = new Set<ServiceState>();
  /** Every open client connection, including those of removed services and listeners. */
  private readonly all = new SlotList<Connection>("allSlot");
  private readonly buffers = new ReadBuffers();
  private listenerIds = new Set<string>();
  private health: HealthTable = {};
  private readonly housekeeping: NodeJS.Timeout;
  private readonly idleCheck: NodeJS.Timeout;
  private closing = false;
  private readonly access: AccessLog;

  constructor(opts: TcpProxyOptions) {
    this.log = opts.log;
    this.access = new AccessLog(opts.log.access);
    this.metrics = opts.metrics;
    this.now = opts.now;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.maxAttempts = Math.max(1, opts.maxConnectAttempts ?? DEFAULT_MAX_CONNECT_ATTEMPTS);
    this.maxSourceEntries = opts.maxSourceEntries;
    this.housekeeping = setInterval(() => this.tidy(), HOUSEKEEPING_MS);
    this.housekeeping.unref();
    this.idleCheck = setInterval(() => this.closeIdle(), Math.max(10, Math.min(HOUSEKEEPING_MS, this.idleTimeoutMs / 4)));
    this.idleCheck.unref();
  }

  /**
   * Swaps in a new configuration. Services and servers that remain keep their connections, picker
   * state and sticky clients. Which connections drain is the service runtime's rule (core/drain.ts);
   * what is TCP's own: a removed listener's connections drain too.
   */
  apply(snapshot: Snapshot): void {
    const next = new Map<string, ServiceSnapshot>();
    for (const svc of Object.values(snapshot.services)) if (svc.protocol === "tcp") next.set(svc.name, svc);
    this.listenerIds = new Set(snapshot.listeners.map(listenerIdentity));

    for (const [name, state] of this.services) {
      if (next.has(name)) continue;
      // The service is gone: its connections drain under its last drain timeout.
      this.services.delete(name);
      state.runtime.retire();
      if (state.runtime.active > 0) this.retired.add(state);
    }
    for (const [name, svc] of next) {
      const state = this.services.get(name);
      if (!state) {
        const runtime = new ServiceRuntime<Connection>(svc, { log: this.log, now: this.now, expire: (c) => this.abort(c, "drain") });
        runtime.setHealth(this.health[name]);
        this.services.set(name, { runtime, sticky: this.stickyFor(svc, undefined), lastNoServerWarn: 0 });
        continue;
      }
      state.runtime.update(svc);
      state.sticky = this.stickyFor(svc, state.sticky);
    }
    for (const c of [...this.all]) {
      if (this.listenerIds.has(c.listenerId)) continue;
      c.state.runtime.drain(c, "listener");
    }
  }

  /** The health table pushed by the primary; existing connections are never closed by it. */
  setHealth(table: HealthTable): void {
    this.health = table;
    for (const [name, state] of this.services) state.runtime.setHealth(table[name]);
  }

  /**
   * Takes over an accepted client socket of a tcp or tls listener (a TLS socket arrives already
   * terminated). The socket is owned by the proxy from here on and always ends up destroyed.
   */
  handle(socket: net.Socket, listener: ListenerSnapshot): void {
    socket.on("error", (err) => this.log.debug({ err, listener: listener.name }, "client socket error"));
    // Half-close must survive the client's FIN until the server's reply is flushed.
    socket.allowHalfOpen = true;
    // The client's bytes go through reused read buffers too, once its server is connected (`pipe`).
    // Adopted, the socket stops reading at `pause()`; the bytes wait in the kernel meanwhile.
    const inbound = this.buffers.relay();
    const adopted = adoptReads(socket, inbound.onread);
    if (adopted) inbound.attach(socket);
    socket.pause();
    const state = this.services.get(listener.service);
    const clientIp = socket.remoteAddress;
    if (this.closing || !state || clientIp === undefined || socket.destroyed) {
      if (!state && !this.closing) this.log.error({ listener: listener.name, service: listener.service }, "tcp listener names no tcp service");
      socket.destroy();
      return;
    }
    const c: Connection = {
      client: socket,
      listener,
      listenerId: listenerIdentity(listener),
      state,
      clientIp,
      clientPort: socket.remotePort,
      localAddress: socket.localAddress,
      localPort: socket.localPort,
      server: undefined,
      tracked: undefined,
      upstream: undefined,
      relay: undefined,
      inbound: adopted ? inbound : undefined,
      labels: undefined,
      established: false,
      headerBytes: 0,
      flushedIn: 0,
      flushedOut: 0,
      excluded: new Set(),
      connectTimer: undefined,
      seen: [0, 0, 0, 0],
      movedAt: 0,
      done: false,
      allSlot: -1,
      inflightSlot: -1,
      access: this.access.sampled(listener) ? { startedAt: monotonicMs(), attemptAt: -1, connectedAt: -1, ended: undefined } : undefined,
    };
    this.all.add(c);
    socket.setNoDelay(true);
    socket.on("close", () => this.onClientClose(c));
    this.connectNext(c);
  }

  stats(): TcpStats {
    const out: TcpStats = {};
    for (const state of [...this.services.values(), ...this.retired]) {
      const load = state.runtime.load();
      if (load.size === 0) continue;
      const svc = (out[state.runtime.service.name] ??= {});
      for (const [key, l] of load) {
        // A service removed and added again: the old one's draining connections count too.
        const row = (svc[key] ??= { activeConnections: 0 });
        row.activeConnections += l.active;
        if (l.drainingUntil === undefined) continue;
        row.draining = true;
        row.drainingUntil = Math.max(row.drainingUntil ?? 0, l.drainingUntil);
      }
    }
    return out;
  }

  /** Open client connections per listener name (the connection gauge). */
  connectionsByListener(): Map<string, number> {
    const out = new Map<string, number>();
    for (const c of this.all) out.set(c.listener.name, (out.get(c.listener.name) ?? 0) + 1);
    return out;
  }

  /**
   * Bytes held in this process's socket buffers right now, over all connections: read but not yet
   * forwarded, or written but not yet taken by the kernel. Bounded by the sockets' high-water marks
   * per connection when backpressure works; a diagnostic for tests and debugging (O(connections)).
   */
  buffered(): { toServers: number; toClients: number } {
    let toServers = 0;
    let toClients = 0;
    for (const c of this.all) {
      toServers += c.client.readableLength + (c.upstream?.writableLength ?? 0);
      toClients += c.client.writableLength + (c.upstream?.readableLength ?? 0);
    }
    return { toServers, toClients };
  }

  /** Server → client read buffers: allocated, given up to pending writes, kept free (diagnostics). */
  readBufferStats(): { allocated: number; givenToWrites: number; free: number } {
    return this.buffers.stats();
  }

  /**
   * Shutdown: no new connections are taken; open ones may finish for up to `graceMs`, then the rest
   * are destroyed. Resolves when every connection is closed.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    clearInterval(this.housekeeping);
    clearInterval(this.idleCheck);
    if (this.all.size > 0) {
      await new Promise<void>((resolve) => {
        const deadline = setTimeout(() => {
          for (const c of [...this.all]) this.abort(c, "shutdown");
          finish();
        }, Math.max(0, graceMs));
        const poll = setInterval(() => {
          if (this.all.size === 0) finish();
        }, 50);
        const finish = () => {
          clearTimeout(deadline);
          clearInterval(poll);
          resolve();
        };
      });
    }
    for (const state of [...this.services.values(), ...this.retired]) state.runtime.stopDraining();
    this.tidy();
  }

  /** Picks the next server for `c` (sticky first) and connects; closes the client when none is left. */
  private connectNext(c: Connection): void {
    const { state } = c;
    if (c.client.destroyed || c.done) return this.finish(c);
    const server = c.excluded.size < this.maxAttempts ? this.choose(c) : undefined;
    if (!server) {
      this.noServer(c);
      return;
    }
    c.server = server;
    c.labels = { listener: c.listener.name, service: state.runtime.service.name, server: serverLabel(server.address, server.port) };
    c.tracked = state.runtime.track(server, c);
    state.sticky?.open(c.clientIp, server.key);
    if (c.access) c.access.attemptAt = monotonicMs();

    const relay = (c.relay ??= this.buffers.relay(c.client));
    const upstream = net.connect({ host: server.address, port: server.port, allowHalfOpen: true, onread: relay.onread });
    relay.attach(upstream);
    c.upstream = upstream;
    c.connectTimer = setTimeout(() => this.connectFailed(c, upstream, "timeout"), this.connectTimeoutMs);
    upstream.once("connect", () => this.onConnect(c, upstream));
    upstream.on("error", (err) => {
      if (!c.established) this.connectFailed(c, upstream, (err as NodeJS.ErrnoException).code === "ECONNREFUSED" ? "refused" : "error", err);
      else this.log.debug({ err, ...c.labels }, "server socket error");
    });
    upstream.on("close", () => this.onUpstreamClose(c, upstream));
  }

  private choose(c: Connection): ServerSnapshot | undefined {
    const { sticky } = c.state;
    const picker = c.state.runtime.picker;
    if (sticky) {
      const key = sticky.lookup(c.clientIp, this.now());
      if (key !== undefined && !c.excluded.has(key) && picker.isUsable(key)) return picker.byKey(key);
      // A client new to this worker's table: hash it, so that every worker (and replica) sends it
      // to the same server and its later connections stick whichever worker accepts them.
      return picker.pickConsistent(c.clientIp, c.excluded);
    }
    return picker.pickExcluding(c.clientIp, c.excluded);
  }

  private noServer(c: Connection): void {
    const { state } = c;
    this.metrics.inc(M_NO_SERVER, H_NO_SERVER, { listener: c.listener.name, service: state.runtime.service.name });
    const now = this.now();
    if (now - state.lastNoServerWarn >= NO_SERVER_WARN_MS) {
      state.lastNoServerWarn = now;
      this.log.warn({ listener: c.listener.name, service: state.runtime.service.name, tried: [...c.excluded] }, "no usable server: client connection closed");
    }
    if (c.access) c.access.ended ??= c.excluded.size > 0 ? "connect_failed" : "no_server";
    c.client.destroy();
    this.finish(c);
  }

  private connectFailed(c: Connection, upstream: net.Socket, reason: string, err?: unknown): void {
    if (c.upstream !== upstream || c.established) return;
    if (c.connectTimer) clearTimeout(c.connectTimer);
    c.connectTimer = undefined;
    upstream.destroy();
    const server = c.server!;
    this.metrics.inc(M_CONNECT_FAILURES, H_CONNECT_FAILURES, { ...c.labels, reason });
    this.log.debug({ err, ...c.labels, reason }, "server connect failed");
    this.detach(c, false);
    c.state.sticky?.abandon(c.clientIp, server.key);
    c.excluded.add(server.key);
    c.upstream = undefined;
    c.server = undefined;
    this.connectNext(c);
  }

  private onConnect(c: Connection, upstream: net.Socket): void {
    if (c.upstream !== upstream) return;
    if (c.connectTimer) clearTimeout(c.connectTimer);
    c.connectTimer = undefined;
    if (c.client.destroyed) {
      upstream.destroy();
      return;
    }
    c.established = true;
    if (c.access) c.access.connectedAt = monotonicMs();
    upstream.setNoDelay(true);
    this.metrics.inc(M_CONNECTIONS, H_CONNECTIONS, c.labels);
    const version = c.state.runtime.service.proxyProtocol;
    if (version === "off") return this.pipe(c, upstream);
    // The header is the first write; client bytes are piped only once it has been handed to the kernel.
    const header = encodeHeader(version, { address: c.clientIp, port: c.clientPort }, { address: c.localAddress, port: c.localPort });
    c.headerBytes = header.length;
    upstream.write(header, (err) => {
      if (err) upstream.destroy();
      else if (!upstream.destroyed) this.pipe(c, upstream);
    });
  }

  private pipe(c: Connection, upstream: net.Socket): void {
    const { client } = c;
    c.movedAt = monotonicMs();
    if (c.inbound) {
      // Reads are written to the server as they come, paused while it is full; the FIN is passed on.
      client.once("end", () => {
        if (c.access) c.access.ended ??= "client_closed";
        upstream.end();
      });
      c.inbound.target(upstream);
    } else {
      // pipe() forwards 'end' as end() (half-close) and pauses the source while the destination is full.
      client.pipe(upstream);
      if (c.access) client.once("end", () => void (c.access!.ended ??= "client_closed"));
    }
    // The server's bytes already flow through the relay (since connect); its FIN is forwarded the
    // same way. resume() lets the socket emit 'end'; no byte goes through its stream.
    upstream.once("end", () => {
      if (c.access) c.access.ended ??= "server_closed";
      client.end();
    });
    upstream.resume();
  }

  private onClientClose(c: Connection): void {
    if (c.access) c.access.ended ??= "client_closed";
    const up = c.upstream;
    if (!c.established || !up) {
      up?.destroy();
      this.finish(c);
      return;
    }
    // A clean close (FIN both ways) leaves the server side flushing the client's last bytes: it ends
    // by itself (bounded by the idle timeout). Anything else (reset, destroy) is passed on at once.
    if (!up.destroyed && !closedCleanly(c.client)) up.destroy();
    this.finishIfClosed(c);
  }

  private onUpstreamClose(c: Connection, upstream: net.Socket): void {
    if (c.upstream !== upstream || !c.established) return;
    if (c.access) c.access.ended ??= "server_closed";
    if (!c.client.destroyed && !closedCleanly(upstream)) c.client.destroy();
    this.finishIfClosed(c);
  }

  private finishIfClosed(c: Connection): void {
    if (c.client.destroyed && (!c.upstream || c.upstream.destroyed)) this.finish(c);
  }

  /** Closes both sides now (idle timeout, drain deadline, shutdown). */
  private abort(c: Connection, reason: "idle" | "drain" | "shutdown"): void {
    if (c.done) return;
    this.metrics.inc(M_CLOSED, H_CLOSED, { listener: c.listener.name, service: c.state.runtime.service.name, reason });
    this.log.debug({ ...c.labels, listener: c.listener.name, reason }, "tcp connection closed by the balancer");
    if (c.access) c.access.ended ??= reason === "idle" ? "idle_timeout" : reason === "drain" ? "drained" : "shutdown";
    c.upstream?.destroy();
    c.client.destroy();
    this.finish(c);
  }

  /** Removes `c` from its server's books: the connection is `over`, or its connect failed. */
  private detach(c: Connection, over: boolean): void {
    const tracked = c.tracked;
    c.tracked = undefined;
    if (tracked) c.state.runtime.untrack(tracked, c, over);
    else if (over) c.state.runtime.forget(c);
  }

  private finish(c: Connection): void {
    if (c.done) return;
    c.done = true;
    if (c.connectTimer) clearTimeout(c.connectTimer);
    c.connectTimer = undefined;
    this.flushBytes(c);
    if (c.server && c.established) c.state.sticky?.close(c.clientIp, c.server.key, this.now());
    else if (c.server) c.state.sticky?.abandon(c.clientIp, c.server.key);
    this.detach(c, true);
    this.all.delete(c);
    if (this.retired.has(c.state) && c.state.runtime.active === 0) this.retired.delete(c.state);
    if (!c.client.destroyed) c.client.destroy();
    if (c.upstream && !c.upstream.destroyed) c.upstream.destroy();
    c.relay?.release();
    c.inbound?.release();
    if (c.access) this.writeAccess(c, c.access);
  }

  private writeAccess(c: Connection, a: TcpAccess): void {
    const up = c.upstream;
    const connected = c.established && up !== undefined;
    this.access.write({
      listener: c.listener.name,
      client: endpoint(c.clientIp.startsWith("::ffff:") && c.clientIp.includes(".") ? c.clientIp.slice(7) : c.clientIp, c.clientPort),
      bytesIn: connected ? Math.max(0, up.bytesWritten - c.headerBytes) : 0,
      bytesOut: connected ? up.bytesRead : 0,
      service: c.state.runtime.service.name,
      server: c.server ? serverLabel(c.server.address, c.server.port) : "",
      connectMs: connected ? spanMs(a.attemptAt, a.connectedAt) : -1,
      firstByteMs: -1,
      totalMs: spanMs(a.startedAt, monotonicMs()),
      // Every server in `excluded` failed to connect; without a connection the last failure was the attempt itself.
      retries: connected ? c.excluded.size : Math.max(0, c.excluded.size - 1),
      termination: a.ended ?? "client_closed",
    });
  }

  /** Adds the bytes moved since the last flush to the counters (at close and every few seconds). */
  private flushBytes(c: Connection): void {
    const up = c.upstream;
    if (!up || !c.established || !c.labels) return;
    const bytesIn = Math.max(0, up.bytesWritten - c.headerBytes);
    const bytesOut = up.bytesRead;
    if (bytesIn > c.flushedIn) this.metrics.inc(M_BYTES_IN, H_BYTES_IN, c.labels, bytesIn - c.flushedIn);
    if (bytesOut > c.flushedOut) this.metrics.inc(M_BYTES_OUT, H_BYTES_OUT, c.labels, bytesOut - c.flushedOut);
    c.flushedIn = Math.max(c.flushedIn, bytesIn);
    c.flushedOut = Math.max(c.flushedOut, bytesOut);
  }

  private stickyFor(svc: ServiceSnapshot, current: SourceTable | undefined): SourceTable | undefined {
    const p = svc.sessionPersistence;
    if (!p || p.type !== "source-ip") return undefined;
    if (current) {
      current.setTimeout(p.timeout);
      return current;
    }
    return new SourceTable(p.timeout, this.maxSourceEntries);
  }

  /**
   * Closes the established connections on which nothing moved for the idle timeout: no byte read
   * on either side and no write progressing (a reader slowly draining what the proxy wrote keeps
   * its connection, as Node's socket timeout counts completed writes).
   */
  private closeIdle(): void {
    const now = monotonicMs();
    for (const c of this.all.toArray()) {
      const up = c.upstream;
      if (!c.established || !up) continue;
      const seen = c.seen;
      const a = c.client.bytesRead;
      const b = up.bytesRead;
      const w = c.client.writableLength;
      const x = up.writableLength;
      if (a !== seen[0] || b !== seen[1] || w !== seen[2] || x !== seen[3]) {
        seen[0] = a;
        seen[1] = b;
        seen[2] = w;
        seen[3] = x;
        c.movedAt = now;
      } else if (now - c.movedAt >= this.idleTimeoutMs) this.abort(c, "idle");
    }
  }

  private tidy(): void {
    for (const c of this.all) this.flushBytes(c);
    const now = this.now();
    for (const state of this.services.values()) state.sticky?.sweep(now);
  }
}

/** Both directions finished without an error: a FIN was received and our own FIN was flushed. */
function closedCleanly(s: net.Socket): boolean {
  return !s.errored && s.readableEnded && s.writableFinished;
}
