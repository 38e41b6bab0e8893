import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/**
 * Runs the built data plane (`node dist/dataplane/main.js`) as a child process for tests that go
 * through real HTTP: admin on 127.0.0.1 port 0, a fresh temp state dir unless one is given, a
 * random token, log level info, a 2 s shutdown grace, listeners bound on 127.0.0.1 only
 * (`BALLAST_LISTEN_HOST`) by one worker process (`BALLAST_WORKERS`); inherited BALLAST_* variables
 * are dropped and `env` overrides all of it. Build first (`npx tsc -p tsconfig.json`).
 *
 * The listeners a test creates really bind their port on this (shared) machine: give them ports
 * from `freePort()` / `freePorts(n)` (test/helpers/ports.ts), never fixed ones.
 *
 *   const dp = await startDataplane();
 *   const res = await dp.api("/v1/listeners");          // adds the bearer token
 *   await dp.stop();                                     // SIGTERM, bounded wait, then SIGKILL
 */

export const MAIN_JS = resolve(__dirname, "../../dist/dataplane/main.js");

export interface DataplaneOptions {
  /** Extra environment; a variable set to `undefined` is removed (e.g. `BALLAST_ADMIN_TOKEN`). */
  env?: Record<string, string | undefined>;
  /** State directory to use; kept on stop. Default: a new temp dir, removed on stop. */
  stateDir?: string;
  /** Admin token; default: 32 random hex characters. */
  token?: string;
  /** How long to wait for "admin listening" (default 30 s: the machine may be busy). */
  startTimeoutMs?: number;
}

export interface Dataplane {
  /** Admin base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  token: string;
  stateDir: string;
  pid: number;
  /** `fetch(url + path)` with `Authorization: Bearer <token>` unless `init.headers` sets one. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM (or `signal`), wait up to 15 s, then SIGKILL. Resolves with the exit code. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

const STOP_TIMEOUT_MS = 15_000;

function makeEnv(token: string, stateDir: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // BALLAST_HTTP_ENGINE is passed on: scripts/test.sh's second leg runs the traffic tests on the
  // wasm parser, data planes these tests start included.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("BALLAST_") || k === "BALLAST_HTTP_ENGINE") env[k] = v;
  Object.assign(env, {
    BALLAST_ADMIN_ADDR: "127.0.0.1:0",
    BALLAST_ADMIN_TOKEN: token,
    BALLAST_STATE_DIR: stateDir,
    BALLAST_LOG_LEVEL: "info",
    BALLAST_SHUTDOWN_GRACE_MS: "2000",
    BALLAST_LISTEN_HOST: "127.0.0.1",
    BALLAST_WORKERS: "1",
  });
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function assertBuilt(): void {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run \`npx tsc -p tsconfig.json\` before these tests`);
}

/**
 * Holds a TCP port on 127.0.0.1 (a free one unless `port` is given) until `close()`: what another
 * process holding a listener's port looks like to the data plane.
 */
export async function occupyPort(port = 0): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolveListen());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((done) => (server.listening ? server.close(() => done()) : done())),
  };
}

/** A new empty temp directory (the caller removes it, e.g. with `rmSync(dir, { recursive: true })`). */
export function makeTempDir(prefix = "ballast-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function spawnMain(env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string; exited: Promise<ExitResult> } {
  assertBuilt();
  const child = spawn(process.execPath, [MAIN_JS], { env, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (text += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (text += d));
  const exited = new Promise<ExitResult>((done) => {
    child.once("close", (code, signal) => done({ code, signal, output: text }));
  });
  return { child, output: () => text, exited };
}

/** Starts the data plane and resolves once its admin API listens. */
export async function startDataplane(options: DataplaneOptions = {}): Promise<Dataplane> {
  const token = options.token ?? randomBytes(16).toString("hex");
  const ownDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? makeTempDir("ballast-state-");
  const { child, output, exited } = spawnMain(makeEnv(token, stateDir, options.env));
  let exit: ExitResult | undefined;
  void exited.then((r) => (exit = r));

  const timeoutMs = options.startTimeoutMs ?? 30_000;
  let url: string | undefined;
  try {
    url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`data plane did not start within ${timeoutMs} ms:\n${output()}`)), timeoutMs);
      const scan = () => {
        for (const line of output().split("\n")) {
          if (!line.includes('"admin listening"')) continue;
          try {
            const found = (JSON.parse(line) as { url?: string }).url;
            if (found) {
              clearTimeout(timer);
              child.stdout?.off("data", scan);
              return resolveUrl(found);
            }
          } catch {
            // a partial line; the next chunk completes it
          }
        }
      };
      child.stdout?.on("data", scan);
      void exited.then((r) => {
        clearTimeout(timer);
        reject(new Error(`data plane exited (code ${r.code}, signal ${r.signal}) before listening:\n${r.output}`));
      });
    });
  } catch (err) {
    if (!exit) child.kill("SIGKILL");
    await exited;
    if (ownDir) rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }

  let stopping: Promise<number | null> | undefined;
  const base = url;
  return {
    url: base,
    token,
    stateDir,
    pid: child.pid ?? -1,
    api(path, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
      return fetch(base + path, { ...init, headers });
    },
    output,
    stop(signal = "SIGTERM") {
      stopping ??= (async () => {
        if (!exit) {
          child.kill(signal);
          const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
          await exited;
          clearTimeout(timer);
        }
        if (ownDir) rmSync(stateDir, { recursive: true, force: true });
        return (await exited).code;
      })();
      return stopping;
    },
  };
}

/**
 * Runs the data plane expecting it to exit by itself (a refused start). Kills it after
 * `timeoutMs` if it does not, and reports that as a failure in the output.
 */
export async function runDataplaneToExit(options: DataplaneOptions & { timeoutMs?: number } = {}): Promise<ExitResult> {
  const token = options.token ?? randomBytes(16).toString("hex");
  const ownDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? makeTempDir("ballast-state-");
  const { child, exited } = spawnMain(makeEnv(token, stateDir, options.env));
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  const result = await exited;
  clearTimeout(timer);
  if (ownDir) rmSync(stateDir, { recursive: true, force: true });
  return result;
}
