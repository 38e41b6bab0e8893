import type { Snapshot } from "../config/snapshot";
import type { HealthTable } from "../engine/core/server-health";
import type { MetricsDump } from "../metrics";

/**
 * The IPC protocol between the primary and its workers (node:cluster, JSON over the channel).
 * Requests carry an `id`; the worker answers with the same id. Snapshots and health tables are
 * sent whole: a worker never merges partial state.
 */

/** service → server key → counts; `drainingUntil` (epoch ms): the latest drain deadline of its connections. */
export type WorkerStats = Record<string, Record<string, { activeConnections: number; activeRequests: number; drainingUntil?: number }>>;

export type ToWorker =
  | { type: "apply"; id: number; snapshot: Snapshot; health: HealthTable }
  | { type: "health"; table: HealthTable }
  | { type: "stats"; id: number }
  | { type: "metrics"; id: number }
  | { type: "shutdown"; graceMs: number };

export type FromWorker =
  | { type: "ready" }
  | { type: "applied"; id: number; error?: { listener: string; port: number; message: string } }
  | { type: "stats"; id: number; stats: WorkerStats }
  | { type: "metrics"; id: number; dump: MetricsDump };
