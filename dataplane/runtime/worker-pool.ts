import cluster, { type Worker } from "node:cluster";
import net from "node:net";
import type { Snapshot } from "../config/snapshot";
import type { HealthTable } from "../engine/core/server-health";
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
  /** Address the workers' listeners bind to (probed here first, see `probePorts`). Default 0.0.0.0. */
  listenHost?: string;
  /** How long to wait for a worker's answer before giving up on it. */
  requestTimeoutMs?: number;
  /** Probe with `SO_REUSEPORT` too: sibling replicas on this host share the ports (see `probePorts`). */
  sharedPorts?: boolean;
}

interface Pending {
  worker: Worker;
  resolve: (msg: FromWorker) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** A request to a worker that died (or whose channel closed) before it answered. */
class WorkerGone extends Error {}

/**
 * Worker processes that run the proxies (node:cluster). Each worker binds every listener's port
 * itself with `SO_REUSEPORT` (`EngineOptions.reusePort`): the kernel spreads new connections over
 * the workers by a hash of their addresses, where the primary handing each connection over
 * (cluster's default round robin) measured far more expensive, and one socket shared by all
 * (SCHED_NONE, still used for ephemeral ports) let whichever worker was awake take a whole burst.
 * A worker that dies is replaced and brought up to date with the current snapshot and health;
 * connections still waiting in the dead worker's accept queue are reset by the kernel.
 */
export class WorkerPool implements TrafficBackend {
  private readonly workers = new Set<Worker>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private current: { snapshot: Snapshot; health: HealthTable } | undefined;
  private closing = false;
  private readonly log: Logger;
  /** Applies and replacement catch-ups, one at a time (see `serial`). */
  private queue: Promise<unknown> = Promise.resolve();

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
      // A cluster Worker re-emits its process's errors (e.g. a send racing the channel's close);
      // unhandled, that 'error' would take the primary down.
      worker.on("error", (err: unknown) => this.log.warn({ worker: worker.process.pid, err }, "worker channel error"));
      // Questions the worker will never answer fail at once instead of at their timeout.
      worker.once("disconnect", () => this.abandon(worker));
      worker.once("exit", (code, signal) => {
        this.workers.delete(worker);
        this.abandon(worker);
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

  /**
   * Brings a replacement worker to the current configuration. Queued behind any apply in progress:
   * run earlier, it would send the snapshot that apply is replacing, after the new one.
   */
  private catchUp(worker: Worker): Promise<void> {
    return this.serial(async () => {
      if (!this.current || !worker.isConnected()) return;
      const reply = await this.request(worker, (id) => ({ type: "apply", id, ...this.current! }));
      if (reply.type === "applied" && reply.error) {
        this.log.error({ worker: worker.process.pid, error: reply.error }, "replacement worker could not apply the configuration");
      }
    });
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Fails every question still waiting for `worker` (it died). */
  private abandon(worker: Worker): void {
    for (const [id, p] of this.pending) {
      if (p.worker !== worker) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new WorkerGone(`worker ${worker.process.pid} exited before answering`));
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
    if (!worker.isConnected()) return Promise.reject(new WorkerGone(`worker ${worker.process.pid} is gone`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker ${worker.process.pid} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { worker, resolve, reject, timer });
      worker.send(make(id));
    });
  }

  /**
   * Asks every worker. A worker that dies before answering is left out: its counters died with it,
   * and its replacement is brought up to date by `catchUp`.
   */
  private async askAll(make: (id: number) => ToWorker): Promise<FromWorker[]> {
    const replies = await Promise.all(
      [...this.workers].map((w) =>
        this.request(w, make).catch((err: unknown) => {
          if (err instanceof WorkerGone) return undefined;
          throw err;
        }),
      ),
    );
    return replies.filter((r): r is FromWorker => r !== undefined);
  }

  private async applyAll(snapshot: Snapshot, health: HealthTable): Promise<ListenError | undefined> {
    const replies = await this.askAll((id) => ({ type: "apply", id, snapshot, health }));
    for (const r of replies) {
      if (r.type === "applied" && r.error) return new ListenError(r.error.listener, r.error.port, new Error(r.error.message));
    }
    return undefined;
  }

  /**
   * Binds (and at once releases) here, in the primary, every port the snapshot opens that the live
   * one does not hold, without `SO_REUSEPORT`. The workers' own binds set `SO_REUSEPORT`, so they
   * would succeed beside another process of the same user that had set it too, and share its
   * connections: this bind fails on a port anyone holds. (Ephemeral ports, shared through the
   * primary, need no probe: node:cluster's shared-socket path mishandles EADDRINUSE, leaving the
   * dead socket registered so the port cannot be used until a restart, but port 0 never hits it.)
   * With `sharedPorts` (replicas on the etcd store) the probe sets `SO_REUSEPORT` as the workers do:
   * a sibling replica holding the port is expected, a process without it still refuses the bind.
   */
  private async probePorts(snapshot: Snapshot): Promise<ListenError | undefined> {
    const live = new Set((this.current?.snapshot.listeners ?? []).map((l) => l.port));
    for (const l of snapshot.listeners) {
      if (l.port === 0 || live.has(l.port)) continue;
      const err = await probeBind(l.port, this.opts.listenHost ?? "0.0.0.0", this.opts.sharedPorts ?? false);
      if (err) return new ListenError(l.name, l.port, err);
    }
    return undefined;
  }

  apply(snapshot: Snapshot, health: HealthTable): Promise<void> {
    return this.serial(async () => {
      const taken = await this.probePorts(snapshot);
      if (taken) throw taken;
      const failure = await this.applyAll(snapshot, health);
      if (failure) {
        // Some workers may have opened the new listeners: put every worker back on the live snapshot.
        if (this.current) await this.applyAll(this.current.snapshot, this.current.health);
        throw failure;
      }
      this.current = { snapshot, health };
    });
  }

  setHealth(health: HealthTable): void {
    if (this.current) this.current = { ...this.current, health };
    for (const w of this.workers) if (w.isConnected()) w.send({ type: "health", table: health } satisfies ToWorker);
  }

  async stats(): Promise<WorkerStats> {
    const replies = await this.askAll((id) => ({ type: "stats", id }));
    const total: WorkerStats = {};
    for (const r of replies) if (r.type === "stats") addStats(total, r.stats);
    return total;
  }

  async metrics(): Promise<MetricsDump[]> {
    const replies = await this.askAll((id) => ({ type: "metrics", id }));
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

/** Listens on host:port and closes again; resolves with the error if the port cannot be bound. */
function probeBind(port: number, host: string, reusePort: boolean): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (err) => resolve(err));
    server.listen({ port, host, exclusive: true, ...(reusePort ? { reusePort: true } : {}) }, () => server.close(() => resolve(undefined)));
  });
}
