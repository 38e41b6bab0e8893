import { readFileSync } from "node:fs";
import { parseHostPort } from "./admin/admin-server";
import { startIdleCompactor, type IdleCompactor } from "./idle-compactor";
import { createLogger, type Logger } from "./log";
import { HTTP_ENGINE_VAR, applyNodeFlags, nodeInternals, parseHttpEngineSetting } from "./node-internals";
import { startPrimary } from "./primary";
import { PrimaryRuntime, defaultWorkers } from "./runtime/primary-runtime";
import type { TrafficRuntime } from "./runtime/traffic-runtime";
import { parseStoreSettings, type StoreSettings } from "./store/store-settings";

/**
 * The data plane's entry point (`node dist/dataplane/main.js`, the container's entrypoint) and the
 * only place that reads the environment:
 *
 * | variable                   | default            | meaning                                               |
 * |----------------------------|--------------------|-------------------------------------------------------|
 * | BALLAST_ADMIN_ADDR         | 127.0.0.1:9180     | host:port of the admin API; port 0 = any free port    |
 * | BALLAST_ADMIN_TOKEN        | (required)         | bearer token of /v1, at least 16 printable characters |
 * | BALLAST_STATE_DIR          | ./.ballast/state   | directory of the state file                           |
 * | BALLAST_LOG_LEVEL          | info               | trace, debug, info, warn, error, fatal or silent      |
 * | BALLAST_SHUTDOWN_GRACE_MS  | 8000               | how long in-flight work may finish after SIGTERM      |
 * | BALLAST_WORKERS            | available cores    | proxy worker processes; 0 = proxies in this process   |
 * |                            | (0 on one core)    |                                                       |
 * | BALLAST_LISTEN_HOST        | 0.0.0.0            | address every listener binds to                       |
 * | BALLAST_HTTP_ENGINE        | native             | `wasm`: llhttp compiled to WebAssembly instead of     |
 * |                            |                    | Node's own binding (node-internals.ts)                |
 * | BALLAST_STORE, BALLAST_ETCD_*, BALLAST_REPLICA_NAME | file | the store backend: store/store-settings.ts |
 *
 * The grace period stays under Docker's default 10 s stop timeout, so a `docker stop` ends with
 * exit code 0 rather than a SIGKILL. Any problem with the settings or the state file stops the
 * start with one fatal log line saying what is wrong, and exit code 1.
 */

export interface Settings {
  adminAddr: string;
  token: string;
  stateDir: string;
  logLevel: string;
  shutdownGraceMs: number;
  workers: number;
  listenHost: string;
  store: StoreSettings;
}

export const MIN_TOKEN_LENGTH = 16;
const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];
/** Extra time after the grace period before a hung shutdown is cut short. */
const SHUTDOWN_WATCHDOG_MS = 5_000;

export type ParsedSettings = { ok: true; settings: Settings } | { ok: false; problems: string[] };

/** Reads the settings from an environment; the problems never quote the token. */
export function parseSettings(env: Readonly<Record<string, string | undefined>>): ParsedSettings {
  const problems: string[] = [];
  const token = env.BALLAST_ADMIN_TOKEN ?? "";
  if (token === "") {
    problems.push(`BALLAST_ADMIN_TOKEN is required: set it to a secret of at least ${MIN_TOKEN_LENGTH} characters`);
  } else if (token.length < MIN_TOKEN_LENGTH) {
    problems.push(`BALLAST_ADMIN_TOKEN is too short (${token.length} characters); use at least ${MIN_TOKEN_LENGTH}`);
  } else if (!/^[\x21-\x7e]+$/.test(token)) {
    problems.push("BALLAST_ADMIN_TOKEN must be printable ASCII without spaces (it is sent as 'Authorization: Bearer <token>')");
  }
  const logLevel = env.BALLAST_LOG_LEVEL || "info";
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`BALLAST_LOG_LEVEL '${logLevel}' is not one of ${LOG_LEVELS.join(", ")}`);
  const graceText = env.BALLAST_SHUTDOWN_GRACE_MS || "8000";
  const shutdownGraceMs = Number(graceText);
  if (!/^\d+$/.test(graceText) || !Number.isSafeInteger(shutdownGraceMs)) {
    problems.push(`BALLAST_SHUTDOWN_GRACE_MS '${graceText}' must be a whole number of milliseconds`);
  }
  const workersText = env.BALLAST_WORKERS || String(defaultWorkers());
  const workers = Number(workersText);
  if (!/^\d+$/.test(workersText) || workers > 256) {
    problems.push(`BALLAST_WORKERS '${workersText}' must be a whole number from 0 to 256 (0 = no worker processes)`);
  }
  const listenHost = env.BALLAST_LISTEN_HOST || "0.0.0.0";
  const adminAddr = env.BALLAST_ADMIN_ADDR || "127.0.0.1:9180";
  try {
    parseHostPort(adminAddr);
  } catch (err) {
    problems.push(`BALLAST_ADMIN_ADDR ${(err as Error).message}`);
  }
  const httpEngine = parseHttpEngineSetting(env[HTTP_ENGINE_VAR]);
  if (!httpEngine.ok) problems.push(httpEngine.problem);
  const store = parseStoreSettings(env, problems, (file) => readFileSync(file, "utf8"));
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    settings: { adminAddr, token, stateDir: env.BALLAST_STATE_DIR || "./.ballast/state", logLevel, shutdownGraceMs, workers, listenHost, store },
  };
}

function exit(log: Logger, code: number): void {
  log.flush(() => process.exit(code));
}

async function main(): Promise<void> {
  const parsed = parseSettings(process.env);
  const log = createLogger(parsed.ok ? parsed.settings.logLevel : "info");
  if (!parsed.ok) {
    log.fatal({ problems: parsed.problems }, `cannot start: ${parsed.problems.join("; ")}`);
    return exit(log, 1);
  }
  const { settings } = parsed;
  // Node's private APIs (node-internals.ts): one warning per fallback, here in the primary only
  // (the workers decide the same way, silently).
  const internals = nodeInternals();
  if (internals.http.fallbackReason) {
    log.warn({ parser: internals.http.engine, reason: internals.http.fallbackReason }, `HTTP engine falls back to llhttp compiled to WebAssembly (slower): ${internals.http.fallbackReason}`);
  }
  if (!internals.readAdoption) log.warn("this Node lacks the socket fields that `onread` sets: client sockets read through 'data' events (slower)");

  // Signals are handled from the first moment: one that arrives while the workers or the admin API
  // are still starting is remembered and acted on as soon as there is something to shut down.
  let primary: Awaited<ReturnType<typeof startPrimary>> | undefined;
  let compactor: IdleCompactor | undefined;
  let requested: NodeJS.Signals | undefined;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (!primary) {
      requested ??= signal;
      return;
    }
    if (stopping) return void log.warn({ signal }, "already shutting down");
    stopping = true;
    compactor?.stop();
    log.info({ signal, graceMs: settings.shutdownGraceMs }, "shutting down");
    setTimeout(() => {
      log.error({ graceMs: settings.shutdownGraceMs }, "shutdown did not finish in time; exiting");
      exit(log, 1);
    }, settings.shutdownGraceMs + SHUTDOWN_WATCHDOG_MS).unref();
    primary.close(settings.shutdownGraceMs).then(
      () => exit(log, 0),
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        exit(log, 1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  let runtime: TrafficRuntime;
  try {
    runtime = await PrimaryRuntime.start({
      log,
      workers: settings.workers,
      listenHost: settings.listenHost,
      logLevel: settings.logLevel,
      shutdownGraceMs: settings.shutdownGraceMs,
      sharedPorts: settings.store.kind === "etcd",
    });
  } catch (err) {
    log.fatal({ err }, `cannot start the traffic workers: ${(err as Error).message}`);
    return exit(log, 1);
  }
  try {
    primary = await startPrimary({ adminAddr: settings.adminAddr, token: settings.token, stateDir: settings.stateDir, log, runtime, store: settings.store, replica: settings.store.replicaName });
  } catch (err) {
    log.fatal({ stateDir: settings.stateDir }, `cannot start: ${(err as Error).message}`);
    await runtime.close(0).catch(() => undefined);
    return exit(log, 1);
  }
  // Gives back what start-up and each configuration or burst of traffic left, once quiet.
  compactor = startIdleCompactor({ log: log.child({ component: "memory" }) });
  if (requested) stop(requested);
}

if (require.main === module) {
  // First: re-executes with the data plane's V8 flags (node-flags.ts) before anything is opened.
  applyNodeFlags();
  void main();
}
