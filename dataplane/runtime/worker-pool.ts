import cluster, { type Worker } from "node:cluster";
import type { Snapshot } from "../config/snapshot";
import type { HealthTable } from "../health/health-state";
import type { Logger } from "../log";
import type { MetricsDump } from "../metrics";
import type { FromWorker, ToWorker, WorkerStats } from "./messages";
import { addStats, type TrafficBackend } from "./traffic-backend";
import { ListenError } from "./traffic-runtime";

export interface WorkerPoolOptions {
  /** How many worker processes (≥ 1). */
  workers: number;
  /** The worker entry module (compiled `worker-main.js`). */
  exec: string;
  log: Logger;
  /** Extra environment for the workers (log level, listen host). */
  env?: Record<string, string>;
  /** How long to wait for a worker's answer before giving up on it. */
  requestTimeoutMs?: number;
}

interface Pending {
  resolve: (msg: FromWorker) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Worker processes that run the proxies (node:cluster). Listening sockets are shared with
 * SCHED_NONE: the kernel spreads connections over the workers' accept calls, which measured far
 * cheaper than the primary handing each connection over (cluster's default round robin).
 * A worker that dies is replaced and brought up to date with the current snapshot and health.
 */
export class WorkerPool implements TrafficBackend {
  private readonly workers = new Set<Worker>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private current: { snapshot: Snapshot; health: HealthTable } | undefined;
  private closing = false;
  private readonly log: Logger;

  private constructor(private readonly opts: WorkerPoolOptions) {
    this.log = opts.log.child({ component: "workers" });
  }

  static async start(opts: WorkerPoolOptions): Promise<WorkerPool> {
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: opts.exec, silent: false });
    const pool = new WorkerPool(opts);
    await Promise.all(Array.from({ length: Math.max(1, opts.workers) }, () => pool.fork()));
    return pool;
  }

  private fork(): Promise<Worker> {
    return new Promise((resolve, reject) => {
      const worker = cluster.fork({ ...this.opts.env });
      this.workers.add(worker);
      const onMessage = (msg: FromWorker) => this.onMessage(worker, msg);
      worker.on("message", onMessage);
      worker.once("exit", (code, signal) => {
        this.workers.delete(worker);
        if (this.closing) return;
        this.log.error({ worker: worker.process.pid, code, signal }, "worker exited; starting a replacement");
        this.fork()
          .then((w) => this.catchUp(w))
          .catch((err: unknown) => this.log.error({ err }, "replacement worker failed to start"));
      });
      const timer = setTimeout(() => reject(new Error("worker did not become ready within 30 s")), 30_000);
      const onReady = (msg: FromWorker) => {
        if (msg.type !== "ready") return;
        clearTimeout(timer);
        worker.off("message", onReady);
        resolve(worker);
      };
      worker.on("message", onReady);
    });
  }

  /** Brings a replacement worker to the current configuration. */
  private async catchUp(worker: Worker): Promise<void> {
    if (!this.current) return;
    const reply = await this.request(worker, (id) => ({ type: "apply", id, ...this.current! }));
    if (reply.type === "applied" && reply.error) {
      this.log.error({ worker: worker.process.pid, error: reply.error }, "replacement worker could not apply the configuration");
    }
  }

  private onMessage(_worker: Worker, msg: FromWorker): void {
    if (!("id" in msg)) return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    p.resolve(msg);
  }

  private request(worker: Worker, make: (id: number) => ToWorker): Promise<FromWorker> {
    const id = this.nextId++;
    const timeoutMs = this.opts.requestTimeoutMs ?? 15_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker ${worker.process.pid} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.send(make(id));
    });
  }

  private async applyAll(snapshot: Snapshot, health: HealthTable): Promise<ListenError | undefined> {
    const replies = await Promise.all([...this.workers].map((w) => this.request(w, (id) => ({ type: "apply", id, snapshot, health }))));
    for (const r of replies) {
      if (r.type === "applied" && r.error) return new ListenError(r.error.listener, r.error.port, new Error(r.error.message));
    }
    return undefined;
  }

  async apply(snapshot: Snapshot, health: HealthTable): Promise<void> {
    const failure = await this.applyAll(snapshot, health);
    if (failure) {
      // Some workers may have opened the new listeners: put every worker back on the live snapshot.
      if (this.current) await this.applyAll(this.current.snapshot, this.current.health);
      throw failure;
    }
    this.current = { snapshot, health };
  }

  setHealth(health: HealthTable): void {
    if (this.current) this.current = { ...this.current, health };
    for (const w of this.workers) if (w.isConnected()) w.send({ type: "health", table: health } satisfies ToWorker);
  }

  async stats(): Promise<WorkerStats> {
    const replies = await Promise.all([...this.workers].map((w) => this.request(w, (id) => ({ type: "stats", id }))));
    const total: WorkerStats = {};
    for (const r of replies) if (r.type === "stats") addStats(total, r.stats);
    return total;
  }

  async metrics(): Promise<MetricsDump[]> {
    const replies = await Promise.all([...this.workers].map((w) => this.request(w, (id) => ({ type: "metrics", id }))));
    return replies.flatMap((r) => (r.type === "metrics" ? [r.dump] : []));
  }

  async close(graceMs: number): Promise<void> {
    this.closing = true;
    const exits = [...this.workers].map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.isDead()) return resolve();
          const hard = setTimeout(() => {
            w.process.kill("SIGKILL");
          }, graceMs + 2_000);
          w.once("exit", () => {
            clearTimeout(hard);
            resolve();
          });
          if (w.isConnected()) w.send({ type: "shutdown", graceMs } satisfies ToWorker);
          else w.process.kill("SIGTERM");
        }),
    );
    await Promise.all(exits);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("worker pool closed"));
    }
    this.pending.clear();
  }
}
