import type { Snapshot } from "../config/snapshot";
import { Engine } from "../engine/engine";
import type { HealthTable } from "../engine/core/server-health";
import type { Logger } from "../log";
import type { MetricsDump } from "../metrics";
import type { WorkerStats } from "./messages";
import type { TrafficBackend } from "./traffic-backend";

/**
 * The proxies in the primary process itself (`BALLAST_WORKERS=0`): the smallest footprint, one core.
 * `Engine.apply` already leaves the previous listeners live when a port cannot be bound. Listeners
 * bind with `SO_REUSEPORT` here too, so replicas on one host share their ports (docs/replicas.md);
 * a port held by a process that did not set it still refuses the bind.
 */
export class LocalBackend implements TrafficBackend {
  readonly engine: Engine;

  constructor(opts: { log: Logger; host: string }) {
    this.engine = new Engine({ log: opts.log.child({ component: "engine" }), host: opts.host, reusePort: true });
  }

  async apply(snapshot: Snapshot, health: HealthTable): Promise<void> {
    this.engine.setHealth(health);
    await this.engine.apply(snapshot);
  }

  setHealth(health: HealthTable): void {
    this.engine.setHealth(health);
  }

  async stats(): Promise<WorkerStats> {
    return this.engine.stats();
  }

  async metrics(): Promise<MetricsDump[]> {
    return [this.engine.metrics.dump()];
  }

  close(graceMs: number): Promise<void> {
    return this.engine.close(graceMs);
  }
}
