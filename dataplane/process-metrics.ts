import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { drops } from "./log";
import type { Metrics } from "./metrics";
import { monotonicMs } from "./clock";
import { httpEngine } from "./node-internals";

/**
 * The metrics every process of the data plane reports about itself, under the names Prometheus'
 * client libraries use (`process_*`, `nodejs_eventloop_lag_seconds`), each labelled with the
 * process (`primary`, or `worker-<pid>` as in the worker's log lines): /metrics merges every
 * process's registry, and sums are what dashboards want of memory, CPU and descriptors. Read when
 * metrics are collected, except the event loop lag, which a timer samples (`LAG_SAMPLE_MS`):
 * no `perf_hooks` (its histogram loads modules an idle process would carry for nothing).
 */

const LAG_SAMPLE_MS = 500;

declare const BALLAST_BUILD: { version: string; commit: string } | undefined;

/** Version and commit: set by the bundle (scripts/bundle.mjs); from package.json otherwise. */
export function buildInfo(): { version: string; commit: string } {
  if (typeof BALLAST_BUILD !== "undefined") return BALLAST_BUILD;
  for (let dir = __dirname, i = 0; i < 4; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "ballast") return { version: pkg.version ?? "unknown", commit: "unknown" };
    } catch {
      // not here: one directory up
    }
  }
  return { version: "unknown", commit: "unknown" };
}

/** Registers the process collector on `metrics`; returns a function that stops its lag sampler. */
export function addProcessMetrics(metrics: Metrics, processName: string, opts: { build?: boolean } = {}): () => void {
  const labels = { process: processName };
  const startTime = Math.round(Date.now() - process.uptime() * 1000) / 1000;
  let maxLag = 0;
  let expected = monotonicMs() + LAG_SAMPLE_MS;
  const sampler = setInterval(() => {
    const now = monotonicMs();
    maxLag = Math.max(maxLag, now - expected);
    expected = now + LAG_SAMPLE_MS;
  }, LAG_SAMPLE_MS);
  sampler.unref();
  let cpuCounted = 0;
  let droppedCounted = 0;
  const maxFds = readMaxFds();
  const build = opts.build ? { ...buildInfo(), node: process.version } : undefined;
  // Decided the same way in the primary and every worker (node-internals.ts), so the primary's
  // answer is the process tree's; set there only, as gauges from workers add up when merged.
  const parser = opts.build ? { parser: httpEngine().engine } : undefined;

  metrics.addCollector(() => {
    metrics.set("process_resident_memory_bytes", "Resident memory size in bytes, by process.", labels, process.memoryUsage.rss());
    const usage = process.cpuUsage();
    const cpu = (usage.user + usage.system) / 1e6;
    metrics.inc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds, by process.", labels, cpu - cpuCounted);
    cpuCounted = cpu;
    metrics.set("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", labels, startTime);
    const fds = openFds();
    if (fds !== undefined) metrics.set("process_open_fds", "Number of open file descriptors, by process.", labels, fds);
    if (maxFds !== undefined) metrics.set("process_max_fds", "Maximum number of open file descriptors, by process.", labels, maxFds);
    metrics.set("nodejs_eventloop_lag_seconds", "Largest event loop delay seen since the previous scrape, in seconds, by process.", labels, Math.max(0, maxLag) / 1000);
    maxLag = 0;
    metrics.inc("ballast_access_log_dropped_total", "Access log lines dropped because the log output (stdout) did not keep up.", undefined, drops.access - droppedCounted);
    droppedCounted = drops.access;
    if (build) metrics.set("ballast_build_info", "Always 1: the running build's version, commit and Node.js version.", build, 1);
    if (parser) metrics.set("ballast_http_parser_info", "Always 1: the HTTP parser the engine runs on (llhttp-native: Node's own; llhttp-wasm: the fallback).", parser, 1);
  });
  return () => clearInterval(sampler);
}

function openFds(): number | undefined {
  try {
    // The directory's own descriptor is among the entries while it is read.
    return readdirSync("/proc/self/fd").length - 1;
  } catch {
    return undefined;
  }
}

function readMaxFds(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
