import type { Snapshot } from "../config/snapshot";
import type { HealthStatus } from "../engine/core/server-health";
import type { MetricsDump } from "../metrics";

/**
 * What the admin side (primary process) needs from the traffic side: apply a configuration,
 * report per-server status and metrics, and shut down. The real implementation runs the health
 * checkers in the primary and the proxies in worker processes; tests may use an in-process one.
 */

/** One server's line in `GET /v1/backend-services/<name>/status`. */
export interface ServerStatus {
  address: string;
  port: number;
  /** Configured weight. */
  weight: number;
  /** Weight the scheduler uses now (lower during slow start; 0 when not usable). */
  effectiveWeight: number;
  role?: "primary" | "secondary";
  health: HealthStatus;
  /** The last probe: when (ISO time), whether it passed, why it failed, its duration in ms. null before any probe. */
  lastCheck: { at: string; ok: boolean; reason: string; ms: number } | null;
  activeConnections: number;
  activeRequests: number;
  /** ISO time of the server's last change of state (added, healthy/unhealthy, weight to or from 0); null if unknown. */
  since?: string | null;
  /** While its slow start runs: the share of its weight it gets now, 1–100 (%). */
  slowStart?: number;
  /** True while connections or requests to the server drain (weight 0, or it left the service). */
  draining?: boolean;
  /** ISO time at which what still drains is closed. */
  drainingUntil?: string;
  /** True for a server that is no longer in the service but still has connections draining. */
  removed?: boolean;
}

/** Thrown by `apply` when a listener's port cannot be bound; the previous configuration stays live. */
export class ListenError extends Error {
  readonly code = "listen_failed";
  constructor(
    readonly listener: string,
    readonly port: number,
    override readonly cause: unknown,
  ) {
    super(`listener ${listener} cannot listen on port ${port}: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

export interface TrafficRuntime {
  /**
   * Makes `snapshot` live: listeners opened/closed, proxies and health checkers reconfigured.
   * Resolves once new listeners are bound everywhere. Rejects with `ListenError` when a port
   * cannot be bound, in which case the previous snapshot is still the live one.
   */
  apply(snapshot: Snapshot): Promise<void>;
  serviceStatus(service: string): Promise<ServerStatus[]>;
  /** Metrics of every process, to merge into the primary's registry when rendering `/metrics`. */
  metrics(): Promise<MetricsDump[]>;
  /** Stop accepting, let in-flight work finish for up to `graceMs`, then close everything. */
  close(graceMs: number): Promise<void>;
}
