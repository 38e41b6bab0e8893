import type { ServerSnapshot, ServiceSnapshot } from "../../config/snapshot";
import { serverLabel, type ServerHealth } from "../../health/health-state";
import type { Logger } from "../../log";
import type { Metrics } from "../../metrics";
import type { Clock, TimerHandle } from "../clock";
import { UpstreamPool as Pool } from "../h1/upstream";
import { ServicePicker } from "../service-picker";
import { SlotList } from "../slot-list";
import type { HttpLimits } from "./limits";

/**
 * Everything one HTTP backend service needs in a worker: its picker, one keep-alive `UpstreamPool`
 * per server, the requests in flight per server, and connection draining.
 *
 * Draining (SPEC §3): when a server leaves the service (removed, group swapped) or its weight goes
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

export class ServiceUpstreams {
  readonly picker: ServicePicker;
  private readonly pools = new Map<string, Pool>();
  /** Per server key; an entry stays while its server is in the service (no Map churn per request). */
  private readonly inflight = new Map<string, SlotList<InFlight>>();
  private readonly draining = new Map<string, TimerHandle>();
  /** Pools of servers that left (pool → server key), closing; destroyed at their drain deadline. */
  private readonly retiring = new Map<Pool, string>();

  constructor(
    private svc: ServiceSnapshot,
    private readonly deps: { log: Logger; metrics: Metrics; clock: Clock; limits: HttpLimits },
  ) {
    this.picker = new ServicePicker(svc, { now: () => deps.clock.now() });
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
    for (const [key, list] of this.inflight) if (list.size === 0 && !now.has(key)) this.inflight.delete(key);
  }

  setHealth(byServer: Readonly<Record<string, ServerHealth>> | undefined): void {
    this.picker.setHealth(byServer);
  }

  /** The keep-alive pool of a server of this service, created on first use. */
  pool(server: ServerSnapshot): Pool {
    let pool = this.pools.get(server.key);
    if (!pool) {
      pool = new Pool(server.address, server.port, this.deps.limits);
      this.pools.set(server.key, pool);
    }
    return pool;
  }

  /** Timeouts of every exchange and upstream connection of this service; `now` is performance.now(). */
  sweep(now: number): void {
    for (const p of this.pools.values()) p.sweep(now);
    for (const p of this.retiring.keys()) p.sweep(now);
  }

  /** Counts a request/tunnel in flight to `server` (for wlc, stats and draining). */
  track(server: ServerSnapshot, f: InFlight): void {
    let list = this.inflight.get(server.key);
    if (!list) this.inflight.set(server.key, (list = new SlotList<InFlight>("inflightSlot")));
    list.add(f);
    this.picker.acquire(server.key);
  }

  untrack(server: ServerSnapshot, f: InFlight): void {
    const list = this.inflight.get(server.key);
    if (!list?.delete(f)) return;
    // A server that left the service: its entry goes with its last request.
    if (list.size === 0 && !this.picker.byKey(server.key)) this.inflight.delete(server.key);
    this.picker.release(server.key);
  }

  /**
   * Sets the in-flight gauge of every server of the service; runs when metrics are collected.
   * Setting it on every track/untrack was 5% of a worker's CPU under load (bench/profile.mjs).
   */
  collectGauges(): void {
    for (const s of this.svc.servers) this.gauge(s);
  }

  /** Requests in flight per server key, and upstream connections open per server key. */
  stats(): Record<string, { activeRequests: number; activeConnections: number }> {
    const out: Record<string, { activeRequests: number; activeConnections: number }> = {};
    const keys = new Set([...this.svc.servers.map((s) => s.key), ...this.inflight.keys()]);
    for (const key of keys) {
      out[key] = { activeRequests: this.inflight.get(key)?.size ?? 0, activeConnections: this.pools.get(key)?.connected ?? 0 };
    }
    return out;
  }

  /** Total requests/tunnels in flight. */
  get active(): number {
    let n = 0;
    for (const list of this.inflight.values()) n += list.size;
    return n;
  }

  /** The whole service goes away: every server drains with the service's timeout. */
  retireAll(): void {
    for (const s of this.svc.servers) this.retire(s.key, this.svc.connectionDrainTimeout);
    for (const key of this.inflight.keys()) this.retire(key, this.svc.connectionDrainTimeout);
  }

  /** Aborts everything in flight now and destroys every pool (shutdown after the grace period). */
  async destroy(reason: Error): Promise<void> {
    for (const t of this.draining.values()) t.cancel();
    this.draining.clear();
    for (const list of this.inflight.values()) for (const f of list.toArray()) f.abort(reason);
    const pools = [...this.pools.values(), ...this.retiring.keys()];
    this.pools.clear();
    this.retiring.clear();
    await Promise.all(pools.map((p) => p.destroy(reason).catch(() => {})));
  }

  private retire(key: string, drainSeconds: number): void {
    const pool = this.pools.get(key);
    if (pool) {
      this.pools.delete(key);
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
    if (this.draining.has(key) || !this.inflight.get(key)?.size) return;
    this.deps.log.info({ service: this.svc.name, server: key, drainSeconds }, "server draining");
    const timer = this.deps.clock.setTimeout(() => {
      this.draining.delete(key);
      const set = this.inflight.get(key);
      if (set && set.size > 0) {
        this.deps.log.warn({ service: this.svc.name, server: key, aborted: set.size }, "drain timeout: aborting requests");
        const reason = Object.assign(new Error("drain timeout expired"), { code: "BALLAST_DRAINED" });
        for (const f of set.toArray()) f.abort(reason);
      }
      for (const [pool, k] of this.retiring) {
        if (k !== key) continue;
        this.retiring.delete(pool);
        void pool.destroy().catch(() => {});
      }
    }, drainSeconds * 1000);
    this.draining.set(key, timer);
  }

  /** The server is back in the service with weight > 0: its in-flight requests run on unbounded. */
  private stopDrain(key: string): void {
    const t = this.draining.get(key);
    if (!t) return;
    t.cancel();
    this.draining.delete(key);
  }

  private gauge(server: ServerSnapshot): void {
    this.deps.metrics.set(ACTIVE, ACTIVE_HELP, { service: this.svc.name, server: serverLabel(server.address, server.port) }, this.inflight.get(server.key)?.size ?? 0);
  }
}
