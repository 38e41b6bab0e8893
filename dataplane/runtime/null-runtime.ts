import type { Snapshot } from "../config/snapshot";
import type { MetricsDump } from "../metrics";
import type { ServerStatus, TrafficRuntime } from "./traffic-runtime";

/**
 * A runtime that carries no traffic: it accepts every snapshot and reports each server of a service
 * as configured (health `unchecked`, effective weight = weight, no connections). It lets the admin
 * API, the store and the provider run without the traffic engine; `main.ts` swaps in the real
 * runtime without touching anything else.
 */
export class NullRuntime implements TrafficRuntime {
  private snapshot: Snapshot | undefined;

  async apply(snapshot: Snapshot): Promise<void> {
    this.snapshot = snapshot;
  }

  async serviceStatus(service: string): Promise<ServerStatus[]> {
    const servers = this.snapshot?.services[service]?.servers ?? [];
    return servers.map((s) => ({
      address: s.address,
      port: s.port,
      weight: s.weight,
      effectiveWeight: s.weight,
      ...(s.role ? { role: s.role } : {}),
      health: "unchecked",
      lastCheck: null,
      activeConnections: 0,
      activeRequests: 0,
    }));
  }

  async metrics(): Promise<MetricsDump[]> {
    return [];
  }

  async close(_graceMs: number): Promise<void> {
    this.snapshot = undefined;
  }
}
