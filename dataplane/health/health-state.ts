/**
 * Health as the traffic path sees it, keyed by service then server key. Owned and computed by the
 * primary process (the checkers and the slow-start clock live there) and pushed whole to workers.
 */
export type HealthStatus = "healthy" | "unhealthy" | "unchecked";

export interface ServerHealth {
  readonly status: HealthStatus;
  /**
   * Epoch ms at which this server's slow start began (it turned healthy after being added to a group
   * that already had servers). Absent: no slow start. The effective weight ramps linearly from near 0
   * to the configured weight over the service's `slowStart` seconds from this instant.
   */
  readonly slowStartFrom?: number;
}

/** service name → server key → health. A server missing here is `unchecked`. */
export type HealthTable = Readonly<Record<string, Readonly<Record<string, ServerHealth>>>>;

/** Whether a server may take new traffic: healthy or unchecked (no health check) and weight > 0. */
export function isUsable(health: ServerHealth | undefined, weight: number): boolean {
  return weight > 0 && (health === undefined || health.status !== "unhealthy");
}

/** Smallest share a slow-starting server gets, so "near 0" is never exactly 0. */
export const SLOW_START_FLOOR = 0.01;

/** The weight a scheduler should use now: the configured weight, scaled during slow start. */
export function effectiveWeight(weight: number, health: ServerHealth | undefined, slowStartSeconds: number | undefined, now: number): number {
  if (!health?.slowStartFrom || !slowStartSeconds) return weight;
  const elapsed = (now - health.slowStartFrom) / (slowStartSeconds * 1000);
  if (elapsed >= 1) return weight;
  return weight * Math.max(SLOW_START_FLOOR, elapsed);
}

/** A server as metrics and logs name it: `address:port`, IPv6 in brackets. */
export function serverLabel(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}
