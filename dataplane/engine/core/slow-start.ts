/**
 * Slow start (docs/traffic.md, "Slow start"): a server added to a service whose server set was not
 * empty ramps up instead of taking its full share at once.
 *
 * - When: the ramp begins the moment the new server first turns healthy (at once when it is not
 *   health-checked). It begins once: health flaps neither pause nor restart it, and a server is new
 *   only the first time it appears in that service's set since the process started, so it never
 *   re-enters. It applies only when the service has `slowStart` set when the server is added; the
 *   first servers of an empty set get none.
 * - How much: the effective weight ramps linearly from `SLOW_START_FLOOR` of the configured weight
 *   to the whole of it over the service's `slowStart` seconds.
 *
 * The primary keeps the start instants (`SlowStarts`, in its health manager) and ships them in the
 * health table as `slowStartFrom`; every process computes the weight from it with its own clock
 * (`effectiveWeight`, in the service picker and the status page).
 */
import type { ServerHealth } from "./server-health";

/** Smallest share a slow-starting server gets, so "near 0" is never exactly 0. */
export const SLOW_START_FLOOR = 0.01;

/** The weight a scheduler should use now: the configured weight, scaled during slow start. */
export function effectiveWeight(weight: number, health: ServerHealth | undefined, slowStartSeconds: number | undefined, now: number): number {
  if (!health?.slowStartFrom || !slowStartSeconds) return weight;
  const elapsed = (now - health.slowStartFrom) / (slowStartSeconds * 1000);
  if (elapsed >= 1) return weight;
  return weight * Math.max(SLOW_START_FLOOR, elapsed);
}

/** The slow-start instants of one service's servers (in the primary). */
export class SlowStarts {
  /** Every server key that has been in the service's set since this process started. */
  private readonly seen = new Set<string>();
  /** key → `pending` until the server first takes traffic, then the instant it did. */
  private readonly from = new Map<string, number | "pending">();

  /**
   * The service's server set as configured now. `hadServers`: it was not empty before;
   * `configured`: the service has `slowStart` set. Servers new to the set wait for `began`.
   */
  joined(keys: Iterable<string>, hadServers: boolean, configured: boolean): void {
    for (const key of keys) {
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      if (hadServers && configured) this.from.set(key, "pending");
    }
  }

  /** The server turned healthy, or takes traffic unchecked: a pending ramp begins at `now`. */
  began(key: string, now: number): void {
    if (this.from.get(key) === "pending") this.from.set(key, now);
  }

  /** The instant the server's ramp began, while it lasts (`seconds` long); undefined otherwise. */
  rampingFrom(key: string, now: number, seconds: number | undefined): number | undefined {
    const from = this.from.get(key);
    return typeof from === "number" && seconds !== undefined && now < from + seconds * 1000 ? from : undefined;
  }
}
