import type { ServerSnapshot, ServiceSnapshot } from "../../config/snapshot";
import { isUsable, type ServerHealth } from "./server-health";
import { effectiveWeight } from "./slow-start";
import { createScheduler } from "../../scheduler/registry";
import type { Scheduler } from "../../scheduler/scheduler";
import { WeightedRendezvous } from "../../scheduler/weighted-rendezvous";

/**
 * Chooses a server of one backend service for a new request or connection. Shared by the HTTP and
 * TCP proxies; one per service per process.
 *
 * - Only usable servers are candidates: weight > 0 and not unhealthy (`isUsable`).
 * - Weights are effective weights: scaled down while a server is in slow start.
 * - Availability groups: the primary while it is not unhealthy, else the secondary (only the
 *   primary is health-checked, so the secondary's own status is ignored).
 * - The configured scheduler picks among the candidates. Its state (wrr's running weights) is kept
 *   across `setHealth` and `update`, so a health change does not restart the round.
 * - `acquire`/`release` count this process's requests or connections in flight per server, for wlc
 *   and for stats. Counts are by server key and survive `update`. A caller that holds a server for
 *   a while takes its `Tally` once (`tally`) and counts on it without a lookup (`active++`,
 *   `letGo`).
 * - `pickConsistent` ignores the configured scheduler and hashes the client (weighted rendezvous):
 *   every worker process and every replica with the same configuration makes the same choice, which
 *   is what source-IP persistence needs for a client's first connection.
 */

/**
 * One server's live state in a picker, kept by key while the server is in the service or has
 * anything in flight. It is also the candidate handed to the scheduler: `weight` is the effective
 * weight (refreshed during slow start), `active` the count in flight.
 */
export interface Tally {
  readonly key: string;
  weight: number;
  active: number;
  /** The server is in the current snapshot; a tally of a server that left goes at `active` 0. */
  member: boolean;
}

interface Entry {
  readonly server: ServerSnapshot;
  readonly cand: Tally;
}

export interface ServicePickerOptions {
  /** Epoch milliseconds; drives slow start. */
  readonly now: () => number;
}

const NO_KEYS: ReadonlySet<string> = new Set();
/** Rendezvous hashing is stateless, so one instance serves every picker. */
const CONSISTENT = new WeightedRendezvous();

export class ServicePicker {
  private svc: ServiceSnapshot;
  private scheduler: Scheduler;
  private health: Readonly<Record<string, ServerHealth>> | undefined;
  private readonly now: () => number;
  private readonly tallies = new Map<string, Tally>();
  private byKeyMap = new Map<string, ServerSnapshot>();
  private byIdMap = new Map<string, ServerSnapshot>();
  /** Usable servers in configuration order, their candidates (same order), and by key. */
  private usable: Entry[] = [];
  private candidates: Entry["cand"][] = [];
  private usableByKey = new Map<string, Entry>();
  /** Any usable server still ramping up: weights must be recomputed per pick. */
  private ramping = false;
  /** The weight every usable server has, when they all have the same one and none is ramping. */
  private uniformWeight: number | undefined;

  constructor(service: ServiceSnapshot, options: ServicePickerOptions) {
    this.svc = service;
    this.now = options.now;
    this.scheduler = createScheduler(service.scheduler);
    this.index();
    this.rebuild();
  }

  get service(): ServiceSnapshot {
    return this.svc;
  }

  /** Swaps in a new snapshot of the same service; keeps scheduler state if the algorithm is unchanged. */
  update(service: ServiceSnapshot): void {
    if (service === this.svc) return;
    if (service.scheduler !== this.svc.scheduler) this.scheduler = createScheduler(service.scheduler);
    this.svc = service;
    this.index();
    this.rebuild();
  }

  /** The service's row of the health table (undefined: every server unchecked). */
  setHealth(byServer: Readonly<Record<string, ServerHealth>> | undefined): void {
    if (byServer === this.health) return;
    this.health = byServer;
    this.rebuild();
  }

  /** A server for a new request/connection from `clientIp`, or undefined when none is usable. */
  pick(clientIp: string): ServerSnapshot | undefined {
    const entries = this.usable;
    if (entries.length === 0) return undefined;
    if (entries.length === 1) return entries[0]!.server;
    if (this.ramping) this.refreshWeights(entries);
    const i = this.scheduler.pick({ candidates: this.candidates, clientIp, uniformWeight: this.ramping ? undefined : this.uniformWeight });
    return entries[i]?.server;
  }

  /**
   * Like `pick`, skipping the servers whose keys are in `excluded` (retries after a failed connect).
   * In an availability group a primary that refused falls through to the secondary at once, without
   * waiting for the health check to notice.
   */
  pickExcluding(clientIp: string, excluded: ReadonlySet<string>): ServerSnapshot | undefined {
    if (excluded.size === 0) return this.pick(clientIp);
    if (this.svc.groupType === "availability") return this.failover(excluded);
    const entries = this.usable.filter((e) => !excluded.has(e.server.key));
    if (entries.length === 0) return undefined;
    if (entries.length === 1) return entries[0]!.server;
    if (this.ramping) this.refreshWeights(entries);
    const i = this.scheduler.pick({ candidates: entries.map((e) => e.cand), clientIp });
    return entries[i]?.server;
  }

  /** A server chosen by the weighted consistent hash of `clientIp`, the same in every process. */
  pickConsistent(clientIp: string, excluded: ReadonlySet<string> = NO_KEYS): ServerSnapshot | undefined {
    if (this.svc.groupType === "availability") return this.failover(excluded);
    const entries = excluded.size === 0 ? this.usable : this.usable.filter((e) => !excluded.has(e.server.key));
    if (entries.length === 0) return undefined;
    if (entries.length === 1) return entries[0]!.server;
    if (this.ramping) this.refreshWeights(entries);
    const i = CONSISTENT.pick({ candidates: entries.map((e) => e.cand), clientIp });
    return entries[i]?.server;
  }

  /** Availability groups: the primary unless unhealthy or excluded, then the secondary unless excluded. */
  private failover(excluded: ReadonlySet<string>): ServerSnapshot | undefined {
    const primary = this.svc.servers.find((s) => s.role === "primary");
    if (primary && !excluded.has(primary.key) && isUsable(this.health?.[primary.key], primary.weight)) return primary;
    const secondary = this.svc.servers.find((s) => s.role === "secondary");
    return secondary && !excluded.has(secondary.key) ? secondary : undefined;
  }

  /** The server with this cookie id, whether usable or not. */
  byId(id: string): ServerSnapshot | undefined {
    return this.byIdMap.get(id);
  }

  byKey(key: string): ServerSnapshot | undefined {
    return this.byKeyMap.get(key);
  }

  /** Whether `pick` could choose this server now (for cookies and source-ip persistence). */
  isUsable(key: string): boolean {
    return this.usableByKey.has(key);
  }

  /** The weight the scheduler uses for this server now; 0 when it is not usable. */
  effectiveWeight(key: string): number {
    const server = this.byKeyMap.get(key);
    if (!server || !this.usableByKey.has(key)) return 0;
    return effectiveWeight(server.weight, this.health?.[key], this.svc.slowStart, this.now());
  }

  acquire(key: string): void {
    this.tally(key).active++;
  }

  release(key: string): void {
    const t = this.tallies.get(key);
    if (t) this.letGo(t);
  }

  /**
   * The tally of a server, created if needed, for a caller that counts on it directly: `t.active++`
   * to take the server, `letGo(t)` to give it back. The object stays the server's tally for as long
   * as anything is in flight to it.
   */
  tally(key: string): Tally {
    let t = this.tallies.get(key);
    if (!t) this.tallies.set(key, (t = { key, weight: 0, active: 0, member: this.byKeyMap.has(key) }));
    return t;
  }

  letGo(t: Tally): void {
    if (t.active > 0) t.active--;
    // A server of the service keeps its tally at 0: deleting and re-adding it on every request
    // churns the Map's table (see SlotList for why that costs). A server that left loses it.
    if (t.active === 0 && !t.member) this.tallies.delete(t.key);
  }

  /** Requests/connections this process has in flight to the server. */
  active(key: string): number {
    return this.tallies.get(key)?.active ?? 0;
  }

  private index(): void {
    this.byKeyMap = new Map(this.svc.servers.map((s) => [s.key, s]));
    this.byIdMap = new Map(this.svc.servers.map((s) => [s.id, s]));
    for (const [key, t] of this.tallies) {
      t.member = this.byKeyMap.has(key);
      if (t.active === 0 && !t.member) this.tallies.delete(key);
    }
  }

  private rebuild(): void {
    const servers = this.selectable();
    const now = this.now();
    const usable: Entry[] = [];
    let ramping = false;
    for (const server of servers) {
      // An availability group's secondary is never checked: it is used whenever the primary is out.
      const h = server.role === "secondary" ? undefined : this.health?.[server.key];
      if (!isUsable(h, server.weight)) continue;
      const weight = effectiveWeight(server.weight, h, this.svc.slowStart, now);
      if (weight < server.weight) ramping = true;
      const cand = this.tally(server.key);
      cand.weight = weight;
      usable.push({ server, cand });
    }
    this.usable = usable;
    this.candidates = usable.map((e) => e.cand);
    this.usableByKey = new Map(usable.map((e) => [e.server.key, e]));
    this.ramping = ramping;
    this.uniformWeight = uniformWeight(usable);
  }

  /** Availability groups: the primary unless it is unhealthy, then the secondary. */
  private selectable(): readonly ServerSnapshot[] {
    if (this.svc.groupType !== "availability") return this.svc.servers;
    const chosen = this.failover(NO_KEYS);
    return chosen ? [chosen] : [];
  }

  private refreshWeights(entries: readonly Entry[]): void {
    const now = this.now();
    let still = false;
    for (const e of entries) {
      const w = effectiveWeight(e.server.weight, this.health?.[e.server.key], this.svc.slowStart, now);
      e.cand.weight = w;
      if (w < e.server.weight) still = true;
    }
    if (!still && entries === this.usable) {
      this.ramping = false;
      this.uniformWeight = uniformWeight(entries);
    }
  }
}

/** The weight all entries share, or undefined when they differ (or there are none). */
function uniformWeight(entries: readonly Entry[]): number | undefined {
  const w = entries[0]?.cand.weight;
  for (const e of entries) if (e.cand.weight !== w) return undefined;
  return w;
}
