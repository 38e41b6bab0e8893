import net from "node:net";
import type tls from "node:tls";
import type { ListenerSnapshot, Snapshot } from "../config/snapshot";
import { serverLabel, type HealthTable } from "./core/server-health";
import type { Logger } from "../log";
import { Metrics } from "../metrics";
import { ListenError } from "../runtime/traffic-runtime";
import { systemClock, type Clock } from "../clock";
import type { ClientConnection, DownstreamHandler } from "./http/h1/client-connection";
import { HttpProxy } from "./http/http-proxy";
import { SlotList } from "./core/slot-list";
import type { HttpLimits } from "./http/limits";
import { TcpProxy, type TcpProxyOptions } from "./tcp/tcp-proxy";

/**
 * The traffic side of one worker process: the listeners and the proxies behind them.
 *
 * `apply(snapshot)` binds listeners that are new, keeps those that remain (a listener whose service
 * changed just switches; a new certificate is swapped in with `setSecureContext`), and closes those
 * that are gone (they stop accepting; requests and connections in flight finish, subject to
 * draining). Listeners are identified by port (protocol and port are immutable), so renaming a
 * listener keeps its socket. New listeners serve nothing until the whole snapshot is committed;
 * if any port cannot be bound the new ones are closed, the previous configuration stays exactly as
 * it was, and `apply` rejects with `ListenError`.
 *
 * Port 0 (only reachable in tests: the model requires 1–65535) binds an ephemeral port, reported by
 * `listeningPort(name)`; such listeners are identified by name instead.
 */

export interface EngineOptions {
  readonly log: Logger;
  /** Address every listener binds to. Default "0.0.0.0". */
  readonly host?: string;
  /** Default: a new registry (read it from `engine.metrics`). */
  readonly metrics?: Metrics;
  /** Default: the system clock. Its `now` dates slow start and drain deadlines (drain timers are Node's: core/drain.ts). */
  readonly clock?: Clock;
  /** HTTP timeouts and limits; see `HttpLimits` for each default. */
  readonly http?: Partial<HttpLimits>;
  /** TCP proxy tuning (connect/idle timeouts, attempts). */
  readonly tcp?: Omit<TcpProxyOptions, "log" | "metrics" | "now">;
  /**
   * Each listener binds a socket of its own with `SO_REUSEPORT` (a fixed port only), so that the
   * kernel spreads new connections over every process listening on the port by a hash of their
   * addresses. Cluster workers set it; a shared socket lets whichever worker is awake take a whole
   * burst of connections (docs/benchmarks.md, Multi-core).
   */
  readonly reusePort?: boolean;
}

/** service → server key → counts in this process. */
export type EngineStats = Record<string, Record<string, { activeConnections: number; activeRequests: number; drainingUntil?: number }>>;

type AnyServer = net.Server | tls.Server;

/** node:tls, loaded when the first https or tls listener is: it costs an idle process 3 MB RSS. */
const loadTls = () => require("node:tls") as typeof import("node:tls");

interface ListenerState {
  readonly id: string;
  listener: ListenerSnapshot;
  readonly server: AnyServer;
  /** The port actually bound (differs from `listener.port` only for port 0). */
  readonly port: number;
  /** Set while the snapshot that opened it is not yet committed: requests wait for it. */
  gate: Promise<boolean> | undefined;
  closed: boolean;
  /** Open client connections of an HTTP/HTTPS listener. */
  readonly clients: SlotList<ClientConnection>;
}

const LISTENER_CONNECTIONS = "ballast_listener_active_connections";
const LISTENER_CONNECTIONS_HELP = "Client connections open now, by listener.";
const SERVER_CONNECTIONS = "ballast_server_active_connections";
const SERVER_CONNECTIONS_HELP = "Connections to the server open now (HTTP keep-alive pool and TCP), by service and server.";
const CLIENT_ERRORS = "ballast_http_client_errors_total";
const CLIENT_ERRORS_HELP = "Requests refused before proxying (malformed, oversized head, too slow), by listener and status.";

export class Engine {
  readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly host: string;
  private readonly reusePort: boolean;
  private readonly clock: Clock;
  private readonly http: HttpProxy;
  private readonly tcp: TcpProxy;
  private readonly listeners = new Map<string, ListenerState>();
  private applying: Promise<void> = Promise.resolve();
  private closing = false;

  constructor(opts: EngineOptions) {
    this.log = opts.log;
    this.host = opts.host ?? "0.0.0.0";
    this.reusePort = opts.reusePort ?? false;
    this.metrics = opts.metrics ?? new Metrics();
    this.clock = opts.clock ?? systemClock;
    const now = () => this.clock.now();
    this.http = new HttpProxy({ log: this.log.child({ component: "http-proxy" }), metrics: this.metrics, clock: this.clock, ...(opts.http ? { limits: opts.http } : {}) });
    this.tcp = new TcpProxy({ ...opts.tcp, log: this.log.child({ component: "tcp-proxy" }), metrics: this.metrics, now });
    this.metrics.addCollector(() => this.collectConnections());
  }

  /** The connection gauges, set whole at each collection (a removed listener or server leaves none). */
  private collectConnections(): void {
    const m = this.metrics;
    m.clear(LISTENER_CONNECTIONS);
    m.clear(SERVER_CONNECTIONS);
    const tcp = this.tcp.connectionsByListener();
    for (const st of this.listeners.values()) {
      const name = st.listener.name;
      const open = st.listener.protocol === "http" || st.listener.protocol === "https" ? st.clients.size : (tcp.get(name) ?? 0);
      m.set(LISTENER_CONNECTIONS, LISTENER_CONNECTIONS_HELP, { listener: name }, open);
    }
    for (const [service, servers] of Object.entries(this.stats())) {
      for (const [key, s] of Object.entries(servers)) {
        const sep = key.lastIndexOf("|");
        m.set(SERVER_CONNECTIONS, SERVER_CONNECTIONS_HELP, { service, server: serverLabel(key.slice(0, sep), Number(key.slice(sep + 1))) }, s.activeConnections);
      }
    }
  }

  /** Makes `snapshot` live. Calls are serialized: one apply finishes before the next starts. */
  apply(snapshot: Snapshot): Promise<void> {
    const run = this.applying.then(() => this.applyNow(snapshot));
    this.applying = run.catch(() => {});
    return run;
  }

  setHealth(table: HealthTable): void {
    this.http.setHealth(table);
    this.tcp.setHealth(table);
  }

  /** The port a listener is bound to (tests bind port 0). */
  listeningPort(name: string): number | undefined {
    for (const st of this.listeners.values()) if (st.listener.name === name && !st.closed) return st.port;
    return undefined;
  }

  stats(): EngineStats {
    const out: EngineStats = {};
    for (const [service, servers] of Object.entries(this.http.stats())) {
      const row = (out[service] ??= {});
      for (const [key, s] of Object.entries(servers)) {
        row[key] = { activeConnections: s.activeConnections, activeRequests: s.activeRequests, ...(s.drainingUntil !== undefined ? { drainingUntil: s.drainingUntil } : {}) };
      }
    }
    for (const [service, servers] of Object.entries(this.tcp.stats())) {
      const row = (out[service] ??= {});
      for (const [key, s] of Object.entries(servers)) {
        const cur = (row[key] ??= { activeConnections: 0, activeRequests: 0 });
        cur.activeConnections += s.activeConnections;
        if (s.drainingUntil !== undefined) cur.drainingUntil = Math.max(cur.drainingUntil ?? 0, s.drainingUntil);
      }
    }
    return out;
  }

  /** HTTP upstream connections per service and server key, by state (diagnostics and tests). */
  upstreamConnections(): ReturnType<HttpProxy["connectionStates"]> {
    return this.http.connectionStates();
  }

  /** Stops accepting, lets in-flight requests and connections finish for up to `graceMs`, then closes everything. */
  async close(graceMs: number): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.applying;
    const states = [...this.listeners.values()];
    this.listeners.clear();
    const closed = states.map((st) => this.stopListening(st));
    await Promise.all([this.http.close(graceMs), this.tcp.close(graceMs)]);
    for (const st of states) for (const c of [...st.clients]) c.socket.destroy();
    // Bounded: every connection has been destroyed above, 'close' follows promptly.
    await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  private async applyNow(snapshot: Snapshot): Promise<void> {
    if (this.closing) return;
    const desired = new Map(snapshot.listeners.map((l) => [identity(l), l]));
    const opened: ListenerState[] = [];
    /** Listeners on a port whose protocol changed: closed before the new one binds, restored on failure. */
    const displaced: ListenerState[] = [];
    let release!: (ok: boolean) => void;
    const gate = new Promise<boolean>((r) => (release = r));
    try {
      for (const [id, l] of desired) {
        const cur = this.listeners.get(id);
        if (cur && cur.listener.protocol === l.protocol) continue;
        if (cur) {
          displaced.push(cur);
          await this.stopListening(cur);
        }
        opened.push(await this.bind(id, l, gate));
      }
    } catch (err) {
      release(false);
      await Promise.all(opened.map((st) => this.stopListening(st)));
      for (const st of displaced) await this.relisten(st);
      throw err;
    }

    // Commit: proxies first, so the first request on a new listener finds its service.
    this.http.apply(snapshot);
    this.tcp.apply(snapshot);
    for (const [id, l] of desired) {
      const cur = this.listeners.get(id);
      if (!cur || displaced.includes(cur)) continue;
      if (l.certificate && JSON.stringify(l.certificate) !== JSON.stringify(cur.listener.certificate)) {
        try {
          (cur.server as tls.Server).setSecureContext({ cert: l.certificate.chain, key: l.certificate.privateKey });
        } catch (err) {
          this.log.error({ listener: l.name, err }, "new certificate refused; keeping the previous one");
        }
      }
      cur.listener = l;
    }
    for (const [id, st] of this.listeners) {
      if (!desired.has(id)) {
        this.listeners.delete(id);
        void this.stopListening(st);
        this.log.info({ listener: st.listener.name, port: st.port }, "listener closed");
      }
    }
    for (const st of displaced) this.listeners.delete(st.id);
    for (const st of opened) {
      st.gate = undefined;
      this.listeners.set(st.id, st);
      this.log.info({ listener: st.listener.name, protocol: st.listener.protocol, port: st.port }, "listener open");
    }
    release(true);
  }

  private bind(id: string, listener: ListenerSnapshot, gate: Promise<boolean>): Promise<ListenerState> {
    let server: AnyServer;
    let st: ListenerState;
    const clients = new SlotList<ClientConnection>("listenerSlot");
    try {
      server = this.createServer(listener, () => st, clients);
    } catch (err) {
      return Promise.reject(new ListenError(listener.name, listener.port, err));
    }
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(new ListenError(listener.name, listener.port, err));
      server.once("error", onError);
      server.listen(this.listenOptions(listener.port), () => {
        server.off("error", onError);
        server.on("error", (err) => this.log.error({ listener: listener.name, err }, "listener error"));
        const port = (server.address() as net.AddressInfo).port;
        st = { id, listener, server, port, gate, closed: false, clients };
        resolve(st);
      });
    });
  }

  private createServer(listener: ListenerSnapshot, state: () => ListenerState, clients: SlotList<ClientConnection>): AnyServer {
    const log = this.log;
    switch (listener.protocol) {
      case "tcp":
      case "tls": {
        const onSocket = (socket: net.Socket) => {
          const st = state();
          this.whenOpen(st, () => this.tcp.handle(socket, st.listener), () => socket.destroy());
        };
        if (listener.protocol === "tcp") return net.createServer({ pauseOnConnect: false }, onSocket);
        const server = loadTls().createServer({ cert: listener.certificate?.chain, key: listener.certificate?.privateKey }, onSocket);
        server.on("tlsClientError", (err) => log.debug({ listener: listener.name, err: err.message }, "tls handshake failed"));
        return server;
      }
      case "http":
      case "https": {
        const handler: DownstreamHandler = {
          request: (req) => {
            const st = state();
            if (!st.gate) return this.http.handle(req, httpListener(st));
            this.whenOpen(st, () => this.http.handle(req, httpListener(st)), () => req.destroy());
          },
          upgrade: (req, socket, head, pipeTo) => {
            const st = state();
            this.whenOpen(st, () => this.http.handleUpgrade(req, socket, head, pipeTo, httpListener(st)), () => socket.destroy());
          },
          clientError: (code, status, conn) => {
            if (status !== undefined) this.metrics.inc(CLIENT_ERRORS, CLIENT_ERRORS_HELP, { listener: listener.name, code: String(status) });
            log.debug({ listener: listener.name, code, status }, "client error");
            if (status !== undefined && conn) this.http.refused(httpListener(state()), conn, status);
          },
        };
        const onSocket = (socket: net.Socket) => {
          const conn = this.http.accept(socket, { closing: () => state().closed, handler: () => handler });
          clients.add(conn);
          socket.once("close", () => clients.delete(conn));
        };
        // allowHalfOpen: a client that half-closes after its request still gets the response.
        if (listener.protocol === "http") return net.createServer({ allowHalfOpen: true, noDelay: true }, onSocket);
        const server = loadTls().createServer({ allowHalfOpen: true, cert: listener.certificate?.chain, key: listener.certificate?.privateKey }, onSocket);
        // TLS handshake failures: nothing to answer, node destroys the socket.
        server.on("tlsClientError", (err) => log.debug({ listener: listener.name, err: err.message }, "tls handshake failed"));
        return server;
      }
    }
  }

  /** Runs `go` now, or once the snapshot that opened the listener commits (`no` if it is rolled back). */
  private whenOpen(st: ListenerState, go: () => void, no: () => void): void {
    if (!st.gate) return go();
    st.gate.then((ok) => (ok ? go() : no()));
  }

  /** Stops accepting; open connections finish (HTTP keep-alive connections close once idle). */
  private stopListening(st: ListenerState): Promise<void> {
    st.closed = true;
    const server = st.server;
    if (!server.listening) return Promise.resolve();
    const done = new Promise<void>((resolve) => server.close(() => resolve()));
    if (st.clients.size > 0) {
      const closeIdle = () => {
        for (const c of st.clients) c.closeIfIdle();
      };
      closeIdle();
      // Keep-alive connections that were busy close when their response is done (Connection: close).
      const sweep = setInterval(closeIdle, 1000);
      sweep.unref();
      void done.then(() => clearInterval(sweep));
    }
    return done;
  }

  /**
   * `exclusive` makes a cluster worker bind the socket itself instead of asking the primary for a
   * shared one, which `reusePort` needs. An ephemeral port (0) is always shared: each process would
   * otherwise get a different one.
   */
  private listenOptions(port: number): net.ListenOptions {
    return this.reusePort && port !== 0 ? { port, host: this.host, exclusive: true, reusePort: true } : { port, host: this.host };
  }

  /** Re-binds a listener displaced by a failed apply. */
  private async relisten(st: ListenerState): Promise<void> {
    await new Promise<void>((resolve) => {
      st.server.once("error", (err) => {
        this.log.error({ listener: st.listener.name, port: st.port, err }, "could not restore listener after a failed apply");
        resolve();
      });
      st.server.listen(this.listenOptions(st.port), () => {
        st.closed = false;
        resolve();
      });
    });
  }
}

function identity(l: ListenerSnapshot): string {
  return l.port === 0 ? `name:${l.name}` : `port:${l.port}`;
}

/** The listener as the HTTP proxy sees it: with the port actually bound (X-Forwarded-Port). */
function httpListener(st: ListenerState): ListenerSnapshot {
  return st.listener.port === st.port ? st.listener : { ...st.listener, port: st.port };
}
