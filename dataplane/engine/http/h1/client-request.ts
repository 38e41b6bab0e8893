import type { Socket } from "node:net";
import { STATUS_TEXT } from "../errors";
import { keep } from "../../read-buffers";
import { fieldsOf, type FastRequest } from "./request-head";
import { headerValue } from "./parser";
import type { ClientConnection } from "./client-connection";

/** How a response body is framed toward the client. */
const enum Framing {
  None,
  Length,
  Chunked,
  Close,
}

const CRLF = "\r\n";
/** Largest body (bytes) whose head is deferred to go out in the same buffer as its first chunk. */
const MERGE_LIMIT = 8 * 1024;
const LAST_CHUNK = "0\r\n\r\n";

/**
 * One request from a client and the response to it. The proxy reads the request's head and body
 * from it and writes the response through it; only the connection's current request writes.
 * Its `ClientConnection` parses it, queues it behind earlier pipelined requests and decides whether
 * the connection stays open after the response.
 */
export class ClientRequest {
  readonly method: string;
  readonly url: string;
  readonly versionMinor: number;
  /** The head as read, when the fast path parsed it (request-head.ts): no body, HTTP/1.1. */
  readonly fast: FastRequest | undefined;
  readonly chunked: boolean;
  /** Declared Content-Length, -1 when absent. */
  readonly contentLength: number;
  keepAlive: boolean;
  /** Whether the whole request (head and body) has been parsed. */
  complete = false;
  /** Whether the response head has been written. */
  headersSent = false;
  /** Whether the response is complete (or the connection was destroyed). */
  finished = false;
  /** Body chunks parsed before a consumer attached (bounded: the socket is paused meanwhile). */
  private pending: Buffer[] = [];
  private bodySink: ((chunk: Buffer) => void) | undefined;
  private bodyEnd: (() => void) | undefined;
  private framing = Framing.None;
  private onGone: (() => void) | undefined;
  private raw: string[] | undefined;

  constructor(
    readonly conn: ClientConnection,
    versionMinor: number,
    method: string,
    url: string,
    head: string[] | FastRequest,
    keepAlive: boolean,
  ) {
    this.versionMinor = versionMinor;
    this.method = method;
    this.url = url;
    this.keepAlive = keepAlive;
    let chunked = false;
    let cl = -1;
    if (Array.isArray(head)) {
      this.raw = head;
      this.fast = undefined;
      for (let i = 0; i < head.length; i += 2) {
        const n = head[i]!;
        if (n.length === 17 && n.toLowerCase() === "transfer-encoding") chunked = true;
        else if (n.length === 14 && n.toLowerCase() === "content-length") cl = Number(head[i + 1]);
      }
    } else {
      // The fast path takes only bodiless requests.
      this.fast = head;
    }
    this.chunked = chunked;
    this.contentLength = cl;
    // Without Content-Length or Transfer-Encoding a request has no body (RFC 9112 §6.3).
    this.complete = !this.hasBody;
  }

  get socket(): Socket {
    return this.conn.socket;
  }

  /** Whether the request has a body to stream (Content-Length > 0 or Transfer-Encoding). */
  get hasBody(): boolean {
    return this.chunked || this.contentLength > 0;
  }

  /** Flat `[name, value, …]` in the client's order and case (built on first use for a fast-path head). */
  get rawHeaders(): string[] {
    return (this.raw ??= fieldsOf(this.fast!));
  }

  header(lowerName: string): string | undefined {
    return headerValue(this.rawHeaders, lowerName);
  }

  /** Whether any body byte has been handed to a consumer. */
  bodyStarted = false;

  /**
   * Streams the body to `sink` (buffered chunks first), then `end`. The client is paused whenever
   * `sink`'s target is full: call `pauseBody`/`resumeBody`. Replaces any earlier consumer.
   */
  readBody(sink: (chunk: Buffer) => void, end: () => void): void {
    this.bodySink = sink;
    this.bodyEnd = end;
    const pending = this.pending;
    this.pending = [];
    for (const c of pending) {
      this.bodyStarted = true;
      sink(c);
    }
    if (this.complete) end();
    else this.conn.resumeFor(this);
  }

  /** Stops passing body chunks (a failed attempt); later chunks are buffered again. */
  detachBody(): void {
    this.bodySink = undefined;
    this.bodyEnd = undefined;
  }

  pauseBody(): void {
    this.conn.pauseFor(this);
  }

  resumeBody(): void {
    this.conn.resumeFor(this);
  }

  /** Called by the connection's parser. */
  pushBody(chunk: Buffer): void {
    if (this.finished) return;
    if (this.bodySink) {
      this.bodyStarted = true;
      this.bodySink(chunk);
    } else {
      this.pending.push(keep(chunk));
      this.conn.pauseFor(this);
    }
  }

  endBody(): void {
    this.complete = true;
    const end = this.bodyEnd;
    this.bodyEnd = undefined;
    if (end) end();
  }

  /** Runs `fn` once if the client goes away before the response is complete. */
  onClientGone(fn: (() => void) | undefined): void {
    this.onGone = fn;
  }

  /** @internal the connection closed (or was destroyed) under this request. */
  gone(): void {
    if (this.finished) return;
    this.finished = true;
    const fn = this.onGone;
    this.onGone = undefined;
    if (fn) fn();
  }

  /**
   * Writes the status line and headers. `headers` are flat pairs already filtered (no hop-by-hop);
   * `length` is the body's length when known (a Content-Length is among `headers`), -1 otherwise.
   */
  writeHead(status: number, reason: string, headers: readonly string[], length: number): void {
    if (this.finished) return;
    let head = `HTTP/1.1 ${status} ${reason}\r\n`;
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    this.writeHeadText(status, head, length);
  }

  /**
   * Writes a head given as text: the status line and header lines, each ending in CRLF, already
   * filtered (no hop-by-hop header); the framing and Connection lines are added here.
   */
  writeHeadText(status: number, head: string, length: number): void {
    if (this.finished) return;
    if (this.conn.socket.destroyed) return this.gone();
    if (this.method === "HEAD" || status === 204 || status === 304 || status < 200) this.framing = Framing.None;
    else if (length >= 0) this.framing = Framing.Length;
    else if (this.versionMinor >= 1) {
      this.framing = Framing.Chunked;
      head += "Transfer-Encoding: chunked\r\n";
    } else {
      this.framing = Framing.Close;
      this.keepAlive = false;
    }
    if (!this.keepAlive || this.conn.closingSoon()) {
      this.keepAlive = false;
      head += "Connection: close\r\n";
    } else if (this.versionMinor === 0) head += "Connection: keep-alive\r\n";
    this.headersSent = true;
    head += CRLF;
    // A small Content-Length body goes out with its head in one buffer (see `write`).
    if (this.framing === Framing.Length && length > 0 && length <= MERGE_LIMIT) this.headOut = head;
    else this.conn.socket.write(head, "latin1");
  }

  /** A response head not written yet: it goes out with the first body chunk. */
  private headOut: string | undefined;

  /**
   * Writes a deferred head with the first body chunk in one `write` instead of a `writev` of a
   * string and a buffer, which cost a third more per response (docs/benchmarks.md).
   */
  private flushHead(chunk: Buffer | undefined): boolean {
    const head = this.headOut!;
    this.headOut = undefined;
    const s = this.conn.socket;
    if (!chunk || chunk.length > MERGE_LIMIT) {
      s.write(head, "latin1");
      return chunk ? s.write(keep(chunk)) : true;
    }
    // One latin1 string: written straight from V8's copy (no Buffer to allocate and fill).
    return s.write(head + chunk.toString("latin1"), "latin1");
  }

  /**
   * Writes a body chunk; false when the client's buffer is full (wait for `onDrain`). A chunk in
   * the shared read buffer (an upstream read, see ReadBuffers) is copied, since the socket may keep
   * it past the read.
   */
  write(chunk: Buffer): boolean {
    if (this.finished || chunk.length === 0) return true;
    const s = this.conn.socket;
    // Destroyed, its 'close' not emitted yet: the client is gone now, not at 'close'. A write would
    // only return false and wait for a 'drain' that never comes.
    if (s.destroyed) {
      this.gone();
      return true;
    }
    switch (this.framing) {
      case Framing.None:
        return true;
      case Framing.Length:
        return this.headOut === undefined ? s.write(keep(chunk)) : this.flushHead(chunk);
      case Framing.Chunked:
        s.write(chunk.length.toString(16) + CRLF, "latin1");
        s.write(keep(chunk));
        return s.write(CRLF, "latin1");
      default:
        return s.write(keep(chunk));
    }
  }

  onDrain(fn: () => void): void {
    this.conn.socket.once("drain", fn);
  }

  offDrain(fn: () => void): void {
    this.conn.socket.off("drain", fn);
  }

  /** Completes the response; the connection goes on with the next request (or closes). */
  end(): void {
    if (this.finished) return;
    if (this.headOut !== undefined) this.flushHead(undefined);
    if (this.framing === Framing.Chunked) this.conn.socket.write(LAST_CHUNK, "latin1");
    this.finished = true;
    this.onGone = undefined;
    this.conn.responded(this);
  }

  /** Answers `status` with a one-line body, unless the response has started (then cuts the client). */
  sendError(status: number, message: string, close = false): void {
    if (this.finished) return;
    if (this.headersSent) return this.destroy();
    if (close) this.keepAlive = false;
    const body = `${message}\n`;
    const headers = ["Content-Type", "text/plain; charset=utf-8", "Content-Length", String(Buffer.byteLength(body)), "Cache-Control", "no-store"];
    const bytes = Buffer.from(body);
    this.writeHead(status, STATUS_TEXT[status] ?? "Error", headers, bytes.length);
    this.write(bytes);
    this.end();
  }

  /** Cuts the client connection (a truncated response). */
  destroy(): void {
    this.finished = true;
    this.onGone = undefined;
    this.conn.socket.destroy();
  }
}
