import { availableParallelism } from "node:os";
import path from "node:path";
import type { Snapshot } from "../config/snapshot";
import { isUsable, serverLabel, type ServerHealth } from "../engine/core/server-health";
import { effectiveWeight } from "../engine/core/slow-start";
import { HealthManager } from "../health/health-manager";
import type { Logger } from "../log";
import { Metrics, type MetricsDump } from "../metrics";
import { addProcessMetrics } from "../process-metrics";
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
    ownMetrics.addCollector(() => this.collectServerStates());
  }

  /** `ballast_server_up` and `ballast_server_state` for every server of the configuration. */
  private collectServerStates(): void {
    const m = this.ownMetrics;
    m.clear(SERVER_UP);
    m.clear(SERVER_STATE);
    const now = Date.now();
    for (const service of Object.values(this.snapshot?.services ?? {})) {
      const table = this.health.table()[service.name] ?? {};
      for (const s of service.servers) {
        const labels = { service: service.name, server: serverLabel(s.address, s.port) };
        const current = serverState(table[s.key], s.weight, service.slowStart, now);
        m.set(SERVER_UP, SERVER_UP_HELP, labels, current === "down" ? 0 : 1);
        for (const state of SERVER_STATES) m.set(SERVER_STATE, SERVER_STATE_HELP, { ...labels, state }, state === current ? 1 : 0);
      }
    }
  }

  static async start(opts: PrimaryRuntimeOptions): Promise<PrimaryRuntime> {
    const workers = opts.workers ?? defaultWorkers();
    const host = opts.listenHost ?? "0.0.0.0";
    const metrics = new Metrics();
    addProcessMetrics(metrics, "primary", { build: true });
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

const SERVER_UP = "ballast_server_up";
const SERVER_UP_HELP = "1 when the server is up (healthy, or not health-checked), 0 when its health check failed.";
const SERVER_STATE = "ballast_server_state";
const SERVER_STATE_HELP = "1 for the server's current state, 0 for the others: up, down (failed health check), draining (weight 0), slow_start.";
const SERVER_STATES = ["up", "down", "draining", "slow_start"] as const;

/** One server's state as the metrics and the status page name it. */
export function serverState(health: ServerHealth | undefined, weight: number, slowStart: number | undefined, now: number): (typeof SERVER_STATES)[number] {
  if (health?.status === "unhealthy") return "down";
  if (weight === 0) return "draining";
  if (effectiveWeight(weight, health, slowStart, now) < weight) return "slow_start";
  return "up";
}

/**
 * `BALLAST_WORKERS` when unset: one worker process per available core, except on a single core,
 * where the proxies run in the primary itself (0). A worker beside the primary on one core would
 * add a second heap (its RSS: docs/benchmarks.md, Memory) and an IPC hop, and the two processes
 * would only take turns on that core. What it gives up is isolation: a crash in the engine ends
 * the whole process, which the container's restart policy brings back with the state file.
 */
export function defaultWorkers(cores = availableParallelism()): number {
  return cores > 1 ? cores : 0;
}
