/**
 * Health as the traffic path sees it, keyed by service then server key. Owned and computed by the
 * primary process (the checkers in dataplane/health/, slow start in slow-start.ts) and pushed whole
 * to workers. It lives in the engine's core because the traffic path reads it; the health checkers
 * write it, so they depend on the core and not the other way round.
 */
export type HealthStatus = "healthy" | "unhealthy" | "unchecked";

export interface ServerHealth {
  readonly status: HealthStatus;
  /**
   * Epoch ms at which this server's slow start began (engine/core/slow-start.ts). Absent: no slow
   * start, or its ramp is over.
   */
  readonly slowStartFrom?: number;
}

/** service name → server key → health. A server missing here is `unchecked`. */
export type HealthTable = Readonly<Record<string, Readonly<Record<string, ServerHealth>>>>;

/** Whether a server may take new traffic: healthy or unchecked (no health check) and weight > 0. */
export function isUsable(health: ServerHealth | undefined, weight: number): boolean {
  return weight > 0 && (health === undefined || health.status !== "unhealthy");
}

/** A server as metrics and logs name it: `address:port`, IPv6 in brackets. */
export function serverLabel(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}
