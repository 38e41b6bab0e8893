import { availableParallelism } from "node:os";
import path from "node:path";
import type { Snapshot } from "../config/snapshot";
import { effectiveWeight, isUsable } from "../health/health-state";
import { HealthManager } from "../health/health-manager";
import type { Logger } from "../log";
import { Metrics, type MetricsDump } from "../metrics";
import type { TrafficBackend } from "./traffic-backend";
import type { ServerStatus, TrafficRuntime } from "./traffic-runtime";

export interface PrimaryRuntimeOptions {
  log: Logger;
  /** Worker processes; 0 runs the proxies in this process. Default: the available cores. */
  workers?: number;
  /** Address listeners bind to. Default 0.0.0.0. */
  listenHost?: string;
  logLevel?: string;
  shutdownGraceMs?: number;
  /**
   * Replicas on this host share the listener ports (the etcd store): the worker pool's check that a
   * new port is free then binds with `SO_REUSEPORT` too, so a port a sibling replica holds passes.
   */
  sharedPorts?: boolean;
}

/**
 * The real TrafficRuntime: health checkers and the slow-start clock here in the primary, proxies
 * in the backend (workers or this process). Health is computed before a snapshot goes out so the
 * two always travel together.
 */
export class PrimaryRuntime implements TrafficRuntime {
  private snapshot: Snapshot | undefined;

  private constructor(
    private readonly health: HealthManager,
    private readonly backend: TrafficBackend,
    /** The primary's own metrics (health transitions). */
    private readonly ownMetrics: Metrics,
  ) {
    health.onChange((table) => backend.setHealth(table));
  }

  static async start(opts: PrimaryRuntimeOptions): Promise<PrimaryRuntime> {
    const workers = opts.workers ?? defaultWorkers();
    const host = opts.listenHost ?? "0.0.0.0";
    const metrics = new Metrics();
    const health = new HealthManager({ log: opts.log.child({ component: "health" }), metrics });
    const backend: TrafficBackend =
      workers === 0
        ? // Loaded only here: a primary with worker processes never runs the engine, so it does not
          // load it (bench/README.md, memory).
          new (require("./local-backend") as typeof import("./local-backend")).LocalBackend({ log: opts.log, host })
        : // Loaded only here too: one process with no workers does not load node:cluster.
          await (require("./worker-pool") as typeof import("./worker-pool")).WorkerPool.start({
            workers,
            exec: path.join(__dirname, "worker-main.js"),
            log: opts.log,
            listenHost: host,
            sharedPorts: opts.sharedPorts ?? false,
            env: {
              BALLAST_LISTEN_HOST: host,
              BALLAST_LOG_LEVEL: opts.logLevel ?? "info",
              BALLAST_SHUTDOWN_GRACE_MS: String(opts.shutdownGraceMs ?? 8000),
            },
          });
    return new PrimaryRuntime(health, backend, metrics);
  }

  async apply(snapshot: Snapshot): Promise<void> {
    const previous = this.snapshot;
    this.health.apply(snapshot);
    try {
      await this.backend.apply(snapshot, this.health.table());
    } catch (err) {
      if (previous) this.health.apply(previous);
      throw err;
    }
    this.snapshot = snapshot;
  }

  async serviceStatus(name: string): Promise<ServerStatus[]> {
    const service = this.snapshot?.services[name];
    if (!service) return [];
    const stats = (await this.backend.stats())[name] ?? {};
    const table = this.health.table()[name] ?? {};
    const now = Date.now();
    const lines: ServerStatus[] = service.servers.map((s) => {
      const h = table[s.key];
      const st = this.health.status(name, s.key);
      const usable = isUsable(h, s.weight);
      const effective = usable ? effectiveWeight(s.weight, h, service.slowStart, now) : 0;
      const counts = stats[s.key];
      return {
        address: s.address,
        port: s.port,
        weight: s.weight,
        effectiveWeight: Math.round(effective * 100) / 100,
        ...(s.role ? { role: s.role } : {}),
        health: h?.status ?? "unchecked",
        lastCheck: st?.lastCheck ?? null,
        activeConnections: counts?.activeConnections ?? 0,
        activeRequests: counts?.activeRequests ?? 0,
        since: st ? new Date(st.since).toISOString() : null,
        ...(usable && effective < s.weight ? { slowStart: Math.max(1, Math.floor((effective / s.weight) * 100)) } : {}),
        ...draining(counts?.drainingUntil),
      };
    });
    // Servers that left the service but still have connections draining.
    const configured = new Set(service.servers.map((s) => s.key));
    for (const [key, counts] of Object.entries(stats)) {
      if (configured.has(key) || counts.drainingUntil === undefined) continue;
      const cut = key.lastIndexOf("|");
      lines.push({
        address: key.slice(0, cut),
        port: Number(key.slice(cut + 1)),
        weight: 0,
        effectiveWeight: 0,
        health: "unchecked",
        lastCheck: null,
        activeConnections: counts.activeConnections,
        activeRequests: counts.activeRequests,
        since: null,
        removed: true,
        ...draining(counts.drainingUntil),
      });
    }
    return lines;
  }

  async metrics(): Promise<MetricsDump[]> {
    return [this.ownMetrics.dump(), ...(await this.backend.metrics())];
  }

  async close(graceMs: number): Promise<void> {
    this.health.close();
    await this.backend.close(graceMs);
  }
}

function draining(until: number | undefined): Pick<ServerStatus, "draining" | "drainingUntil"> {
  return until === undefined ? {} : { draining: true, drainingUntil: new Date(until).toISOString() };
}

/**
 * `BALLAST_WORKERS` when unset: one worker process per available core, except on a single core,
 * where the proxies run in the primary itself (0). A worker beside the primary on one core would
 * add a second heap (about 80 MB of RSS, docs/benchmarks.md) and an IPC hop, and the two processes
 * would only take turns on that core. What it gives up is isolation: a crash in the engine ends
 * the whole process, which the container's restart policy brings back with the state file.
 */
export function defaultWorkers(cores = availableParallelism()): number {
  return cores > 1 ? cores : 0;
}
