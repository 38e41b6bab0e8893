import type { Agent as HttpAgent, IncomingMessage } from "node:http";

/**
 * A small etcd v3 client over etcd's JSON gateway (`/v3/kv/range`, `/v3/kv/txn`, `/v3/watch`,
 * `/v3/auth/authenticate`; etcd 3.4 and later serve it on the client port), on node:http with a
 * keep-alive agent. Not the `etcd3` package (grpc-js, protobufjs: a gRPC stack in every replica)
 * and not undici either: undici compiles its llhttp to WebAssembly when first used, which cost an
 * idle replica far more RSS than node:http does (docs/benchmarks.md, "The etcd store"). Loaded
 * only when `BALLAST_STORE=etcd`.
 *
 * Every unary call has one deadline (`timeoutMs`, at most 5 s) over all endpoints: an endpoint
 * that refuses the connection passes the call to the next; an endpoint that answered nothing in
 * time, or says it has no leader, fails the call with `EtcdUnavailableError` naming every endpoint
 * as given. A transaction is never re-sent once an endpoint may have received it: a second copy
 * could commit twice.
 */

export interface EtcdClientOptions {
  endpoints: string[];
  username?: string;
  password?: string;
  /** PEM texts for client TLS (https endpoints). */
  tls?: { ca?: string; cert?: string; key?: string };
  /** Deadline of one call over every endpoint; default and maximum 5000 ms. */
  timeoutMs?: number;
}

export interface KeyValue {
  key: string;
  value: string;
  modRevision: number;
}

export interface WatchEvent {
  type: "put" | "delete";
  kv: KeyValue;
}

/** One message of a watch stream. */
export interface WatchResponse {
  revision: number;
  events: WatchEvent[];
  /** Set when the watch was cancelled because `startRevision` was compacted away. */
  compactRevision?: number;
  canceled?: boolean;
  created?: boolean;
}

export type Compare = { key: string; modRevision: number };
export type Op = { put: { key: string; value: string } } | { deleteRange: { key: string; rangeEnd?: string } };

/** etcd cannot be reached, or has no leader, within the deadline. */
export class EtcdUnavailableError extends Error {
  override readonly name = "EtcdUnavailableError";
  constructor(
    readonly endpoints: string[],
    readonly reasons: string[],
  ) {
    super(`etcd at ${endpoints.join(", ")} cannot be reached or has no leader (${reasons.join("; ") || "no answer"})`);
  }
}

/** etcd answered with an error that retrying elsewhere would not change (e.g. permission denied). */
export class EtcdRequestError extends Error {
  override readonly name = "EtcdRequestError";
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
const unb64 = (text: string | undefined) => (text ? Buffer.from(text, "base64").toString("utf8") : "");

/** The first key after every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, "utf8");
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i]!++;
      return end.toString("latin1");
    }
  }
  return "\0";
}

function keyValue(raw: { key?: string; value?: string; mod_revision?: string }): KeyValue {
  return { key: unb64(raw.key), value: unb64(raw.value), modRevision: Number(raw.mod_revision ?? 0) };
}

/** Errors that mean "the request never reached this endpoint": the next one may take it. */
const NOT_SENT = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

interface CallOptions {
  /** False for a transaction: once possibly received, it is not sent to another endpoint. */
  resendable: boolean;
}

export class EtcdClient {
  readonly endpoints: string[];
  private readonly timeoutMs: number;
  private readonly agents = new Map<string, HttpAgent>();
  private preferred = 0;
  private token: string | undefined;
  private closed = false;

  constructor(private readonly options: EtcdClientOptions) {
    this.endpoints = options.endpoints;
    this.timeoutMs = Math.min(options.timeoutMs ?? 5000, 5000);
  }

  async range(key: string, rangeEnd?: string): Promise<{ revision: number; kvs: KeyValue[] }> {
    const body = { key: b64(key), ...(rangeEnd !== undefined ? { range_end: b64(rangeEnd) } : {}) };
    const res = (await this.call("/v3/kv/range", body, { resendable: true })) as { header?: { revision?: string }; kvs?: unknown[] };
    return { revision: Number(res.header?.revision ?? 0), kvs: (res.kvs ?? []).map((kv) => keyValue(kv as Record<string, string>)) };
  }

  /** A transaction: `success` runs when every compare holds (each key's mod revision equals the one given; 0 = absent). */
  async txn(compare: Compare[], success: Op[]): Promise<{ succeeded: boolean; revision: number }> {
    const body = {
      compare: compare.map((c) => ({ target: "MOD", result: "EQUAL", key: b64(c.key), mod_revision: String(c.modRevision) })),
      success: success.map((op) =>
        "put" in op
          ? { request_put: { key: b64(op.put.key), value: b64(op.put.value) } }
          : { request_delete_range: { key: b64(op.deleteRange.key), ...(op.deleteRange.rangeEnd !== undefined ? { range_end: b64(op.deleteRange.rangeEnd) } : {}) } },
      ),
      failure: [],
    };
    const res = (await this.call("/v3/kv/txn", body, { resendable: false })) as { header?: { revision?: string }; succeeded?: boolean };
    return { succeeded: res.succeeded === true, revision: Number(res.header?.revision ?? 0) };
  }

  /**
   * Watches `[key, rangeEnd)` from `startRevision` on the first endpoint that accepts the stream.
   * `onResponse` gets every message in order; `onEnd` is called once when the stream ends for any
   * reason (never after `cancel`).
   */
  async watch(key: string, rangeEnd: string, startRevision: number, onResponse: (r: WatchResponse) => void, onEnd: (err: Error) => void): Promise<{ cancel(): void }> {
    const body = JSON.stringify({ create_request: { key: b64(key), range_end: b64(rangeEnd), start_revision: String(startRevision) } });
    const reasons: string[] = [];
    for (let i = 0; i < this.endpoints.length; i++) {
      const endpoint = this.endpoints[(this.preferred + i) % this.endpoints.length]!;
      const controller = new AbortController();
      let res: IncomingMessage;
      try {
        res = await this.post(endpoint, "/v3/watch", body, controller.signal, this.timeoutMs);
      } catch (err) {
        reasons.push(`${endpoint}: ${describe(err)}`);
        continue;
      }
      if (res.statusCode !== 200) {
        reasons.push(`${endpoint}: HTTP ${res.statusCode} ${(await readText(res).catch(() => "")).slice(0, 200)}`);
        continue;
      }
      let cancelled = false;
      let ended = false;
      const end = (err: Error) => {
        if (ended || cancelled) return;
        ended = true;
        controller.abort();
        onEnd(err);
      };
      let pending = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        pending += chunk;
        for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (line === "" || cancelled || ended) continue;
          try {
            const message = JSON.parse(line) as { result?: RawWatch; error?: { message?: string } };
            if (message.error) return end(new Error(`watch: ${message.error.message ?? "error"}`));
            if (message.result) onResponse(watchResponse(message.result));
          } catch (err) {
            return end(err as Error);
          }
        }
      });
      res.on("end", () => end(new Error("the watch stream ended")));
      res.on("error", (err: Error) => end(err));
      res.on("close", () => end(new Error("the watch stream closed")));
      return {
        cancel: () => {
          cancelled = true;
          controller.abort();
        },
      };
    }
    throw new EtcdUnavailableError(this.endpoints, reasons);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  /** One keep-alive agent per endpoint (TLS options on it for https). */
  private agent(endpoint: string): HttpAgent {
    let agent = this.agents.get(endpoint);
    if (!agent) {
      const tls = this.options.tls;
      agent = endpoint.startsWith("https:")
        ? new (require("node:https") as typeof import("node:https")).Agent({ keepAlive: true, maxSockets: 8, ...(tls?.ca ? { ca: tls.ca } : {}), ...(tls?.cert ? { cert: tls.cert } : {}), ...(tls?.key ? { key: tls.key } : {}) })
        : new (require("node:http") as typeof import("node:http")).Agent({ keepAlive: true, maxSockets: 8 });
      this.agents.set(endpoint, agent);
    }
    return agent;
  }

  /** POSTs `body`; resolves with the response once its head arrived (within `timeoutMs`). */
  private async post(endpoint: string, path: string, body: string, signal: AbortSignal, timeoutMs: number, auth = true): Promise<IncomingMessage> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (auth && this.options.username !== undefined) {
      this.token ??= await this.authenticate(endpoint, signal);
      headers.authorization = this.token;
    }
    const url = new URL(path, endpoint);
    const lib = (url.protocol === "https:" ? require("node:https") : require("node:http")) as typeof import("node:http");
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { method: "POST", agent: this.agent(endpoint), headers: { ...headers, "content-length": Buffer.byteLength(body) }, signal });
      const timer = setTimeout(() => req.destroy(Object.assign(new Error("no answer in time"), { code: "ETIMEDOUT_HEAD" })), timeoutMs);
      req.once("response", (res) => {
        clearTimeout(timer);
        resolve(res);
      });
      req.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(body);
    });
  }

  private async authenticate(endpoint: string, signal: AbortSignal): Promise<string> {
    const username = this.options.username;
    const res = await this.post(endpoint, "/v3/auth/authenticate", JSON.stringify({ name: username, password: this.options.password ?? "" }), signal, this.timeoutMs, false);
    const text = await readText(res);
    const json = parseJson(text) as { token?: string; message?: string; error?: string };
    if (res.statusCode !== 200 || !json.token) throw new EtcdRequestError(`etcd refused user '${username}': ${json.message ?? json.error ?? res.statusCode}`);
    return json.token;
  }

  private async call(path: string, payload: unknown, options: CallOptions): Promise<unknown> {
    if (this.closed) throw new EtcdUnavailableError(this.endpoints, ["the client is closed"]);
    const deadline = Date.now() + this.timeoutMs;
    const body = JSON.stringify(payload);
    const reasons: string[] = [];
    let reauthenticated = false;
    for (let i = 0; i < this.endpoints.length && Date.now() < deadline; i++) {
      const index = (this.preferred + i) % this.endpoints.length;
      const endpoint = this.endpoints[index]!;
      const left = Math.max(1, deadline - Date.now());
      const signal = AbortSignal.timeout(left);
      try {
        const res = await this.post(endpoint, path, body, signal, left);
        const text = await readText(res);
        if (res.statusCode === 200) {
          this.preferred = index;
          return JSON.parse(text);
        }
        const error = parseError(text);
        if (/invalid auth token|auth token is not provided/i.test(error.message) && !reauthenticated) {
          // Tokens expire (etcd's simple tokens after 5 minutes idle): one new token, same endpoint.
          this.token = undefined;
          reauthenticated = true;
          i--;
          continue;
        }
        // gRPC codes 14 (unavailable: no leader, stopping) and 4 (deadline: no quorum) are about
        // this endpoint or the cluster; anything else (permission, bad request) is final.
        if (error.code !== 14 && error.code !== 4 && (res.statusCode ?? 0) < 500) throw new EtcdRequestError(`etcd at ${endpoint}: ${error.message}`);
        reasons.push(`${endpoint}: ${error.message}`);
        if (!options.resendable) break;
      } catch (err) {
        if (err instanceof EtcdRequestError) throw err;
        reasons.push(`${endpoint}: ${describe(err)}`);
        if (!options.resendable && !NOT_SENT.has((err as { code?: string }).code ?? "")) break;
      }
    }
    throw new EtcdUnavailableError(this.endpoints, reasons);
  }
}

function readText(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    res.setEncoding("utf8");
    res.on("data", (d: string) => (text += d));
    res.once("end", () => resolve(text));
    res.once("error", reject);
    res.once("aborted", () => reject(Object.assign(new Error("the answer was cut"), { code: "ECONNRESET" })));
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

interface RawWatch {
  header?: { revision?: string };
  events?: { type?: string; kv?: Record<string, string> }[];
  compact_revision?: string;
  canceled?: boolean;
  created?: boolean;
}

function watchResponse(raw: RawWatch): WatchResponse {
  return {
    revision: Number(raw.header?.revision ?? 0),
    events: (raw.events ?? []).map((e) => ({ type: e.type === "DELETE" ? "delete" : "put", kv: keyValue(e.kv ?? {}) })),
    ...(raw.compact_revision && raw.compact_revision !== "0" ? { compactRevision: Number(raw.compact_revision) } : {}),
    ...(raw.canceled ? { canceled: true } : {}),
    ...(raw.created ? { created: true } : {}),
  };
}

function parseError(text: string): { code: number; message: string } {
  try {
    const json = JSON.parse(text) as { code?: number; message?: string; error?: string };
    return { code: json.code ?? 0, message: json.message ?? json.error ?? text.slice(0, 200) };
  } catch {
    return { code: 0, message: text.slice(0, 200) };
  }
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; name?: string };
  if (e?.name === "TimeoutError" || e?.name === "AbortError" || e?.code === "ETIMEDOUT_HEAD") return "no answer in time";
  return e?.code ? `${e.code}` : (e?.message ?? String(err));
}
