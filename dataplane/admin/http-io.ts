import type { IncomingMessage, ServerResponse } from "node:http";
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
 * One admin request and its response (`node:http`, admin-transport.ts). Routes see only this: the
 * method, the target, headers by name, whether the client went away, and the body through
 * `readBody`.
 */
export class AdminRequest {
  private readonly goneHandlers: (() => void)[] = [];
  private wentAway = false;

  constructor(
    readonly incoming: IncomingMessage,
    readonly response: ServerResponse,
  ) {
    const socket = incoming.socket;
    const onSocketClose = () => this.markGone();
    // A response still queued behind a pipelined one gets no `close` of its own: watch the socket too.
    socket.once("close", onSocketClose);
    response.once("close", () => {
      socket.off("close", onSocketClose);
      if (!response.writableFinished) this.markGone();
      this.goneHandlers.length = 0;
    });
  }

  get method(): string {
    return this.incoming.method ?? "";
  }

  /** The request target as sent (path and query). */
  get url(): string {
    return this.incoming.url ?? "/";
  }

  /** Whether the whole request, body included, has been read. */
  get complete(): boolean {
    return this.incoming.complete;
  }

  /** Whether the client went away before the reply. */
  get gone(): boolean {
    return this.wentAway;
  }

  /** The first value of a header, by lower-case name. */
  header(lowerName: string): string | undefined {
    const value = this.incoming.headers[lowerName];
    return Array.isArray(value) ? value[0] : value;
  }

  /** Runs `fn` once if the client goes away before the reply is complete. */
  onGone(fn: () => void): void {
    if (this.wentAway) queueMicrotask(fn);
    else this.goneHandlers.push(fn);
  }

  private markGone(): void {
    if (this.wentAway) return;
    this.wentAway = true;
    for (const fn of this.goneHandlers.splice(0)) fn();
  }
}

/**
 * Reads the body up to `limit` bytes. A declared Content-Length over the limit is refused before
 * reading anything; a chunked body is refused as soon as it passes the limit, and nothing more is
 * kept (the reply then closes the connection).
 */
export function readBody(req: AdminRequest, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const tooLarge = () => new AdminError("payload_too_large", `the request body exceeds ${limit} bytes`);
  const body = req.incoming;
  if (Number(body.headers["content-length"] ?? 0) > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      body.off("data", onData);
      body.off("end", onEnd);
      body.off("error", fail);
    };
    const fail = (err: Error) => {
      cleanup();
      body.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) fail(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    req.onGone(() => fail(new Error("the client closed the connection before sending the whole body")));
    body.on("data", onData);
    body.on("end", onEnd);
    body.on("error", fail);
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
  const headers: Record<string, string | number> = { ...reply.headers };
  let body: Buffer | undefined;
  if (reply.json !== undefined) {
    body = Buffer.from(JSON.stringify(reply.json));
    headers["content-type"] = "application/json";
  } else if (reply.text) {
    body = Buffer.from(reply.text.body);
    headers["content-type"] = reply.text.contentType;
  }
  const bodiless = reply.status === 204 || reply.status === 304;
  if (!bodiless) headers["content-length"] = body?.length ?? 0;
  if (!req.complete) headers["connection"] = "close";
  req.response.writeHead(reply.status, headers);
  req.response.end(bodiless ? undefined : body);
}
