import type { ServerSnapshot, ServiceSnapshot } from "../../config/snapshot";
import { serverLabel, type ServerHealth } from "../core/server-health";
import type { Logger } from "../../log";
import type { Metrics } from "../../metrics";
import type { Clock } from "../../clock";
import type { UpstreamConnectionStates } from "./h1/upstream-connection";
import { UpstreamPool as Pool } from "./h1/upstream-pool";
import type { ServicePicker } from "../core/service-picker";
import { ServiceRuntime, type Flow, type ServerFlows } from "../core/service-runtime";
import { cookieName } from "./cookie";
import { ErrorCodes, codedError } from "./error-codes";
import type { HttpLimits } from "./limits";

/**
 * One HTTP backend service in a worker: the protocol-neutral `ServiceRuntime` (picker, requests in
 * flight per server, draining: core/service-runtime.ts and core/drain.ts) plus what HTTP keeps per
 * server, a keep-alive `UpstreamPool`. A server that leaves has its pool closed gracefully at
 * once (running requests finish, idle connections close); a request still running at its drain
 * deadline is aborted with `BALLAST_DRAINED` (docs/errors.md), which closes the pool's last connections.
 */

/** A request or tunnel in flight to one server; `abort` ends it (drain deadline, shutdown). */
export interface InFlight extends Flow {
  abort(reason: Error): void;
}

const ACTIVE = "ballast_http_active_requests";
const ACTIVE_HELP = "HTTP requests (and upgraded tunnels) in flight to a server, per worker.";

/**
 * One server of the service as a request sees it: its keep-alive pool (created on the first
 * request), what is in flight to it and its tally in the picker. A request holds it from `track`
 * to `untrack`, so counting a request costs no lookup by key.
 */
export type Upstream = ServerFlows<InFlight, Pool>;

export class ServiceUpstreams {
  readonly runtime: ServiceRuntime<InFlight, Pool>;
  /** The insertion cookie's name (`BALLAST_<service>`): the service's name never changes. */
  readonly cookieName: string;
  /** Pools of servers that left, closing gracefully (running requests finish). */
  private readonly retiring = new Set<Pool>();

  constructor(
    svc: ServiceSnapshot,
    private readonly deps: { log: Logger; metrics: Metrics; clock: Clock; limits: HttpLimits },
  ) {
    this.runtime = new ServiceRuntime<InFlight, Pool>(svc, {
      log: deps.log,
      now: () => deps.clock.now(),
      expire: (f) => f.abort(codedError("drain timeout expired", ErrorCodes.drained)),
      left: (u) => this.retirePool(u),
    });
    this.cookieName = cookieName(svc.name);
  }

  get picker(): ServicePicker {
    return this.runtime.picker;
  }

  get service(): ServiceSnapshot {
    return this.runtime.service;
  }

  update(svc: ServiceSnapshot): void {
    this.runtime.update(svc);
  }

  setHealth(byServer: Readonly<Record<string, ServerHealth>> | undefined): void {
    this.runtime.setHealth(byServer);
  }

  /** Timeouts of every exchange and upstream connection of this service; `now` is monotonicMs(). */
  sweep(now: number): void {
    for (const u of this.runtime.allServers()) u.attachment?.sweep(now);
    for (const p of this.retiring) p.sweep(now);
  }

  /**
   * Counts a request/tunnel in flight to `server` (for wlc, stats and draining) and returns the
   * server's upstream, which `untrack` takes back.
   */
  track(server: ServerSnapshot, f: InFlight): Upstream {
    return this.runtime.track(server, f);
  }

  untrack(u: Upstream, f: InFlight): void {
    this.runtime.untrack(u, f);
  }

  /** The keep-alive pool of a tracked server, created on first use. */
  pool(server: ServerSnapshot, u: Upstream): Pool {
    return (u.attachment ??= new Pool(server.address, server.port, this.deps.limits));
  }

  /**
   * Sets the in-flight gauge of every server of the service; runs when metrics are collected
   * (setting it on every track/untrack costs CPU under load: docs/benchmarks.md).
   */
  collectGauges(): void {
    for (const s of this.service.servers) this.gauge(s);
  }

  /** Requests in flight per server key, and upstream connections open per server key. */
  stats(): Record<string, { activeRequests: number; activeConnections: number; drainingUntil?: number }> {
    const out: Record<string, { activeRequests: number; activeConnections: number; drainingUntil?: number }> = {};
    const load = this.runtime.load();
    const keys = new Set([...this.service.servers.map((s) => s.key), ...[...this.runtime.allServers()].map((u) => u.key)]);
    for (const key of keys) {
      const l = load.get(key);
      const until = l?.drainingUntil;
      out[key] = { activeRequests: l?.active ?? 0, activeConnections: this.runtime.server(key)?.attachment?.connected ?? 0, ...(until !== undefined ? { drainingUntil: until } : {}) };
    }
    return out;
  }

  /** Upstream connections per server key by state (diagnostics and tests). */
  connectionStates(): Record<string, UpstreamConnectionStates> {
    const out: Record<string, UpstreamConnectionStates> = {};
    for (const u of this.runtime.allServers()) if (u.attachment) out[u.key] = u.attachment.connectionStates();
    return out;
  }

  /** Total requests/tunnels in flight. */
  get active(): number {
    return this.runtime.active;
  }

  /** The whole service goes away: every request drains with the service's timeout. */
  retireAll(): void {
    this.runtime.retire();
  }

  /** Aborts everything in flight now and destroys every pool (shutdown after the grace period). */
  async destroy(reason: Error): Promise<void> {
    this.runtime.stopDraining();
    for (const f of this.runtime.flows()) f.abort(reason);
    const pools = [...this.retiring];
    for (const u of this.runtime.allServers()) {
      if (u.attachment) pools.push(u.attachment);
      u.attachment = undefined;
    }
    this.retiring.clear();
    await Promise.all(pools.map((p) => p.destroy(reason).catch(() => {})));
  }

  /** The server left: its pool closes gracefully (running requests finish, then its connections close). */
  private retirePool(u: Upstream): void {
    const pool = u.attachment;
    if (!pool) return;
    u.attachment = undefined;
    this.retiring.add(pool);
    pool.close().then(
      () => this.retiring.delete(pool),
      () => this.retiring.delete(pool),
    );
  }

  private gauge(server: ServerSnapshot): void {
    this.deps.metrics.set(ACTIVE, ACTIVE_HELP, { service: this.service.name, server: serverLabel(server.address, server.port) }, this.runtime.activeOf(server.key));
  }
}
