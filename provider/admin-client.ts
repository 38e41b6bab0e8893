import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request } from "undici";
import { kinds, type FieldIssue, type Kind } from "../model";
import { backoffDelay, defaultBackoff, type BackoffPolicy } from "./backoff";
import { ProviderError, type DataPlaneAnswer, type ProviderErrorCode } from "./errors";

/** How to reach one balancer's admin API. */
export interface BalancerConnection {
  /** Base URL of the admin API, e.g. `http://127.0.0.1:9180`. */
  adminUrl: string;
  /** Bearer token (the balancer's `BALLAST_ADMIN_TOKEN`). Never put in messages or logs. */
  adminToken: string;
  /**
   * Every replica's admin URL, for replicas on the etcd store (docs/replicas.md). A call goes to the
   * first that answers (`adminUrl` first); reads then ask for the revision this provider process last
   * wrote (`Ballast-Min-Revision`), so whichever replica answers shows that write. Default: `adminUrl`
   * alone.
   */
  adminUrls?: string[];
}

export interface AdminClientOptions extends BalancerConnection {
  /** TCP connect timeout per attempt, ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Time one request may take, headers and body, ms. Default 30000. */
  requestTimeoutMs?: number;
  /** Retry timing while the balancer is not answering yet. Default `defaultBackoff` (30 s budget). */
  backoff?: BackoffPolicy;
}

/** An object as the data plane stores and returns it: its spec (defaults filled) plus `version`. */
export type StoredObject = Record<string, unknown> & { name: string; version: number };

type Method = "GET" | "POST" | "PUT" | "DELETE";
type Operation = "create" | "read" | "update" | "delete";

/**
 * Connection failures where the request never reached a data plane that could act on it: nothing
 * listening yet, a connect that timed out, or a socket closed before any answer (Docker's port
 * proxy accepts and then drops connections while the container's process is still starting).
 */
const RETRYABLE_SOCKET_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_SOCKET"]);
/** Answers of a proxy or a data plane that is not ready yet. 4xx are never retried. */
const RETRYABLE_STATUSES = new Set([502, 503]);

/**
 * The highest `Ballast-Revision` a write answered, per set of replicas, in this provider process:
 * what its reads then wait for on whichever replica answers. Only with several `adminUrls`.
 */
const writtenRevisions = new Map<string, number>();

/**
 * A client for the data plane admin API (`/v1/<kind>`), one per provider call. It retries with
 * exponential backoff while the balancer is not answering yet and turns every refusal into a
 * `ProviderError` naming the balancer, the resource and the data plane's answer.
 */
export class AdminClient {
  readonly adminUrl: string;
  /** `adminUrl`, then the other replicas' URLs, in the order they are tried. */
  readonly adminUrls: string[];
  readonly #token: string;
  readonly #requestTimeoutMs: number;
  readonly #backoff: BackoffPolicy;
  readonly #agent: Agent;

  constructor(options: AdminClientOptions) {
    this.adminUrl = options.adminUrl.replace(/\/+$/, "");
    this.adminUrls = [...new Set([this.adminUrl, ...(options.adminUrls ?? []).map((u) => u.replace(/\/+$/, ""))])];
    this.#token = options.adminToken;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#backoff = options.backoff ?? defaultBackoff;
    this.#agent = new Agent({
      connect: { timeout: options.connectTimeoutMs ?? 5_000 },
      headersTimeout: this.#requestTimeoutMs,
      bodyTimeout: this.#requestTimeoutMs,
    });
  }

  /** `POST /v1/<kind>`: creates the object; 409 already_exists becomes `BALLAST_PROVIDER_ALREADY_EXISTS`. */
  async create(kind: Kind, body: Record<string, unknown> & { name: string }): Promise<StoredObject> {
    const res = await this.#send("create", kind, body.name, "POST", `/v1/${kind}`, body);
    if (res.status === 201 || res.status === 200) return storedObject(res.json, this, kind, body.name, "create");
    throw this.#refusal("create", kind, body.name, res);
  }

  /** `GET /v1/<kind>/<name>`: the live object, or undefined when it does not exist. */
  async get(kind: Kind, name: string): Promise<StoredObject | undefined> {
    const res = await this.#send("read", kind, name, "GET", objectPath(kind, name));
    if (res.status === 200) return storedObject(res.json, this, kind, name, "read");
    if (res.status === 404) return undefined;
    throw this.#refusal("read", kind, name, res);
  }

  /** `PUT /v1/<kind>/<name>`, with `If-Match` when `version` is given (412 = stale). */
  async put(kind: Kind, name: string, body: Record<string, unknown>, version?: number): Promise<StoredObject> {
    const headers: Record<string, string> = version === undefined ? {} : { "if-match": String(version) };
    const res = await this.#send("update", kind, name, "PUT", objectPath(kind, name), body, headers);
    if (res.status === 200) return storedObject(res.json, this, kind, name, "update");
    throw this.#refusal("update", kind, name, res);
  }

  /** `DELETE /v1/<kind>/<name>`: "deleted", or "absent" when it was already gone (404). */
  async delete(kind: Kind, name: string): Promise<"deleted" | "absent"> {
    const res = await this.#send("delete", kind, name, "DELETE", objectPath(kind, name));
    if (res.status === 204 || res.status === 200) return "deleted";
    if (res.status === 404) return "absent";
    throw this.#refusal("delete", kind, name, res);
  }

  /** Closes the pooled connections. */
  async close(): Promise<void> {
    await this.#agent.close();
  }

  /** The error for an answer the caller did not expect, with the data plane's code, message and issues. */
  #refusal(operation: Operation, kind: Kind, name: string, res: Answer): ProviderError {
    return new ProviderError(codeForAnswer(res.answer), {
      operation,
      balancer: this.adminUrl,
      resource: { kind: kinds[kind].title, name },
      answer: res.answer,
      ...(res.answer.status === 401 || res.answer.status === 403
        ? { hint: "Check that adminToken is the balancer's BALLAST_ADMIN_TOKEN." }
        : {}),
    });
  }

  async #send(
    operation: Operation,
    kind: Kind,
    name: string,
    method: Method,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<Answer> {
    const started = Date.now();
    const context = { operation, balancer: this.adminUrl, resource: { kind: kinds[kind].title, name } };
    // Replicas: each attempt goes to the next URL; the backoff waits only once all were tried.
    const replicas = this.adminUrls.length > 1 ? [...this.adminUrls].sort().join(" ") : undefined;
    const minRevision = replicas !== undefined && method === "GET" ? writtenRevisions.get(replicas) : undefined;
    if (minRevision !== undefined) extraHeaders = { ...extraHeaders, "ballast-min-revision": String(minRevision) };
    for (let attempt = 0, round = 0; ; attempt++) {
      let failure: ProviderError;
      const url = this.adminUrls[attempt % this.adminUrls.length];
      try {
        const res = await request(`${url}${path}`, {
          method,
          dispatcher: this.#agent,
          signal: AbortSignal.timeout(this.#requestTimeoutMs),
          headers: {
            authorization: `Bearer ${this.#token}`,
            accept: "application/json",
            ...(body === undefined ? {} : { "content-type": "application/json" }),
            ...extraHeaders,
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await res.body.text();
        const answer = readAnswer(res.statusCode, text);
        const revision = Number(res.headers["ballast-revision"]);
        if (replicas !== undefined && method !== "GET" && res.statusCode < 300 && Number.isSafeInteger(revision)) {
          writtenRevisions.set(replicas, Math.max(writtenRevisions.get(replicas) ?? 0, revision));
        }
        if (!RETRYABLE_STATUSES.has(res.statusCode)) return { status: res.statusCode, json: parseJson(text), answer };
        failure = new ProviderError("BALLAST_PROVIDER_UNAVAILABLE", { ...context, answer });
      } catch (err) {
        const code = errorCode(err);
        if (isTimeout(err, code)) {
          throw new ProviderError("BALLAST_PROVIDER_TIMEOUT", {
            ...context,
            detail: `the admin API did not answer within ${this.#requestTimeoutMs} ms`,
            cause: err,
          });
        }
        failure = new ProviderError("BALLAST_PROVIDER_UNREACHABLE", {
          ...context,
          detail: `the admin API cannot be reached (${code ?? (err as Error).message})`,
          hint: "Check that the balancer is running and that adminUrl points at its admin port.",
          cause: err,
        });
        if (code === undefined || !RETRYABLE_SOCKET_ERRORS.has(code)) throw failure;
      }
      if ((attempt + 1) % this.adminUrls.length !== 0) continue;
      const delay = backoffDelay(this.#backoff, round++, Date.now() - started);
      if (delay === undefined) throw failure;
      await sleep(delay);
    }
  }
}

interface Answer {
  status: number;
  json: unknown;
  answer: DataPlaneAnswer;
}

function objectPath(kind: Kind, name: string): string {
  return `/v1/${kind}/${encodeURIComponent(name)}`;
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Reads the data plane's `{ error: { code, message, issues } }` body; tolerates any other body. */
export function readAnswer(status: number, text: string): DataPlaneAnswer {
  const json = parseJson(text) as { error?: { code?: unknown; message?: unknown; issues?: unknown } } | undefined;
  const error = json && typeof json === "object" ? json.error : undefined;
  const answer: DataPlaneAnswer = { status };
  if (error && typeof error === "object") {
    if (typeof error.code === "string") answer.code = error.code;
    if (typeof error.message === "string") answer.message = error.message;
    if (Array.isArray(error.issues)) {
      answer.issues = error.issues
        .filter((i): i is Record<string, unknown> => typeof i === "object" && i !== null)
        .map((i): FieldIssue => ({ path: String(i.path ?? ""), message: String(i.message ?? "") }));
    }
  } else if (status >= 400 && text !== "") {
    answer.message = text.slice(0, 200);
  }
  return answer;
}

/** Maps a refusal to the provider's catalogue: by HTTP status, and by the data plane's code for 409. */
export function codeForAnswer(answer: DataPlaneAnswer): ProviderErrorCode {
  switch (answer.status) {
    case 400:
      return "BALLAST_PROVIDER_INVALID";
    case 401:
    case 403:
      return "BALLAST_PROVIDER_UNAUTHORIZED";
    case 404:
      return "BALLAST_PROVIDER_NOT_FOUND";
    case 409:
      if (answer.code === "already_exists") return "BALLAST_PROVIDER_ALREADY_EXISTS";
      if (answer.code === "immutable") return "BALLAST_PROVIDER_IMMUTABLE";
      if (answer.code === "in_use") return "BALLAST_PROVIDER_IN_USE";
      return "BALLAST_PROVIDER_CONFLICT";
    case 412:
      return "BALLAST_PROVIDER_STALE";
    default:
      return "BALLAST_PROVIDER_UNEXPECTED";
  }
}

function storedObject(json: unknown, client: AdminClient, kind: Kind, name: string, operation: Operation): StoredObject {
  const obj = json as Partial<StoredObject> | undefined;
  if (obj && typeof obj === "object" && typeof obj.name === "string" && typeof obj.version === "number") {
    return obj as StoredObject;
  }
  throw new ProviderError("BALLAST_PROVIDER_UNEXPECTED", {
    operation,
    balancer: client.adminUrl,
    resource: { kind: kinds[kind].title, name },
    detail: "the answer is not a stored object with a name and a version",
  });
}

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

function isTimeout(err: unknown, code: string | undefined): boolean {
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") return true;
  const name = (err as { name?: unknown } | undefined)?.name;
  return name === "TimeoutError";
}
