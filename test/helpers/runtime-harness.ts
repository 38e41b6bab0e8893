import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { startDataplane, type Dataplane, type DataplaneOptions } from "./dataplane-process";

/**
 * Helpers for tests of the data plane's multi-process runtime through the real process
 * (`node dist/dataplane/main.js`, configured only through the admin API): admin calls that assert
 * their status, keep-alive HTTP clients (one agent per connection, so a test knows its sockets),
 * a bounded load generator, the process tree (/proc), which worker owns a client's connection,
 * Prometheus text parsing, and bounded waits. Everything binds and connects on 127.0.0.1 only.
 */

// ---------------------------------------------------------------------------------------------
// Data plane processes

export interface RuntimeDataplane extends Dataplane {
  /** Worker PIDs seen at some point (to make sure none outlives the test). */
  readonly seenWorkers: Set<number>;
}

/**
 * Starts the data plane with every setting these tests rely on passed explicitly (listeners on
 * 127.0.0.1, `workers` worker processes, log level info: the start is detected by an info line).
 */
export async function startRuntime(workers: number, env: Record<string, string | undefined> = {}, options: Omit<DataplaneOptions, "env"> = {}): Promise<RuntimeDataplane> {
  const dp = await startDataplane({
    startTimeoutMs: 60_000,
    ...options,
    env: {
      BALLAST_WORKERS: String(workers),
      BALLAST_LISTEN_HOST: "127.0.0.1",
      BALLAST_LOG_LEVEL: "info",
      BALLAST_SHUTDOWN_GRACE_MS: "2000",
      ...env,
    },
  });
  const seenWorkers = new Set<number>(childPids(dp.pid));
  return Object.assign(dp, { seenWorkers });
}

/**
 * Stops a data plane (SIGTERM, bounded, then SIGKILL, by the helper) and then kills, by PID, any
 * worker process of it that is still alive (it should not be).
 */
export async function stopRuntime(dp: RuntimeDataplane): Promise<number | null> {
  for (const pid of childPids(dp.pid)) dp.seenWorkers.add(pid);
  const code = await dp.stop();
  const deadline = Date.now() + 5_000;
  for (const pid of dp.seenWorkers) {
    while (alive(pid) && Date.now() < deadline) await sleep(50);
    if (alive(pid) && isNodeProcess(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
  }
  return code;
}

/** Direct children of `pid` (the data plane's worker processes), from /proc. */
export function childPids(pid: number): number[] {
  const out = new Set<number>();
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/)) if (c) out.add(Number(c));
    } catch {
      // thread gone
    }
  }
  // Zombies (exited, not yet reaped) are not workers.
  return [...out].filter((c) => alive(c)).sort((a, b) => a - b);
}

/** True while `pid` exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

function isNodeProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("node");
  } catch {
    return false;
  }
}

/** Polls `childPids(pid)` until it has `n` entries. */
export async function waitForWorkers(dp: RuntimeDataplane, n: number, timeoutMs = 30_000): Promise<number[]> {
  return waitFor(`${n} worker processes of ${dp.pid}`, () => {
    const pids = childPids(dp.pid);
    for (const p of pids) dp.seenWorkers.add(p);
    return pids.length === n ? pids : undefined;
  }, timeoutMs);
}

// ---------------------------------------------------------------------------------------------
// Which process owns a connection

function hexPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, "0");
}

/** inode of the socket whose local end is 127.0.0.1:`localPort` and remote end 127.0.0.1:`remotePort`. */
function socketInode(localPort: number, remotePort: number): string | undefined {
  const local = `0100007F:${hexPort(localPort)}`;
  const remote = `0100007F:${hexPort(remotePort)}`;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[2] === remote && f[9] && f[9] !== "0") return f[9];
  }
  return undefined;
}

function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/**
 * For each client socket (its local port), the PID among `pids` that holds the accepted end of the
 * connection to `listenerPort`; undefined when none does (closed, or not found).
 */
export function connectionOwners(pids: number[], listenerPort: number, clientPorts: number[]): Map<number, number | undefined> {
  const byPid = pids.map((pid) => [pid, socketInodes(pid)] as const);
  const out = new Map<number, number | undefined>();
  for (const cp of clientPorts) {
    const inode = socketInode(listenerPort, cp);
    out.set(cp, inode ? byPid.find(([, inodes]) => inodes.has(inode))?.[0] : undefined);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Admin API

export interface Admin {
  create(kind: string, body: Record<string, unknown>): Promise<Record<string, unknown>>;
  update(kind: string, name: string, body: Record<string, unknown>): Promise<Record<string, unknown>>;
  remove(kind: string, name: string): Promise<void>;
  /** Any call; resolves with status and parsed body (or text). */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  status(service: string): Promise<ServerStatusLine[]>;
  metrics(): Promise<Sample[]>;
}

export interface ServerStatusLine {
  address: string;
  port: number;
  weight: number;
  effectiveWeight: number;
  health: "healthy" | "unhealthy" | "unchecked";
  lastCheck: { at: string; ok: boolean; reason: string } | null;
  activeConnections: number;
  activeRequests: number;
}

/** Admin calls on `dp` that throw (with the answer) unless the status is the expected one. */
export function admin(dp: Dataplane, timeoutMs = 30_000): Admin {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await dp.api(path, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // text body (metrics)
    }
    return { status: res.status, body: parsed as any };
  };
  const expectStatus = async (method: string, path: string, status: number, body?: unknown) => {
    const r = await call(method, path, body);
    if (r.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body as Record<string, unknown>;
  };
  return {
    create: (kind, body) => expectStatus("POST", `/v1/${kind}`, 201, body),
    update: (kind, name, body) => expectStatus("PUT", `/v1/${kind}/${name}`, 200, body),
    remove: async (kind, name) => void (await expectStatus("DELETE", `/v1/${kind}/${name}`, 204)),
    call,
    status: async (service) => ((await expectStatus("GET", `/v1/backend-services/${service}/status`, 200)) as { servers: ServerStatusLine[] }).servers,
    metrics: async () => {
      const r = await call("GET", "/metrics");
      if (r.status !== 200) throw new Error(`GET /metrics: ${r.status}`);
      return parseMetrics(String(r.body));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Prometheus text

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples named `name` whose labels include `match`. */
export function sumOf(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

// ---------------------------------------------------------------------------------------------
// HTTP clients

export interface HttpResult {
  /** 0 when the request failed without a response (see `error`). */
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  error?: string;
  /** Local port of the client socket that carried the request. */
  localPort?: number;
}

/**
 * One GET (or `method`) to 127.0.0.1:`port`, bounded by `timeoutMs`. Never rejects: a failure is
 * `status: 0` with the error code.
 */
export function httpRequest(port: number, opts: { path?: string; method?: string; headers?: http.OutgoingHttpHeaders; agent?: http.Agent | false; timeoutMs?: number } = {}): Promise<HttpResult> {
  return new Promise((resolve) => {
    let localPort: number | undefined;
    let settled = false;
    const done = (r: HttpResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, ...(localPort !== undefined ? { localPort } : {}) });
    };
    const req = http.request({ host: "127.0.0.1", port, path: opts.path ?? "/", method: opts.method ?? "GET", headers: opts.headers, agent: opts.agent ?? false });
    const timer = setTimeout(() => {
      req.destroy(new Error("client timeout"));
    }, opts.timeoutMs ?? 20_000);
    req.on("socket", (s: net.Socket) => {
      const record = () => (localPort = s.localPort);
      if (s.localPort) record();
      else s.once("connect", record);
    });
    req.on("error", (err: NodeJS.ErrnoException) => done({ status: 0, body: "", headers: {}, error: err.code ?? err.message }));
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (err: NodeJS.ErrnoException) => done({ status: 0, body: "", headers: {}, error: `response ${err.code ?? err.message}` }));
      res.on("aborted", () => done({ status: 0, body: "", headers: {}, error: "response aborted" }));
      res.on("end", () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.end();
  });
}

/** A keep-alive agent holding at most one connection: one "client connection" of a test. */
export function keepAliveAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 1, keepAliveMsecs: 1000 });
}

export interface LoadResult {
  sent: number;
  /** Responses by status code. */
  byStatus: Map<number, number>;
  /** Successful (200) responses by body (the origin's name). */
  byBody: Map<string, number>;
  /** Every request that did not get a 200: the first 50, with when it happened. */
  failures: { at: number; status: number; error?: string; body: string }[];
  failed: number;
  /** Local ports of every client socket used. */
  localPorts: Set<number>;
}

/**
 * Sends requests on `agents.length` keep-alive connections at once (each connection one request
 * at a time) until `total` were sent, or `until()` turns true once at least `minTotal` were sent.
 * Bounded by `total` and `maxMs`.
 */
export async function runLoad(opts: {
  port: number;
  agents: http.Agent[];
  total: number;
  minTotal?: number;
  until?: () => boolean;
  maxMs?: number;
  path?: string;
  headers?: http.OutgoingHttpHeaders;
  /** Called with every answer (or failure) as it arrives. */
  onResult?: (r: HttpResult) => void;
}): Promise<LoadResult> {
  const result: LoadResult = { sent: 0, byStatus: new Map(), byBody: new Map(), failures: [], failed: 0, localPorts: new Set() };
  const deadline = Date.now() + (opts.maxMs ?? 120_000);
  const more = () => {
    if (result.sent >= opts.total || Date.now() > deadline) return false;
    if (opts.until && result.sent >= (opts.minTotal ?? 0) && opts.until()) return false;
    return true;
  };
  await Promise.all(
    opts.agents.map(async (agent) => {
      while (more()) {
        result.sent++;
        const r = await httpRequest(opts.port, { agent, ...(opts.path ? { path: opts.path } : {}), ...(opts.headers ? { headers: opts.headers } : {}) });
        opts.onResult?.(r);
        if (r.localPort !== undefined) result.localPorts.add(r.localPort);
        result.byStatus.set(r.status, (result.byStatus.get(r.status) ?? 0) + 1);
        if (r.status === 200) result.byBody.set(r.body, (result.byBody.get(r.body) ?? 0) + 1);
        else {
          result.failed++;
          if (result.failures.length < 50) result.failures.push({ at: Date.now(), status: r.status, body: r.body.slice(0, 200), ...(r.error ? { error: r.error } : {}) });
        }
      }
    }),
  );
  return result;
}

// ---------------------------------------------------------------------------------------------
// Ports and waits

/** `n` distinct ports that were free on 127.0.0.1 a moment ago (all bound to port 0 at once, then released). */
export async function freeTcpPorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()))));
  }
}

/** Holds 127.0.0.1:`port` (0 = any free port) until `close()`. */
export async function holdPort(port = 0): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => (server.listening ? server.close(() => r()) : r())),
  };
}

/** Resolves true if a TCP connect to 127.0.0.1:`port` is refused, false if it connects (bounded). */
export function connectRefused(port: number, timeoutMs = 5_000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(timer);
      s.destroy();
      resolve(false);
    });
    s.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === "ECONNREFUSED");
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` until it returns something other than undefined; fails after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await sleep(everyMs);
  }
}

/**
 * Opens keep-alive connections to 127.0.0.1:`port` (one agent each, one GET each) until every
 * worker in `workers` holds at least one and at least `min` are open: the kernel, not the test,
 * picks the worker that accepts, so this is bounded by `maxTries` connections.
 */
export async function connectionsOnEveryWorker(
  port: number,
  workers: number[],
  opts: { min?: number; maxTries?: number; path?: string; headers?: http.OutgoingHttpHeaders; onAgent?: (a: http.Agent) => void } = {},
): Promise<{ agents: http.Agent[]; owners: Map<http.Agent, number | undefined>; responses: HttpResult[] }> {
  const agents: http.Agent[] = [];
  const owners = new Map<http.Agent, number | undefined>();
  const responses: HttpResult[] = [];
  const covered = new Set<number>();
  const min = opts.min ?? 1;
  for (let i = 0; i < (opts.maxTries ?? 80) && (agents.length < min || workers.some((w) => !covered.has(w))); i++) {
    const agent = keepAliveAgent();
    opts.onAgent?.(agent);
    const r = await httpRequest(port, { agent, ...(opts.path ? { path: opts.path } : {}), ...(opts.headers ? { headers: opts.headers } : {}) });
    responses.push(r);
    agents.push(agent);
    const owner = r.localPort === undefined ? undefined : connectionOwners(workers, port, [r.localPort]).get(r.localPort);
    owners.set(agent, owner);
    if (owner !== undefined) covered.add(owner);
  }
  return { agents, owners, responses };
}
