// Over 400 lines: the connection's read path (fast path, llhttp, pipelining, timeouts) is one state machine.
import type { Socket } from "node:net";
import { classifyClientError, rejectSocket } from "../errors";
import type { HttpLimits } from "../limits";
import { adoptReads } from "../../adopt-reads";
import { ReadBuffers, httpReadBuffers, type OnRead } from "../../read-buffers";
import { monotonicMs } from "../../../clock";
import { ClientRequest } from "./client-request";
import { parseFastRequest } from "./request-head";
import { HEAD_END, METHODS, REQUEST, createParser, freeParser, type HttpParser, type ParseError, type ParserCallbacks } from "./parser";
import { methodName } from "./method-names";
import { ErrorCodes } from "../error-codes";
import { checkRequestLine, checkVersion, requestLineAt, type LineVerdict } from "./request-line";

/**
 * The client side of an HTTP/1.1 listener, on the raw socket (the front door's rules: docs/traffic.md,
 * "The front door"):
 *
 * - llhttp in strict mode parses requests (see parser.ts); a refused request gets 400 (431 for a
 *   head over `maxHeaderSize`) with a one-line body, the connection is closed, nothing is forwarded.
 * - Pipelined requests are served one at a time, in order. While a request waits for its turn, or
 *   the server it goes to cannot take its body faster, the socket is paused: at most one read
 *   (64 KiB) is ever buffered per connection.
 * - Timeouts, checked by the owner's sweep (`checkTimeouts`): the head must be complete within
 *   `clientHeadersTimeoutMs` of the connection (or of the first byte of a later request); a request
 *   body must not stall for `clientRequestTimeoutMs` (408 and close), counting only the time the
 *   socket is being read (see `checkTimeouts`); an idle keep-alive connection closes after
 *   `clientKeepAliveTimeoutMs`.
 * - `Expect: 100-continue` is answered `100 Continue` at once (the proxy streams the body); any
 *   other expectation gets 417.
 * - A response that ends before its request's body was read closes the connection afterwards (the
 *   rest of that body is never parsed as a request).
 */

export interface DownstreamHandler {
  request(req: ClientRequest): void;
  /**
   * An upgrade request: `head` is what the client sent after it; `pipeTo` sends the client's later
   * bytes (and its end) to the tunnel's server socket.
   */
  upgrade(req: ClientRequest, socket: Socket, head: Buffer, pipeTo: (upstream: Socket) => void): void;
  /**
   * A request refused before it reached the proxy (status), or a connection-level failure (status
   * undefined). `conn` is given when the refusal is a request of its own (for its access line);
   * not when a request already being served times out (that request's own line tells it).
   */
  clientError(code: string, status: number | undefined, conn?: ClientConnection): void;
}

export interface ConnectionOwner {
  readonly limits: HttpLimits;
  /** Whether the listener is closing: responses then carry `Connection: close`. */
  closing(): boolean;
  handler(): DownstreamHandler;
  /** Called once the socket closed. */
  closed(conn: ClientConnection): void;
}

const CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n";
/** Reads up to this size (bytes) are searched for request heads as one latin1 string. */
const SMALL_READ = 4096;

/** One client connection: parses requests, serves them in order, enforces the client timeouts. */
export class ClientConnection {
  /** Positions in the listener's and the proxy's connection lists (SlotList). */
  listenerSlot = -1;
  proxySlot = -1;
  /** The socket's byte counts when the last request was accounted (access log `bytesIn`/`bytesOut`). */
  countedIn = 0;
  countedOut = 0;
  readonly socket: Socket;
  private readonly owner: ConnectionOwner;
  /** Held only while a request is being parsed (see `createParser`): idle connections hold none. */
  private parser: HttpParser | undefined;
  private readonly callbacks: ParserCallbacks;
  /** Parsing stopped for good (upgrade, error, close); the owner's sweep was left. */
  private stopped = false;
  /** Requests parsed and not yet answered; the first is being served. */
  private readonly queue: ClientRequest[] = [];
  /** The request whose body the parser is reading. */
  private parsing: ClientRequest | undefined;
  private partHeaders: string[] = [];
  private partUrl = "";
  /** Requests the socket is paused for (a plain array: at most a few, and no Set churn). */
  private readonly pausedFor: ClientRequest[] = [];
  /** When the head being parsed started (ms, monotonicMs()); -1 while no head is in progress. */
  private headSince: number;
  /** When the request being parsed started; -1 once its body is complete. */
  private requestSince = -1;
  /** Body bytes arrived since the last sweep: the request timeout restarts (see `checkTimeouts`). */
  private bodyProgress = false;
  /** When the connection went idle between requests; -1 while busy. */
  private idleSince = -1;
  private upgrading: ClientRequest | undefined;
  private dead = false;
  /** Reads come through `onRead` (adopt-reads.ts), not 'data' events. */
  private readonly adopted: boolean;
  /** After an upgrade (adopted socket): the tunnel's reads (ReadBuffers.relay). */
  private tunnelReads: OnRead | undefined;
  private executing = false;
  /**
   * The request line is judged before llhttp parses it (request-line.ts): `linePending` while the
   * line of the message being read is still to be judged, `linePart` its text from earlier reads.
   */
  private linePending = false;
  private linePart = "";
  /** Whether llhttp is inside a message (from its first byte to its completion). */
  private inMessage = false;
  /** The buffer llhttp is executing, and messages begun in it so far. */
  private execBuf: Buffer | undefined;
  private begunInExec = 0;
  /** Where the message being parsed starts in `execBuf` (-1: in an earlier read). */
  private msgStart = -1;
  /**
   * Where the next message starts: an offset in `execBuf` while executing, or (between reads) how
   * many bytes into a later read. -1 when unknown (after a chunked body): a message pipelined
   * behind such a request in the same read gets llhttp's grammar and the version check only.
   */
  private nextStart = -1;

  constructor(socket: Socket, owner: ConnectionOwner) {
    this.socket = socket;
    this.owner = owner;
    this.headSince = monotonicMs();
    socket.setNoDelay(true);
    this.callbacks = {
      onMessageBegin: this.onMessageBegin,
      onHeaders: this.onHeaders,
      onHeadersComplete: this.onHeadersComplete,
      onBody: this.onBody,
      onMessageComplete: this.onMessageComplete,
    };
    // Reads into the shared read buffer when Node allows it (adopt-reads.ts), else 'data' events.
    this.adopted = adoptReads(socket, { buffer: this.readBuffer, callback: this.onRead });
    if (this.adopted) socket.resume();
    else socket.on("data", this.onData);
    socket.on("error", this.onError);
    socket.on("end", this.onEnd);
    socket.once("close", this.onClose);
  }

  /** Idle between requests (no request parsed or in service). */
  get idle(): boolean {
    return this.queue.length === 0 && this.headSince < 0 && this.requestSince < 0;
  }

  closingSoon(): boolean {
    return this.owner.closing();
  }

  /** Closes the connection if nothing is in progress (listener closing); busy ones close after their response. */
  closeIfIdle(): void {
    if (this.queue.length === 0 && this.requestSince < 0) this.socket.destroy();
  }

  /** Applies the client timeouts; `now` is monotonicMs(). */
  checkTimeouts(now: number): void {
    if (this.dead) return;
    const l = this.owner.limits;
    if (this.headSince >= 0 && now - this.headSince >= l.clientHeadersTimeoutMs) return this.timeout();
    // The request timeout bounds a stall, not an upload: it restarts whenever body bytes came in
    // since the last sweep, and while the socket is paused (the server is not taking the body yet,
    // or an earlier pipelined request is being served) the client is not the one stalling.
    if (this.requestSince >= 0 && (this.bodyProgress || this.pausedFor.length > 0)) this.requestSince = now;
    this.bodyProgress = false;
    if (this.requestSince >= 0 && l.clientRequestTimeoutMs > 0 && now - this.requestSince >= l.clientRequestTimeoutMs) return this.timeout();
    if (this.idleSince >= 0 && this.queue.length === 0 && now - this.idleSince >= l.clientKeepAliveTimeoutMs) this.socket.destroy();
  }

  /** Answers 408 unless a response has started, then closes. */
  private timeout(): void {
    const cur = this.queue[0];
    this.owner.handler().clientError(ErrorCodes.clientTimeout, 408, this.queue.length === 0 ? this : undefined);
    if (cur?.headersSent) return void this.socket.destroy();
    this.failWith(408, "request timeout: the request was not received in time");
  }

  pauseFor(req: ClientRequest): void {
    if (this.pausedFor.includes(req)) return;
    this.pausedFor.push(req);
    if (this.pausedFor.length === 1) this.socket.pause();
  }

  resumeFor(req: ClientRequest): void {
    const i = this.pausedFor.indexOf(req);
    if (i < 0) return;
    this.pausedFor.splice(i, 1);
    if (this.pausedFor.length === 0 && !this.dead) this.socket.resume();
  }

  /** The current request's response is complete: next request, or close. */
  responded(req: ClientRequest): void {
    if (this.queue[0] !== req) return;
    this.queue.shift();
    this.resumeFor(req);
    if (!req.keepAlive || !req.complete || this.owner.closing()) {
      // Not keep-alive, or the rest of its body would have to be read first: close after the write.
      this.dead = true;
      this.socket.end();
      return;
    }
    const next = this.queue[0];
    if (next) {
      // The client has not taken the last response yet: the next one waits until it has, so a
      // client that pipelines requests and stops reading costs one response in memory, not all.
      if (this.socket.writableNeedDrain) return void this.socket.once("drain", () => this.serveNext(next));
      return void this.owner.handler().request(next);
    }
    if (this.requestSince < 0 && this.headSince < 0) this.idleSince = monotonicMs();
  }

  private serveNext(next: ClientRequest): void {
    if (!this.dead && this.queue[0] === next) this.owner.handler().request(next);
  }

  private readonly readBuffer = (): Buffer => (this.tunnelReads ? this.tunnelReads.buffer() : ReadBuffers.shared);

  /** An adopted socket's read: the request parser's bytes, or the tunnel's after an upgrade. */
  private readonly onRead = (n: number, buf: Uint8Array): boolean => {
    if (this.tunnelReads) return this.tunnelReads.callback(n, buf);
    this.onData((buf as Buffer).subarray(0, n));
    return true;
  };

  /** After an upgrade: the client's bytes go to `upstream` with backpressure, and its end too. */
  private readonly pipeTo = (upstream: Socket): void => {
    if (!this.adopted) return void this.socket.pipe(upstream);
    const relay = httpReadBuffers.relay(upstream);
    relay.attach(this.socket);
    this.tunnelReads = relay.onread;
    this.socket.once("end", () => upstream.end());
    this.socket.once("close", () => relay.release());
    this.socket.resume();
  };

  private readonly onData = (data: Buffer): void => {
    if (this.stopped || this.dead) return;
    this.idleSince = -1;
    const s = this.socket;
    s.cork();
    // At a message boundary (no parser held) simple requests are parsed in JavaScript first.
    const rest = this.parser === undefined ? this.parseFast(data) : data;
    const after = rest === undefined || this.dead || this.stopped ? undefined : this.parseStrict(rest);
    // More than one request waiting: stop reading until they are answered.
    if (!this.dead && !this.stopped && this.queue.length > 1) this.pauseFor(this.queue[this.queue.length - 1]!);
    s.uncork();
    after?.();
  };

  /**
   * Takes the complete bodiless HTTP/1.1 requests at the start of `data` (request-head.ts); returns
   * the bytes left for llhttp, or undefined when none are.
   */
  private parseFast(data: Buffer): Buffer | undefined {
    const max = this.owner.limits.maxHeaderSize >> 1;
    // A small read (the usual: one request head) becomes one string, searched in JavaScript; that
    // is cheaper than a Buffer search and a string per head. A larger read may be mostly body.
    const text = data.length <= SMALL_READ ? data.toString("latin1") : undefined;
    let pos = 0;
    while (pos < data.length) {
      const end = text !== undefined ? text.indexOf("\r\n\r\n", pos) : data.indexOf(HEAD_END, pos);
      if (end === -1 || end - pos > max) break;
      const fast = parseFastRequest(text !== undefined ? text.slice(pos, end) : data.toString("latin1", pos, end), max, this.owner.limits.maxHeaderLines);
      if (!fast) break;
      pos = end + 4;
      // The head is complete (as in onHeadersComplete): its timeout, counted from the connection's
      // start or the previous response, no longer applies.
      this.headSince = -1;
      this.enqueue(new ClientRequest(this, 1, fast.method, fast.url, fast, fast.keepAlive));
      if (this.dead || this.stopped) return undefined;
    }
    if (pos === 0) return data;
    return pos < data.length ? data.subarray(pos) : undefined;
  }

  /** Runs llhttp over `data`; returns what must run once the socket is uncorked (error, upgrade). */
  private parseStrict(data: Buffer): (() => void) | undefined {
    const parser = (this.parser ??= createParser(REQUEST, this.owner.limits.maxHeaderSize, this.callbacks));
    if (this.headSince < 0 && this.requestSince < 0) this.headSince = monotonicMs();
    // A message starting with this read, or a request line begun in an earlier one: judged first.
    this.msgStart = -1;
    if (!this.inMessage) {
      this.linePending = true;
      this.linePart = "";
    }
    if (this.linePending) {
      const verdict = this.judgeLine(data, 0);
      if (verdict) return () => this.refuseLine(verdict);
    }
    this.execBuf = data;
    this.begunInExec = 0;
    this.executing = true;
    const ret = parser.execute(data);
    this.executing = false;
    this.execBuf = undefined;
    this.nextStart = this.nextStart >= data.length ? this.nextStart - data.length : -1;
    if (typeof ret !== "number") return () => this.parseError(ret);
    const up = this.upgrading;
    if (up) {
      this.upgrading = undefined;
      this.detach();
      // What followed the head is kept past this read: a copy.
      const head = ret < data.length ? Buffer.from(data.subarray(ret)) : Buffer.alloc(0);
      return () => this.owner.handler().upgrade(up, this.socket, head, this.pipeTo);
    }
    // At a message boundary the parser holds nothing: give it back until it is needed again.
    if (this.headSince < 0 && this.requestSince < 0 && this.parser === parser) {
      this.parser = undefined;
      freeParser(parser);
    }
    return undefined;
  }

  /** A parsed request joins the queue; the first in it is being served. */
  private enqueue(req: ClientRequest): void {
    this.queue.push(req);
    if (this.queue.length === 1) this.owner.handler().request(req);
  }

  private readonly onMessageBegin = (): void => {
    const now = monotonicMs();
    if (this.headSince < 0) this.headSince = now;
    this.requestSince = this.headSince;
    this.idleSince = -1;
    this.inMessage = true;
    const buf = this.execBuf;
    if (!buf || this.begunInExec++ === 0) return;
    // A message pipelined behind one that ended in this read: its line is judged where it starts.
    this.msgStart = -1;
    this.linePart = "";
    this.linePending = this.nextStart >= 0;
    if (!this.linePending) return;
    const verdict = this.judgeLine(buf, this.nextStart);
    if (verdict) this.refuseLine(verdict);
  };

  /**
   * Judges the pending request line with what `buf` holds from `offset` (and `linePart`). Returns
   * a verdict when it is refused; keeps the text when the line goes on in a later read.
   */
  private judgeLine(buf: Buffer, offset: number): LineVerdict {
    const max = this.owner.limits.maxHeaderSize;
    let line: string;
    if (this.linePart) {
      const lf = buf.indexOf(0x0a, offset);
      if (lf === -1) return void this.keepLine(buf, offset, max);
      line = this.linePart + buf.toString("latin1", offset, lf);
      this.linePart = "";
      if (line.endsWith("\r")) line = line.slice(0, -1);
      // What was kept was an empty line before the request line.
      if (line === "") return this.judgeLine(buf, lf + 1);
    } else {
      const at = requestLineAt(buf, offset, max);
      if (at.line === undefined) return void this.keepLine(buf, at.lineStart, max);
      line = at.line;
      if (buf === this.execBuf || this.execBuf === undefined) this.msgStart = at.lineStart;
    }
    this.linePending = false;
    return checkRequestLine(line);
  }

  /** Keeps the start of a request line that goes on in the next read (a longer one is llhttp's: 414/431). */
  private keepLine(buf: Buffer, from: number, max: number): void {
    this.linePart += buf.toString("latin1", from);
    if (this.linePart.length > max) {
      this.linePending = false;
      this.linePart = "";
    }
  }

  private refuseLine(verdict: NonNullable<LineVerdict>): void {
    this.refuse(verdict.status === 505 ? ErrorCodes.httpVersion : ErrorCodes.badRequestLine, verdict.status, verdict.message);
  }

  /** Refuses the request being parsed before it reaches the proxy: reported (metrics, access line), answered, closed. */
  private refuse(code: string, status: number, message: string): void {
    this.owner.handler().clientError(code, status, this);
    this.failWith(status, message);
  }

  private readonly onHeaders = (headers: string[], url: string): void => {
    for (const h of headers) this.partHeaders.push(h);
    this.partUrl += url;
  };

  private readonly onHeadersComplete = (
    major: number,
    minor: number,
    headers: string[] | undefined,
    method: number | undefined,
    url: string | undefined,
    _status: number | undefined,
    _reason: string | undefined,
    upgrade: boolean,
    keepAlive: boolean,
  ): number => {
    this.headSince = -1;
    if (this.dead) return 0;
    // A request whose line was not judged here (see `nextStart`) still gets its version checked.
    const version = checkVersion(major, minor);
    if (version) {
      this.refuseLine(version);
      return 0;
    }
    let raw = headers;
    if (this.partHeaders.length > 0) {
      raw = headers ? this.partHeaders.concat(headers) : this.partHeaders;
      this.partHeaders = [];
    }
    if ((raw?.length ?? 0) > 2 * this.owner.limits.maxHeaderLines) {
      this.refuse(ErrorCodes.tooManyHeaders, 431, `request header fields too large: more than ${this.owner.limits.maxHeaderLines} header lines`);
      return 0;
    }
    let target = url;
    if (this.partUrl) {
      target = this.partUrl + (url ?? "");
      this.partUrl = "";
    }
    const name = methodName(METHODS, method);
    if (name === undefined) {
      // llhttp parsed a method no table names: refused, never forwarded as another method.
      this.refuse(ErrorCodes.unknownMethod, 501, "method not implemented");
      return 0;
    }
    const req = new ClientRequest(this, minor, name, target ?? "", raw ?? [], keepAlive);
    // Where the message after this one starts, for its request line: after this head and its
    // Content-Length body (unknown after a chunked one).
    const buf = this.execBuf;
    const headEnd = buf && this.msgStart >= 0 ? buf.indexOf(HEAD_END, this.msgStart) : -1;
    this.nextStart = headEnd === -1 || req.chunked ? -1 : headEnd + 4 + Math.max(0, req.contentLength);
    if (upgrade) {
      if (req.method === "CONNECT") {
        this.refuse(ErrorCodes.connect, 405, "method not allowed: CONNECT is not supported");
        return 0;
      }
      this.upgrading = req;
      return 0;
    }
    const expect = req.header("expect");
    if (expect !== undefined) {
      if (expect.toLowerCase() !== "100-continue") {
        this.refuse(ErrorCodes.expectation, 417, "expectation failed: only 100-continue is supported");
        return 0;
      }
      if (minor >= 1 && this.queue.length === 0) this.socket.write(CONTINUE, "latin1");
    }
    this.parsing = req;
    this.enqueue(req);
    return 0;
  };

  private readonly onBody = (chunk: Buffer): void => {
    this.bodyProgress = true;
    this.parsing?.pushBody(chunk);
  };

  private readonly onMessageComplete = (): void => {
    this.inMessage = false;
    const req = this.parsing;
    this.parsing = undefined;
    this.requestSince = -1;
    if (req) req.endBody();
    if (this.queue.length === 0 && this.headSince < 0) this.idleSince = monotonicMs();
  };

  private parseError(err: ParseError): void {
    const verdict = classifyClientError(err);
    this.owner.handler().clientError(err.code ?? "unknown", verdict?.status, this);
    if (!verdict) return void this.socket.destroy();
    const cur = this.queue[0];
    if (cur?.headersSent) return void this.socket.destroy();
    this.failWith(verdict.status, verdict.message);
  }

  /** Ends the connection with a raw error response; requests in flight are abandoned. */
  private failWith(status: number, message: string): void {
    this.dead = true;
    for (const r of this.queue) r.gone();
    this.queue.length = 0;
    this.detach();
    rejectSocket(this.socket, status, message);
  }

  /** Stops parsing (upgrade handed the socket over, or the connection is ending). */
  private detach(): void {
    this.socket.off("data", this.onData);
    // An adopted socket keeps reading until paused: its bytes wait in the kernel for `pipeTo`.
    if (this.adopted) this.socket.pause();
    this.socket.off("end", this.onEnd);
    this.headSince = -1;
    this.requestSince = -1;
    this.idleSince = -1;
    this.releaseParser();
  }

  /** Stops parsing for good: gives the parser back (after its `execute`) and leaves the owner's sweep. */
  private releaseParser(): void {
    if (!this.stopped) {
      this.stopped = true;
      this.owner.closed(this);
    }
    const p = this.parser;
    if (!p) return;
    this.parser = undefined;
    if (!this.executing) freeParser(p);
    else queueMicrotask(() => freeParser(p));
  }

  private readonly onError = (): void => {
    this.owner.handler().clientError("ECONNRESET", undefined, this);
    this.socket.destroy();
  };

  /**
   * The client closed its side. Like nginx (499) and node:http (unless `httpAllowHalfOpen`), a
   * request in progress counts as abandoned: it is aborted upstream and the connection closes.
   */
  private readonly onEnd = (): void => {
    if (this.queue.length === 0 && !(this.headSince >= 0 && this.requestSince >= 0)) return void this.socket.end();
    this.socket.destroy();
  };

  private readonly onClose = (): void => {
    this.dead = true;
    for (const r of this.queue) r.gone();
    this.queue.length = 0;
    if (this.parsing && !this.parsing.complete) this.parsing.gone();
    this.parsing = undefined;
    this.socket.off("data", this.onData);
    this.releaseParser();
  };
}
