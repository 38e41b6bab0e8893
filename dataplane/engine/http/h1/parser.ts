/**
 * Node's own HTTP/1 parser (llhttp, in C++), used directly instead of through node:http.
 *
 * node:http wraps every request in an IncomingMessage and a ServerResponse (two streams, header
 * objects, a writable queue) and undici parses responses with llhttp compiled to wasm; together
 * that was three quarters of a worker's CPU per proxied request (docs/benchmarks.md). The parser
 * node:http uses is reachable as `_http_common.HTTPParser`: the same strict llhttp (no lenient
 * flags: Content-Length with Transfer-Encoding, repeated Content-Length, bare LF, obs-fold and
 * control characters are refused), the same header size limit, with none of the objects around it.
 * It is a private module, reached only through node-internals.ts.
 */
import { httpEngine, type LlhttpBinding, type LlhttpError, type LlhttpParser } from "../../../node-internals";
import { wasmLlhttpBinding } from "./wasm-parser";

export interface ParserCallbacks {
  /** Headers of a head larger than one read arrive in parts before `onHeadersComplete`. */
  onHeaders?(headers: string[], url: string): void;
  /**
   * The head is complete. `headers` and `url` are empty when they arrived through `onHeaders`.
   * Return 1 to tell a response parser that this message has no body (HEAD, 1xx).
   */
  onHeadersComplete(
    versionMajor: number,
    versionMinor: number,
    headers: string[] | undefined,
    method: number | undefined,
    url: string | undefined,
    statusCode: number | undefined,
    statusMessage: string | undefined,
    upgrade: boolean,
    shouldKeepAlive: boolean,
  ): number | void;
  onBody(chunk: Buffer): void;
  onMessageComplete(): void;
  onMessageBegin?(): void;
}

export type HttpParser = LlhttpParser;
export type ParseError = LlhttpError;

// Node's binding when it is there and has the expected shape, else the same llhttp compiled to
// WebAssembly (node-internals.ts decides; wasm-parser.ts adapts it to the same interface).
const common: LlhttpBinding = httpEngine().binding ?? wasmLlhttpBinding();
const { HTTPParser } = common;

/** Method names by llhttp's method number, as the binding has them (method-names.ts: the rest). */
export const METHODS: readonly string[] = common.methods;
export const REQUEST = HTTPParser.REQUEST;
export const RESPONSE = HTTPParser.RESPONSE;

/**
 * Parsers not in use, for reuse. A parser holds kilobytes of native memory, so one per open
 * connection made idle keep-alive clients expensive (docs/benchmarks.md, change 14). A client
 * connection therefore holds one only while a request is being parsed (`ClientConnection`), and
 * the few in use at once are recycled through this list (re-initialising one is cheap).
 */
const FREE: HttpParser[] = [];
const FREE_MAX = 256;
let inUse = 0;

/** A strict parser of `type` (REQUEST or RESPONSE) calling `cb`: a recycled one when there is one. */
export function createParser(type: number, maxHeaderSize: number, cb: ParserCallbacks): HttpParser {
  const p = FREE.pop() ?? new HTTPParser();
  inUse++;
  p.initialize(type, {}, maxHeaderSize, HTTPParser.kLenientNone ?? 0);
  p[HTTPParser.kOnHeaders] = cb.onHeaders ?? noop;
  p[HTTPParser.kOnHeadersComplete] = cb.onHeadersComplete;
  p[HTTPParser.kOnBody] = cb.onBody;
  p[HTTPParser.kOnMessageComplete] = cb.onMessageComplete;
  p[HTTPParser.kOnMessageBegin] = cb.onMessageBegin ?? noop;
  p[HTTPParser.kOnExecute] = noop;
  return p;
}

function noop(): void {}

/**
 * Gives a parser back (never during its own `execute`). It goes to the free list, or is closed
 * (its native memory released at once) when the list is full. Its callbacks are cleared so that
 * it keeps nothing of its last owner alive.
 */
export function freeParser(p: HttpParser): void {
  inUse--;
  p[HTTPParser.kOnHeaders] = noop;
  p[HTTPParser.kOnHeadersComplete] = noop;
  p[HTTPParser.kOnBody] = noop;
  p[HTTPParser.kOnMessageComplete] = noop;
  p[HTTPParser.kOnMessageBegin] = noop;
  if (FREE.length < FREE_MAX) {
    FREE.push(p);
    return;
  }
  try {
    p.close();
  } catch {
    // already closed
  }
}

/** Parsers held by connections, and parsers waiting for reuse (this process; for tests). */
export function parserStats(): { inUse: number; free: number } {
  return { inUse, free: FREE.length };
}

/** The empty line that ends a message head. */
export const HEAD_END = Buffer.from("\r\n\r\n");

/** A header field name (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The header lines of `head` from `pos` (the first byte after the start line) as a flat
 * `[name, value, …]` list, values as sent (not trimmed): the JavaScript head parsers
 * (request-head.ts, response-head.ts) apply their own rules to the values, in place. Undefined when a
 * line has no colon, an empty name or a name that is not a token (obs-fold included).
 */
export function splitFields(head: string, pos: number): string[] | undefined {
  const raw: string[] = [];
  while (pos < head.length) {
    let next = head.indexOf("\r\n", pos);
    if (next === -1) next = head.length;
    const colon = head.indexOf(":", pos);
    if (colon <= pos || colon > next) return undefined;
    const name = head.slice(pos, colon);
    if (!TOKEN.test(name)) return undefined;
    raw.push(name, head.slice(colon + 1, next));
    pos = next + 2;
  }
  return raw;
}

/** Lower-case header name lookup over a flat `[name, value, …]` list (first match). */
export function headerValue(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length === lowerName.length && n.toLowerCase() === lowerName) return raw[i + 1];
  }
  return undefined;
}
