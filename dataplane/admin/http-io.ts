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
 * Reads the body up to `limit` bytes. A declared Content-Length over the limit is refused before
 * reading anything; a chunked body is refused as soon as it passes the limit, and nothing more is
 * kept.
 */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const tooLarge = () => new AdminError("payload_too_large", `the request body exceeds ${limit} bytes`);
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onFail);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(tooLarge());
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onFail = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => onFail(new Error("the client closed the connection before sending the whole body"));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onFail);
    req.on("close", onClose);
  });
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Reads and parses a JSON body: 400 `invalid_json` when empty, not UTF-8 or not JSON. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
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
 * reading it), the reply says `Connection: close` and Node closes the socket once the reply is
 * flushed, instead of reading and discarding the rest of the body to reuse the connection.
 */
export function sendReply(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string | number> = { ...reply.headers };
  let body: string | undefined;
  if (reply.json !== undefined) {
    body = JSON.stringify(reply.json);
    headers["content-type"] = "application/json";
  } else if (reply.text) {
    body = reply.text.body;
    headers["content-type"] = reply.text.contentType;
  }
  if (body !== undefined) headers["content-length"] = Buffer.byteLength(body);
  if (!req.complete) headers["connection"] = "close";
  res.writeHead(reply.status, headers);
  res.end(body);
}
