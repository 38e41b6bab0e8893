import { startIdleCompactor } from "../idle-compactor";
import { createLogger } from "../log";
import { addProcessMetrics } from "../process-metrics";
import { Engine } from "../engine/engine";
import { ListenError } from "./traffic-runtime";
import type { FromWorker, ToWorker } from "./messages";

/**
 * Entry point of a worker process (forked by WorkerPool). It runs the listeners and proxies and
 * does only what the primary says. Signals are the primary's business: a Ctrl-C reaching the whole
 * process group must not kill workers before the primary has drained them, so workers ignore
 * SIGINT/SIGTERM and exit when told to or when the primary goes away.
 */

const log = createLogger(process.env.BALLAST_LOG_LEVEL ?? "info").child({ component: "worker", worker: process.pid });
const engine = new Engine({ log, host: process.env.BALLAST_LISTEN_HOST ?? "0.0.0.0", reusePort: true });
addProcessMetrics(engine.metrics, `worker-${process.pid}`);
const compactor = startIdleCompactor({ log: log.child({ component: "memory" }) });

function send(msg: FromWorker): void {
  if (process.connected) process.send!(msg);
}

let shuttingDown = false;
async function shutdown(graceMs: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  compactor?.stop();
  await engine.close(graceMs).catch((err: unknown) => log.error({ err }, "engine close failed"));
  process.exit(0);
}

process.on("SIGINT", () => {});
process.on("SIGTERM", () => {});
process.on("disconnect", () => void shutdown(Number(process.env.BALLAST_SHUTDOWN_GRACE_MS ?? 8000)));

process.on("message", (msg: ToWorker) => {
  switch (msg.type) {
    case "apply":
      engine.setHealth(msg.health);
      engine.apply(msg.snapshot).then(
        () => send({ type: "applied", id: msg.id }),
        (err: unknown) => {
          if (err instanceof ListenError) {
            // The cause only: the primary wraps it in a ListenError of its own (no doubled prefix).
            const cause = (err.cause as Error | undefined)?.message ?? String(err.cause);
            send({ type: "applied", id: msg.id, error: { listener: err.listener, port: err.port, message: cause } });
          } else {
            log.error({ err }, "applying a snapshot failed");
            send({ type: "applied", id: msg.id, error: { listener: "", port: 0, message: (err as Error).message } });
          }
        },
      );
      return;
    case "health":
      engine.setHealth(msg.table);
      return;
    case "stats":
      send({ type: "stats", id: msg.id, stats: engine.stats() });
      return;
    case "metrics":
      send({ type: "metrics", id: msg.id, dump: engine.metrics.dump() });
      return;
    case "shutdown":
      void shutdown(msg.graceMs);
      return;
  }
});

send({ type: "ready" });
