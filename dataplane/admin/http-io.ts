import type { ClientRequest } from "../engine/http/h1/client-request";
import { STATUS_TEXT } from "../engine/http/errors";
import { keep } from "../engine/read-buffers";
import { AdminError } from "../errors";

/** Request bodies above this many bytes are refused with 413 without being read further. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** What a route answers: JSON (`json`), Prometheus text (`text`), or nothing (204). */
export interface Reply {
  status: number;
  json?: unknown;
  text?: { contentType: string; body: string };
  headers?: Record<string, string>;
}

export function errorReply(err: AdminError): Reply {
  return { status: err.status, json: err.toBody(), ...(err.headers ? { headers: { ...err.headers } } : {}) };
}

/**
 * One admin request, read from the data plane's own HTTP/1.1 connection (engine/h1): the same
 * strict parser, limits and timeouts as the traffic listeners, without loading `node:http` (0.8 MiB
 * of an idle data plane's RSS, docs/benchmarks.md change 30).
 */
export class AdminRequest {
  private readonly goneHandlers: (() => void)[] = [];

  constructor(readonly downstream: ClientRequest) {
    downstream.onClientGone(() => {
      for (const fn of this.goneHandlers.splice(0)) fn();
    });
  }

  get method(): string {
    return this.downstream.method;
  }

  /** The request target as sent (path and query). */
  get url(): string {
    return this.downstream.url;
  }

  /** Whether the whole request, body included, has been read. */
  get complete(): boolean {
    return this.downstream.complete;
  }

  /** Whether the client went away before the reply. */
  get gone(): boolean {
    return this.downstream.finished;
  }

  /** The first value of a header, by lower-case name. */
  header(lowerName: string): string | undefined {
    return this.downstream.header(lowerName);
  }

  /** Runs `fn` once if the client goes away before the reply is complete. */
  onGone(fn: () => void): void {
    this.goneHandlers.push(fn);
  }
}

/**
 * Reads the body up to `limit` bytes. A declared Content-Length over the limit is refused before
 * reading anything; a chunked body is refused as soon as it passes the limit, and nothing more is
 * read (the reply then closes the connection).
 */
export function readBody(req: AdminRequest, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const tooLarge = () => new AdminError("payload_too_large", `the request body exceeds ${limit} bytes`);
  const down = req.downstream;
  if (down.contentLength > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      down.detachBody();
      reject(err);
    };
    req.onGone(() => fail(new Error("the client closed the connection before sending the whole body")));
    down.readBody(
      (chunk) => {
        size += chunk.length;
        if (size > limit) fail(tooLarge());
        else chunks.push(keep(chunk));
      },
      () => {
        if (settled) return;
        settled = true;
        resolve(Buffer.concat(chunks));
      },
    );
  });
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Reads and parses a JSON body: 400 `invalid_json` when empty, not UTF-8 or not JSON. */
export async function readJson(req: AdminRequest): Promise<unknown> {
  const bytes = await readBody(req);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new AdminError("invalid_json", "the request body is not valid UTF-8");
  }
  if (text.trim() === "") throw new AdminError("invalid_json", "the request body is empty; send a JSON object");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AdminError("invalid_json", `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Writes a reply. When the request body was not received to its end (a refusal before or while
 * reading it), the reply says `Connection: close` and the connection closes once it is written,
 * instead of reading and discarding the rest of the body to reuse the connection.
 */
export function sendReply(req: AdminRequest, reply: Reply): void {
  const down = req.downstream;
  const headers: string[] = ["date", new Date().toUTCString()];
  for (const [name, value] of Object.entries(reply.headers ?? {})) headers.push(name, value);
  let body: Buffer | undefined;
  if (reply.json !== undefined) {
    body = Buffer.from(JSON.stringify(reply.json));
    headers.push("content-type", "application/json");
  } else if (reply.text) {
    body = Buffer.from(reply.text.body);
    headers.push("content-type", reply.text.contentType);
  }
  const bodiless = reply.status === 204 || reply.status === 304;
  if (!bodiless) headers.push("content-length", String(body?.length ?? 0));
  if (!down.complete) down.keepAlive = false;
  down.writeHead(reply.status, STATUS_TEXT[reply.status] ?? "Unknown", headers, bodiless ? -1 : (body?.length ?? 0));
  if (body && !bodiless) down.write(body);
  down.end();
}
