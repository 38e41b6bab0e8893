import type { Snapshot } from "../config/snapshot";
import type { HealthTable } from "../engine/core/server-health";
import type { MetricsDump } from "../metrics";
import type { WorkerStats } from "./messages";

/**
 * Where the proxies run, seen from the primary: in this process (`LocalBackend`) or in worker
 * processes (`WorkerPool`). Both take a snapshot together with the health table that goes with it,
 * so a server added to a checked service is never used before its first probe.
 */
export interface TrafficBackend {
  /** Rejects with ListenError when a port cannot be bound; the previous snapshot then stays live. */
  apply(snapshot: Snapshot, health: HealthTable): Promise<void>;
  setHealth(health: HealthTable): void;
  /** Active counts summed over every process. */
  stats(): Promise<WorkerStats>;
  metrics(): Promise<MetricsDump[]>;
  close(graceMs: number): Promise<void>;
}

/** Adds `from` into `into` (active counts of several workers). */
export function addStats(into: WorkerStats, from: WorkerStats): WorkerStats {
  for (const [service, servers] of Object.entries(from)) {
    const target = (into[service] ??= {});
    for (const [key, s] of Object.entries(servers)) {
      const t = (target[key] ??= { activeConnections: 0, activeRequests: 0 });
      t.activeConnections += s.activeConnections;
      t.activeRequests += s.activeRequests;
      if (s.drainingUntil !== undefined) t.drainingUntil = Math.max(t.drainingUntil ?? 0, s.drainingUntil);
    }
  }
  return into;
}
