import type { HealthCheck } from "../../model";
import type { ServerSnapshot, ServiceSnapshot, Snapshot } from "../config/snapshot";
import { systemClock, type Clock } from "../clock";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import { CheckState, HealthChecker, type CheckStatus } from "./checker";
import { serverLabel, type HealthStatus, type HealthTable, type ServerHealth } from "../engine/core/server-health";
import { defaultProbe, type Probe } from "./probe";
import { SlowStarts } from "../engine/core/slow-start";

/**
 * Health checkers and the slow-start clock, in the primary process. `apply(snapshot)` starts,
 * stops and reconfigures one checker per (service, server) of every service that has a health
 * check (the primary only, in an availability group); `table()` is what the workers get.
 *
 * Initial status of a checked server:
 * - new to the service: pending (reported unhealthy) until its first probe, which it gets at once;
 * - already serving unchecked when a health check is added to its service: healthy, so adding a
 *   check cannot cause an outage; it goes out after `unhealthyThreshold` failures like any other;
 * - kept as it is when the check's configuration changes (the checkers restart and probe at once).
 *
 * Slow start: the rule is engine/core/slow-start.ts; this manager tells each service's
 * `SlowStarts` when servers join and turn healthy, and puts `slowStartFrom` in the table while a
 * ramp lasts (after it, the weight is the full weight).
 */

export interface HealthManagerOptions {
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Default: the system clock. Tests pass a FakeClock. */
  readonly clock?: Clock;
  /**
   * Test-only: multiplies every interval and timeout (the model's minimum interval is 5 s; a test
   * with timeScale 0.02 probes every 100 ms). Default 1.
   */
  readonly timeScale?: number;
  /** Default: real HTTP/TCP probes. Tests may inject a scripted one. */
  readonly probe?: Probe;
}

export interface ServerCheckStatus {
  readonly health: HealthStatus;
  /** The last probe: when (ISO time), whether it passed, why it failed, how long it took (ms). null before any probe. */
  readonly lastCheck: { at: string; ok: boolean; reason: string; ms: number } | null;
  /**
   * Epoch ms of the server's last change of state: added to the service, turned healthy or
   * unhealthy, weight set to or from 0.
   */
  readonly since: number;
}

interface ServiceState {
  service: ServiceSnapshot;
  /** JSON of the check: a change restarts the service's checkers. */
  checkKey: string | undefined;
  readonly slowStart: SlowStarts;
  /** key → epoch ms of its last change of state (see `ServerCheckStatus.since`). */
  readonly since: Map<string, number>;
  readonly states: Map<string, CheckState>;
  readonly checkers: Map<string, HealthChecker>;
}

const TRANSITIONS = "ballast_health_transitions_total";
const TRANSITIONS_HELP = "Health status changes of a server in a service (to = healthy | unhealthy).";

export class HealthManager {
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly clock: Clock;
  private readonly timeScale: number;
  private readonly probe: Probe;
  private readonly services = new Map<string, ServiceState>();
  private readonly listeners = new Set<(table: HealthTable) => void>();
  private current: HealthTable = Object.freeze({});
  private closed = false;

  constructor(opts: HealthManagerOptions) {
    this.log = opts.log;
    this.metrics = opts.metrics;
    this.clock = opts.clock ?? systemClock;
    this.timeScale = opts.timeScale ?? 1;
    this.probe = opts.probe ?? defaultProbe;
  }

  /**
   * Makes `snapshot` the checked configuration. Synchronous; the new table is available from
   * `table()` right after (for the caller to send along with the snapshot) and `onChange` is not
   * called for it. Probe results arrive later through `onChange`.
   */
  apply(snapshot: Snapshot): void {
    if (this.closed) return;
    for (const [name, st] of this.services) {
      if (!snapshot.services[name]) {
        for (const c of st.checkers.values()) c.stop();
        this.services.delete(name);
      }
    }
    for (const svc of Object.values(snapshot.services)) this.applyService(svc);
    this.current = this.build();
  }

  table(): HealthTable {
    return this.current;
  }

  /** Calls `cb` with the new table whenever a probe or the slow-start clock changes it. Returns an unsubscribe. */
  onChange(cb: (table: HealthTable) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  status(service: string, key: string): ServerCheckStatus | undefined {
    const st = this.services.get(service);
    if (!st || !st.service.servers.some((s) => s.key === key)) return undefined;
    const since = st.since.get(key) ?? this.clock.now();
    const state = st.states.get(key);
    if (!state) return { health: "unchecked", lastCheck: null, since };
    const last = state.lastCheck;
    return {
      health: state.status === "healthy" ? "healthy" : "unhealthy",
      lastCheck: last ? { at: new Date(last.at).toISOString(), ok: last.ok, reason: last.reason, ms: last.ms } : null,
      since,
    };
  }

  close(): void {
    this.closed = true;
    for (const st of this.services.values()) for (const c of st.checkers.values()) c.stop();
    this.services.clear();
    this.listeners.clear();
  }

  private applyService(svc: ServiceSnapshot): void {
    let st = this.services.get(svc.name);
    const previous = st?.service;
    if (!st) {
      st = { service: svc, checkKey: undefined, slowStart: new SlowStarts(), since: new Map(), states: new Map(), checkers: new Map() };
      this.services.set(svc.name, st);
    }
    const hadServers = (previous?.servers.length ?? 0) > 0;
    const previousKeys = new Set(previous?.servers.map((s) => s.key) ?? []);
    const wasChecked = previous?.healthCheck !== undefined;
    const check = svc.healthCheck;
    const checkKey = check ? JSON.stringify(check) : undefined;
    const restart = checkKey !== st.checkKey;
    st.service = svc;
    st.checkKey = checkKey;

    // Last change of state: a server that joins, or whose weight goes to or from 0.
    const now = this.clock.now();
    const previousWeights = new Map(previous?.servers.map((s) => [s.key, s.weight]) ?? []);
    for (const server of svc.servers) {
      const before = previousWeights.get(server.key);
      if (before === undefined || (before === 0) !== (server.weight === 0)) st.since.set(server.key, now);
    }
    const present = new Set(svc.servers.map((s) => s.key));
    for (const key of [...st.since.keys()]) if (!present.has(key)) st.since.delete(key);

    st.slowStart.joined(
      svc.servers.map((s) => s.key),
      hadServers,
      svc.slowStart !== undefined && svc.slowStart > 0,
    );

    const checked = new Map<string, ServerSnapshot>();
    if (check) for (const server of checkedServers(svc)) checked.set(server.key, server);

    for (const [key, checker] of st.checkers) {
      const server = checked.get(key);
      // The key is address|port, so a kept key probes the same target unless the check changed.
      if (!server || restart) {
        checker.stop();
        st.checkers.delete(key);
      }
    }
    for (const key of [...st.states.keys()]) if (!checked.has(key)) st.states.delete(key);

    for (const [key, server] of checked) {
      if (st.checkers.has(key)) continue;
      let state = st.states.get(key);
      if (!state) {
        // Serving unchecked until now: stays in until the check says otherwise.
        state = new CheckState(!wasChecked && previousKeys.has(key) ? "healthy" : "pending");
        st.states.set(key, state);
      }
      const checker = new HealthChecker({
        address: server.address,
        port: this.probePort(server, check),
        check: check!,
        state,
        clock: this.clock,
        timeScale: this.timeScale,
        probe: this.probe,
        onResult: (changed, result) => this.onResult(svc.name, server, changed, result.reason),
      });
      st.checkers.set(key, checker);
      checker.start();
    }

    // Unchecked servers (no health check, or an availability secondary) start their slow start now.
    for (const server of svc.servers) {
      if (!checked.has(server.key)) st.slowStart.began(server.key, this.clock.now());
    }
  }

  private probePort(server: ServerSnapshot | undefined, check: HealthCheck | undefined): number {
    return check?.port ?? server?.port ?? 0;
  }

  private onResult(service: string, server: ServerSnapshot, changed: CheckStatus | undefined, reason: string): void {
    if (this.closed) return;
    const st = this.services.get(service);
    if (!st || !changed) return;
    const label = serverLabel(server.address, server.port);
    if (changed === "unhealthy") this.log.warn({ service, server: label, reason }, "server unhealthy");
    else this.log.info({ service, server: label }, "server healthy");
    this.metrics.inc(TRANSITIONS, TRANSITIONS_HELP, { service, server: label, to: changed });
    st.since.set(server.key, this.clock.now());
    if (changed === "healthy") st.slowStart.began(server.key, this.clock.now());
    this.current = this.build();
    for (const cb of this.listeners) {
      try {
        cb(this.current);
      } catch (err) {
        this.log.error({ err }, "health change listener failed");
      }
    }
  }

  private build(): HealthTable {
    const now = this.clock.now();
    const table: Record<string, Record<string, ServerHealth>> = {};
    for (const [name, st] of this.services) {
      const row: Record<string, ServerHealth> = {};
      for (const server of st.service.servers) {
        const state = st.states.get(server.key);
        const from = st.slowStart.rampingFrom(server.key, now, st.service.slowStart);
        if (!state && from === undefined) continue;
        const status: HealthStatus = state ? (state.status === "healthy" ? "healthy" : "unhealthy") : "unchecked";
        row[server.key] = from !== undefined ? { status, slowStartFrom: from } : { status };
      }
      if (Object.keys(row).length > 0) table[name] = row;
    }
    return deepFreeze(table);
  }
}

/** The servers of a service that get a checker: all of them, or only the primary of an availability group. */
function checkedServers(svc: ServiceSnapshot): readonly ServerSnapshot[] {
  if (svc.groupType === "availability") return svc.servers.filter((s) => s.role === "primary");
  return svc.servers;
}

function deepFreeze<T extends object>(t: T): T {
  for (const v of Object.values(t)) {
    if (v && typeof v === "object") deepFreeze(v as object);
  }
  return Object.freeze(t);
}
