import type { ServerSnapshot, ServiceSnapshot } from "../../config/snapshot";
import { serverLabel, type ServerHealth } from "../../health/health-state";
import type { Logger } from "../../log";
import type { Metrics } from "../../metrics";
import type { Clock, TimerHandle } from "../../clock";
import type { UpstreamConnectionStates } from "./h1/upstream-connection";
import { UpstreamPool as Pool } from "./h1/upstream-pool";
import { ServicePicker, type Tally } from "../core/service-picker";
import { cookieName } from "./cookie";
import { SlotList } from "../core/slot-list";
import { ErrorCodes, codedError } from "./error-codes";
import type { HttpLimits } from "./limits";

/**
 * Everything one HTTP backend service needs in a worker: its picker, one keep-alive `UpstreamPool`
 * per server, the requests in flight per server, and connection draining.
 *
 * Draining (docs/traffic.md, "Draining"): when a server leaves the service (removed, group swapped) or its weight goes
 * to 0, new requests stop going there at once (the picker no longer offers it) while requests in
 * flight continue for up to `connectionDrainTimeout`; whatever is still running then is aborted.
 * A removed server's pool is closed gracefully right away (running requests finish)
 * and destroyed at the deadline. A server that comes back before the deadline stops draining.
 */

/** A request or tunnel in flight to one server; `abort` ends it (drain deadline, shutdown). */
export interface InFlight {
  abort(reason: Error): void;
  /** Position in the service's in-flight list of its server (SlotList); -1 when not in flight. */
  inflightSlot: number;
}

const ACTIVE = "ballast_http_active_requests";
const ACTIVE_HELP = "HTTP requests (and upgraded tunnels) in flight to a server, per worker.";

/**
 * One server of the service as a request sees it: its keep-alive pool, what is in flight to it and
 * its tally in the picker. A request holds it from `track` to `untrack`, so counting a request costs
 * no lookup by key. It stays while its server is in the service or anything is in flight to it.
 */
export interface Upstream {
  readonly key: string;
  /** Created on the first request; moved to `retiring` when the server leaves. */
  pool: Pool | undefined;
  readonly inflight: SlotList<InFlight>;
  readonly tally: Tally;
}

export class ServiceUpstreams {
  readonly picker: ServicePicker;
  /** The insertion cookie's name (`BALLAST_<service>`): the service's name never changes. */
  readonly cookieName: string;
  /** By server key. */
  private readonly upstreams = new Map<string, Upstream>();
  private readonly draining = new Map<string, TimerHandle>();
  /** Server key → epoch ms its drain deadline falls at (for the status page). */
  private readonly drainUntil = new Map<string, number>();
  /** Pools of servers that left (pool → server key), closing; destroyed at their drain deadline. */
  private readonly retiring = new Map<Pool, string>();

  constructor(
    private svc: ServiceSnapshot,
    private readonly deps: { log: Logger; metrics: Metrics; clock: Clock; limits: HttpLimits },
  ) {
    this.picker = new ServicePicker(svc, { now: () => deps.clock.now() });
    this.cookieName = cookieName(svc.name);
  }

  get service(): ServiceSnapshot {
    return this.svc;
  }

  update(svc: ServiceSnapshot): void {
    const before = this.svc;
    this.svc = svc;
    this.picker.update(svc);
    const now = new Map(svc.servers.map((s) => [s.key, s]));
    for (const old of before.servers) {
      const cur = now.get(old.key);
      if (!cur) this.retire(old.key, svc.connectionDrainTimeout);
      else if (cur.weight === 0 && old.weight > 0) this.startDrain(old.key, svc.connectionDrainTimeout);
    }
    for (const s of svc.servers) if (s.weight > 0) this.stopDrain(s.key);
    for (const [key, u] of this.upstreams) if (u.inflight.size === 0 && !now.has(key)) this.upstreams.delete(key);
  }

  setHealth(byServer: Readonly<Record<string, ServerHealth>> | undefined): void {
    this.picker.setHealth(byServer);
  }

  /** Timeouts of every exchange and upstream connection of this service; `now` is monotonicMs(). */
  sweep(now: number): void {
    for (const u of this.upstreams.values()) u.pool?.sweep(now);
    for (const p of this.retiring.keys()) p.sweep(now);
  }

  /**
   * Counts a request/tunnel in flight to `server` (for wlc, stats and draining) and returns the
   * server's upstream, which `untrack` takes back.
   */
  track(server: ServerSnapshot, f: InFlight): Upstream {
    let u = this.upstreams.get(server.key);
    if (!u) this.upstreams.set(server.key, (u = { key: server.key, pool: undefined, inflight: new SlotList<InFlight>("inflightSlot"), tally: this.picker.tally(server.key) }));
    u.inflight.add(f);
    u.tally.active++;
    return u;
  }

  untrack(u: Upstream, f: InFlight): void {
    if (!u.inflight.delete(f)) return;
    this.picker.letGo(u.tally);
    // A server that left the service: its upstream goes with its last request.
    if (u.inflight.size === 0 && !u.tally.member && this.upstreams.get(u.key) === u) this.upstreams.delete(u.key);
  }

  /** The keep-alive pool of a tracked server, created on first use. */
  pool(server: ServerSnapshot, u: Upstream): Pool {
    return (u.pool ??= new Pool(server.address, server.port, this.deps.limits));
  }

  /**
   * Sets the in-flight gauge of every server of the service; runs when metrics are collected.
   * Setting it on every track/untrack cost CPU on every request (docs/benchmarks.md).
   */
  collectGauges(): void {
    for (const s of this.svc.servers) this.gauge(s);
  }

  /** Requests in flight per server key, and upstream connections open per server key. */
  stats(): Record<string, { activeRequests: number; activeConnections: number; drainingUntil?: number }> {
    const out: Record<string, { activeRequests: number; activeConnections: number; drainingUntil?: number }> = {};
    const keys = new Set([...this.svc.servers.map((s) => s.key), ...this.upstreams.keys()]);
    for (const key of keys) {
      const u = this.upstreams.get(key);
      // The drain timer outlives the requests it waits for; what is left to drain is what counts.
      const until = u?.inflight.size ? this.drainUntil.get(key) : undefined;
      out[key] = { activeRequests: u?.inflight.size ?? 0, activeConnections: u?.pool?.connected ?? 0, ...(until !== undefined ? { drainingUntil: until } : {}) };
    }
    return out;
  }

  /** Upstream connections per server key by state (diagnostics and tests). */
  connectionStates(): Record<string, UpstreamConnectionStates> {
    const out: Record<string, UpstreamConnectionStates> = {};
    for (const [key, u] of this.upstreams) if (u.pool) out[key] = u.pool.connectionStates();
    return out;
  }

  /** Total requests/tunnels in flight. */
  get active(): number {
    let n = 0;
    for (const u of this.upstreams.values()) n += u.inflight.size;
    return n;
  }

  /** The whole service goes away: every server drains with the service's timeout. */
  retireAll(): void {
    for (const s of this.svc.servers) this.retire(s.key, this.svc.connectionDrainTimeout);
    for (const key of this.upstreams.keys()) this.retire(key, this.svc.connectionDrainTimeout);
  }

  /** Aborts everything in flight now and destroys every pool (shutdown after the grace period). */
  async destroy(reason: Error): Promise<void> {
    for (const t of this.draining.values()) t.cancel();
    this.draining.clear();
    this.drainUntil.clear();
    for (const u of this.upstreams.values()) for (const f of u.inflight.toArray()) f.abort(reason);
    const pools = [...this.retiring.keys()];
    for (const u of this.upstreams.values()) {
      if (u.pool) pools.push(u.pool);
      u.pool = undefined;
    }
    this.retiring.clear();
    await Promise.all(pools.map((p) => p.destroy(reason).catch(() => {})));
  }

  private retire(key: string, drainSeconds: number): void {
    const u = this.upstreams.get(key);
    const pool = u?.pool;
    if (u && pool) {
      u.pool = undefined;
      this.retiring.set(pool, key);
      // Graceful: running requests finish, then the connections close.
      pool.close().then(
        () => this.retiring.delete(pool),
        () => this.retiring.delete(pool),
      );
    }
    this.startDrain(key, drainSeconds);
  }

  private startDrain(key: string, drainSeconds: number): void {
    if (this.draining.has(key) || !this.upstreams.get(key)?.inflight.size) return;
    this.deps.log.info({ service: this.svc.name, server: key, drainSeconds }, "server draining");
    const timer = this.deps.clock.setTimeout(() => {
      this.draining.delete(key);
      this.drainUntil.delete(key);
      const list = this.upstreams.get(key)?.inflight;
      if (list && list.size > 0) {
        this.deps.log.warn({ service: this.svc.name, server: key, aborted: list.size }, "drain timeout: aborting requests");
        const reason = codedError("drain timeout expired", ErrorCodes.drained);
        for (const f of list.toArray()) f.abort(reason);
      }
      for (const [pool, k] of this.retiring) {
        if (k !== key) continue;
        this.retiring.delete(pool);
        void pool.destroy().catch(() => {});
      }
    }, drainSeconds * 1000);
    this.draining.set(key, timer);
    this.drainUntil.set(key, this.deps.clock.now() + drainSeconds * 1000);
  }

  /** The server is back in the service with weight > 0: its in-flight requests run on unbounded. */
  private stopDrain(key: string): void {
    const t = this.draining.get(key);
    if (!t) return;
    t.cancel();
    this.draining.delete(key);
    this.drainUntil.delete(key);
  }

  private gauge(server: ServerSnapshot): void {
    this.deps.metrics.set(ACTIVE, ACTIVE_HELP, { service: this.svc.name, server: serverLabel(server.address, server.port) }, this.upstreams.get(server.key)?.inflight.size ?? 0);
  }
}
