import net from "node:net";
import { responseHeaders } from "../http/headers";
import { STATUS_TEXT } from "../http/errors";
import type { HttpLimits } from "../http/limits";
import type { Downstream } from "./downstream";
import { HEAD_END, RESPONSE, createParser, freeParser, type HttpParser, type ParseError } from "./parser";
import { SlotList } from "../slot-list";
import { parseFastHead, passHead } from "./response-head";
import { ReadBuffers, httpReadBuffers, keep } from "../read-buffers";
import { monotonicMs } from "../../clock";

/**
 * The server side: keep-alive connections to one server (`UpstreamPool`), and one attempt of one
 * request on one of them (`Exchange`). Requests and responses stream with backpressure both ways;
 * no body is ever buffered beyond one socket read.
 *
 * Timeouts (checked by `UpstreamPool.sweep`/`Exchange.sweep`, called by the proxy's sweep):
 * connect (`upstreamConnectTimeoutMs`), response head after the request head was sent
 * (`upstreamHeadersTimeoutMs`), silence between response body chunks (`upstreamBodyTimeoutMs`),
 * idle keep-alive connections (`upstreamKeepAliveTimeoutMs`).
 */

export type ExchangeOutcome =
  | { kind: "done"; status: number }
  /** Failed before the request head was written to a connection: nothing reached the server. */
  | { kind: "not-sent"; error: Error }
  /** Failed after the request was (being) sent but before the response started. */
  | { kind: "no-response"; error: Error }
  /** Failed while streaming the response: the client got a truncated response. */
  | { kind: "broken"; error: Error; status: number }
  /** The client went away first. */
  | { kind: "client-gone"; status: number };

const MAX_RESPONSE_HEAD = 64 * 1024;

/** Where a connection is in the response it is reading. */
const enum Read {
  /** At a message boundary (or within a head): the fast path looks at it first. */
  Head,
  /** Forwarding a Content-Length body of `remaining` bytes as raw slices. */
  Body,
  /** llhttp has the current message, until it completes. */
  Strict,
}
const CRLF = "\r\n";
const LAST_CHUNK = "0\r\n\r\n";
/**
 * Methods safe to send again after a connection was lost without a response: on a fresh connection
 * to the same server (a reused keep-alive connection the server had closed) or to another server.
 */
export const IDEMPOTENT: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

function coded(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** One attempt of one request against one server. */
export class Exchange {
  /** Positions in the pool's and the service's in-flight lists (SlotList). */
  poolSlot = -1;
  inflightSlot = -1;
  private conn: UpstreamConnection | undefined;
  private pool: UpstreamPool | undefined;
  private headWritten = false;
  private bodyDone = false;
  private status = 0;
  private keepAlive = false;
  private informational = false;
  private settled = false;
  private staleRetried = false;
  /** monotonicMs() deadline for the response head, -1 when not waiting for it. */
  private headDeadline = -1;
  private lastBodyAt = -1;
  /** The upstream socket this exchange waits on to take more request body ('drain'). */
  private bodyWaitOn: net.Socket | undefined;
  /**
   * The upstream connection this exchange paused because its client's socket buffer was full; it is
   * resumed when the client drains, or before the connection is handed on (see `onComplete`).
   */
  private pausedConn: UpstreamConnection | undefined;
  /** monotonicMs() when the request head went to a connection, and when the final response head came (-1: not yet), for the access log. */
  sentAt = -1;
  headAt = -1;

  constructor(
    readonly req: Downstream,
    /** Request line and headers, without the final empty line. */
    private readonly head: string,
    /** Extra response headers (Set-Cookie of cookie insertion), flat name/value pairs. */
    private readonly extraHeaders: readonly string[],
    private readonly limits: HttpLimits,
    private readonly onSettled: (outcome: ExchangeOutcome) => void,
  ) {
    req.onClientGone(this.onClientGone);
  }

  /** Whether the request head has been written to an upstream connection. */
  get requestStarted(): boolean {
    return this.headWritten;
  }

  get responseStarted(): boolean {
    return this.status !== 0;
  }

  start(pool: UpstreamPool): void {
    this.pool = pool;
    pool.dispatch(this);
  }

  /** Aborts the attempt (drain deadline, shutdown). */
  abort(reason: Error): void {
    if (this.settled) return;
    this.fail(reason);
  }

  /** @internal the pool could not give a connection (connect failed/timed out, pool closed). */
  connectFailed(err: Error): void {
    if (this.settled) return;
    this.settle({ kind: "not-sent", error: err });
  }

  /** @internal a connection is ours: write the head, stream the body. */
  attach(conn: UpstreamConnection): void {
    this.conn = conn;
    const s = conn.socket;
    const req = this.req;
    s.cork();
    s.write(this.head + CRLF, "latin1");
    this.headWritten = true;
    this.sentAt = monotonicMs();
    this.headDeadline = this.sentAt + this.limits.upstreamHeadersTimeoutMs;
    if (!req.hasBody) this.bodyDone = true;
    else req.readBody((chunk) => this.onRequestBody(chunk), () => this.onRequestEnd());
    s.uncork();
  }

  private onRequestBody(chunk: Buffer): void {
    const s = this.conn?.socket;
    if (!s || chunk.length === 0) return;
    let ok: boolean;
    // llhttp hands body chunks over as copies; `keep` is the guard should one ever lie in the
    // shared read buffer (an adopted client socket's read).
    if (this.req.chunked) {
      s.write(chunk.length.toString(16) + CRLF, "latin1");
      s.write(keep(chunk));
      ok = s.write(CRLF, "latin1");
    } else ok = s.write(keep(chunk));
    if (!ok && !this.bodyWaitOn) {
      this.bodyWaitOn = s;
      this.req.pauseBody();
      s.once("drain", this.onUpstreamDrain);
    }
  }

  private readonly onUpstreamDrain = (): void => {
    this.bodyWaitOn = undefined;
    this.req.resumeBody();
  };

  private onRequestEnd(): void {
    if (this.req.chunked) this.conn?.socket.write(LAST_CHUNK, "latin1");
    this.bodyDone = true;
  }

  /** @internal response head parsed; returns 1 when the response has no body to parse. */
  onHead(status: number, reason: string | undefined, raw: string[], keepAlive: boolean): number {
    if (status < 200) {
      if (status === 101) {
        this.fail(coded("the server switched protocols unasked", "BALLAST_INVALID_RESPONSE"));
        return 1;
      }
      // 100 Continue, 103 Early Hints: not forwarded; the final response follows.
      this.informational = true;
      return 1;
    }
    let length = -1;
    let chunked = false;
    let codings = "";
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i]!;
      if (n.length === 14 && n.toLowerCase() === "content-length") length = Number(raw[i + 1]);
      else if (n.length === 17 && n.toLowerCase() === "transfer-encoding") {
        chunked = true;
        codings = raw[i + 1]!;
      }
    }
    // A Transfer-Encoding whose last coding is not chunked would make the body run to the close
    // of the connection (RFC 9112 §6.3): a framing this balancer does not pass on (502).
    if (chunked && codings.slice(codings.lastIndexOf(",") + 1).trim().toLowerCase() !== "chunked") {
      this.fail(coded(`invalid response: Transfer-Encoding '${codings}' does not end in chunked`, "BALLAST_INVALID_RESPONSE"));
      return 1;
    }
    this.responding(status, keepAlive);
    if (chunked) length = -1;
    const headers = responseHeaders(raw);
    for (const h of this.extraHeaders) headers.push(h);
    this.req.writeHead(status, reason || STATUS_TEXT[status] || "Unknown", headers, length);
    return this.req.method === "HEAD" ? 1 : 0;
  }

  /**
   * @internal a final response head passed through as text (`passHead`): its status line and
   * header lines, hop-by-hop ones removed, each ending in CRLF; it has a Content-Length body.
   */
  onPassHead(status: number, text: string, length: number, keepAlive: boolean): void {
    this.responding(status, keepAlive);
    const extra = this.extraHeaders;
    for (let i = 0; i < extra.length; i += 2) text += `${extra[i]}: ${extra[i + 1]}\r\n`;
    this.req.writeHeadText(status, text, length);
  }

  /** The final response's head has come: the head timeout ends and the body's starts. */
  private responding(status: number, keepAlive: boolean): void {
    this.headDeadline = -1;
    this.lastBodyAt = this.headAt = monotonicMs();
    this.keepAlive = keepAlive;
    this.status = status;
  }

  /** @internal a response body chunk. */
  onBody(chunk: Buffer): void {
    this.lastBodyAt = monotonicMs();
    if (!this.req.write(chunk) && !this.pausedConn && !this.settled) {
      const conn = this.conn;
      if (!conn) return;
      this.pausedConn = conn;
      conn.socket.pause();
      this.req.onDrain(this.onClientDrain);
    }
  }

  /** The client took what was written: the server's socket reads again. */
  private readonly onClientDrain = (): void => {
    const conn = this.pausedConn;
    this.pausedConn = undefined;
    if (!conn) return;
    this.lastBodyAt = monotonicMs();
    conn.socket.resume();
  };

  /** @internal the response is complete. */
  onComplete(): void {
    if (this.informational) {
      this.informational = false;
      return;
    }
    if (this.settled) return;
    const conn = this.conn;
    this.conn = undefined;
    // The whole response has been read. If the client's buffer was full, the server's socket is
    // still paused for it; the client may never drain (it is gone, or stopped reading), so the
    // connection reads again now, or the next request on it would wait for a head it cannot read.
    const paused = this.pausedConn;
    this.req.end();
    this.settle({ kind: "done", status: this.status });
    if (conn) {
      if (paused === conn) conn.socket.resume();
      if (this.keepAlive && this.bodyDone) conn.release();
      else conn.destroy();
    }
  }

  /** @internal the response could not be parsed. */
  onParseError(err: ParseError): void {
    this.fail(coded(`invalid response: ${err.reason ?? err.code}`, "BALLAST_INVALID_RESPONSE"));
  }

  /** @internal the connection failed or closed under this exchange. */
  onConnectionLost(err: Error, reused: boolean, received: number): void {
    if (this.settled) return;
    const conn = this.conn;
    this.conn = undefined;
    // A kept-alive connection the server had closed meanwhile: the request never reached it.
    if (reused && received === 0 && !this.staleRetried && this.status === 0 && !this.req.bodyStarted && IDEMPOTENT.has(this.req.method) && this.pool) {
      this.staleRetried = true;
      this.headWritten = false;
      this.headDeadline = -1;
      conn?.forget();
      this.pool.dispatch(this);
      return;
    }
    this.fail(err);
  }

  /** Timeouts; `now` is monotonicMs(). */
  sweep(now: number): void {
    if (this.settled) return;
    if (this.headDeadline >= 0 && now >= this.headDeadline) {
      this.fail(coded(`no response head within ${this.limits.upstreamHeadersTimeoutMs} ms`, "UND_ERR_HEADERS_TIMEOUT"));
    } else if (this.status !== 0 && this.lastBodyAt >= 0 && now - this.lastBodyAt >= this.limits.upstreamBodyTimeoutMs) {
      this.fail(coded(`no response data for ${this.limits.upstreamBodyTimeoutMs} ms`, "UND_ERR_BODY_TIMEOUT"));
    }
  }

  private fail(err: Error): void {
    if (this.settled) return;
    const conn = this.conn;
    this.conn = undefined;
    if (conn) conn.destroy();
    else this.pool?.unqueue(this);
    this.req.detachBody();
    if (this.status !== 0) {
      // Too late for an error status: cut the client so it sees a truncated response.
      this.req.destroy();
      return this.settle({ kind: "broken", error: err, status: this.status });
    }
    this.settle(this.headWritten ? { kind: "no-response", error: err } : { kind: "not-sent", error: err });
  }

  private readonly onClientGone = (): void => {
    if (this.settled) return;
    const conn = this.conn;
    this.conn = undefined;
    if (conn) conn.destroy();
    else this.pool?.unqueue(this);
    this.settle({ kind: "client-gone", status: this.status });
  };

  private settle(outcome: ExchangeOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.pool?.finished(this);
    this.req.onClientGone(undefined);
    // Flow control ends with the exchange: a late 'drain' of this client must not resume a
    // connection that serves another request by then, nor this request's body be resumed by
    // the server socket's.
    if (this.pausedConn) {
      this.pausedConn = undefined;
      this.req.offDrain(this.onClientDrain);
    }
    if (this.bodyWaitOn) {
      this.bodyWaitOn.off("drain", this.onUpstreamDrain);
      this.bodyWaitOn = undefined;
    }
    this.onSettled(outcome);
  }
}

/** One keep-alive connection to a server. */
export class UpstreamConnection {
  /** Position in the pool's connection list (SlotList). */
  poolSlot = -1;
  readonly socket: net.Socket;
  private parser: HttpParser | undefined;
  private ex: Exchange | undefined;
  /** The exchange this connection was opened for (until it is connected). */
  private opener: Exchange | undefined;
  connected = false;
  private uses = 0;
  private received = 0;
  private read = Read.Head;
  /** Bytes of an incomplete head (fast path), until its end arrives. */
  private headBuf: Buffer | undefined;
  private remaining = 0;
  idleSince = -1;
  readonly connectDeadline: number;
  private dead = false;
  /** Where the next read goes (see ReadBuffers). */
  private nextRead: Buffer = ReadBuffers.shared;

  constructor(
    private readonly pool: UpstreamPool,
    host: string,
    port: number,
    connectTimeoutMs: number,
    opener: Exchange,
  ) {
    this.opener = opener;
    this.connectDeadline = monotonicMs() + connectTimeoutMs;
    this.socket = net.connect({ host, port, noDelay: true, onread: { buffer: () => this.nextRead, callback: this.onRead } });
    this.socket.on("connect", this.onConnect);
    // Bytes arrive through `onRead`, never as 'data'; resume() lets the socket emit 'end'.
    this.socket.resume();
    this.socket.on("end", this.onEnd);
    this.socket.on("error", this.onError);
    this.socket.once("close", this.onClose);
  }

  assign(ex: Exchange): void {
    this.ex = ex;
    this.uses++;
    this.received = 0;
    this.read = Read.Head;
    this.headBuf = undefined;
    this.idleSince = -1;
    ex.attach(this);
  }

  /**
   * Back to the pool after a complete exchange. Only a connection in a known state is handed on:
   * at a message boundary (no response bytes of the last exchange pending) and reading. Anything
   * else is closed, never reused.
   */
  release(): void {
    this.ex = undefined;
    if (!this.reusable) return this.destroy();
    this.pool.release(this);
  }

  /** At a message boundary, with nothing buffered, and reading: the next exchange can have it. */
  get reusable(): boolean {
    return this.alive && this.connected && this.read === Read.Head && this.headBuf === undefined && this.remaining === 0 && !this.socket.isPaused();
  }

  /** Whether an exchange holds this connection now. */
  get busy(): boolean {
    return this.ex !== undefined;
  }

  /** Detaches the current exchange without telling it anything (it is being retried elsewhere). */
  forget(): void {
    this.ex = undefined;
  }

  destroy(err?: Error): void {
    this.ex = undefined;
    this.opener = undefined;
    this.socket.destroy(err);
  }

  /** Connect timeout; `now` is monotonicMs(). */
  sweep(now: number): void {
    if (!this.connected && now >= this.connectDeadline) {
      this.failConnect(coded("connect timeout", "UND_ERR_CONNECT_TIMEOUT"));
    }
  }

  private failConnect(err: Error): void {
    const opener = this.opener;
    this.opener = undefined;
    this.dead = true;
    this.socket.destroy();
    opener?.connectFailed(err);
  }

  private readonly onConnect = (): void => {
    this.connected = true;
    this.parser = createParser(RESPONSE, MAX_RESPONSE_HEAD, {
      onHeadersComplete: (_maj, _min, headers, _m, _u, status, reason, _upgrade, keepAlive) =>
        this.ex ? this.ex.onHead(status ?? 0, reason, headers ?? [], keepAlive) : 1,
      onBody: (chunk) => this.ex?.onBody(chunk),
      onMessageComplete: () => {
        this.read = Read.Head;
        this.ex?.onComplete();
      },
    });
    const opener = this.opener;
    this.opener = undefined;
    this.pool.connectedFor(this, opener);
  };

  /** A read of `n` bytes into `buf`: handled, then the buffer for the next read is chosen. */
  private readonly onRead = (n: number, buf: Uint8Array): boolean => {
    const to = this.ex?.req.socket;
    this.onData((buf as Buffer).subarray(0, n));
    this.nextRead = httpReadBuffers.after(buf, n, to);
    return true;
  };

  private readonly onData = (data: Buffer): void => {
    const ex = this.ex;
    const parser = this.parser;
    if (!ex || !parser) {
      // Nothing was asked: a server talking out of turn is not reused.
      return void this.socket.destroy();
    }
    this.received += data.length;
    const client = ex.req.socket;
    client.cork();
    if (this.read === Read.Strict) this.strict(parser, data);
    else if (this.read === Read.Body) this.body(ex, data);
    else this.head(ex, parser, data);
    client.uncork();
  };

  /** Fast path: a complete head is parsed here if it can be, else llhttp gets it. */
  private head(ex: Exchange, parser: HttpParser, data: Buffer): void {
    let buf = data;
    if (this.headBuf) {
      buf = Buffer.concat([this.headBuf, data]);
      this.headBuf = undefined;
    }
    const end = buf.indexOf(HEAD_END);
    if (end === -1) {
      if (buf.length > MAX_RESPONSE_HEAD) return this.strictFrom(parser, buf);
      this.headBuf = keep(buf);
      return;
    }
    if (ex.req.method === "HEAD") return this.strictFrom(parser, buf);
    const text = buf.toString("latin1", 0, end);
    const pass = passHead(text);
    if (pass) {
      this.read = Read.Body;
      this.remaining = pass.length;
      ex.onPassHead(pass.status, pass.text, pass.length, pass.keepAlive);
    } else {
      const fast = parseFastHead(text);
      if (!fast) return this.strictFrom(parser, buf);
      this.read = Read.Body;
      this.remaining = fast.length;
      ex.onHead(fast.status, fast.reason, fast.raw, fast.keepAlive);
      if (this.ex !== ex) return;
    }
    const rest = end + 4 < buf.length ? buf.subarray(end + 4) : undefined;
    if (rest) this.body(ex, rest);
    else if (this.remaining === 0) this.complete(ex);
  }

  private body(ex: Exchange, data: Buffer): void {
    const n = data.length;
    if (n > this.remaining) {
      // Bytes beyond the declared length: the server is out of step; finish, then drop it.
      if (this.remaining > 0) ex.onBody(data.subarray(0, this.remaining));
      this.remaining = 0;
      this.dead = true; // not back to the pool
      this.complete(ex);
      return void this.socket.destroy();
    }
    this.remaining -= n;
    if (n > 0) ex.onBody(data);
    if (this.remaining === 0 && this.ex === ex) this.complete(ex);
  }

  private complete(ex: Exchange): void {
    this.read = Read.Head;
    ex.onComplete();
  }

  /** Hands the message (from its first byte) to llhttp. */
  private strictFrom(parser: HttpParser, buf: Buffer): void {
    this.read = Read.Strict;
    this.strict(parser, buf);
  }

  private strict(parser: HttpParser, data: Buffer): void {
    const ret = parser.execute(data);
    if (typeof ret !== "number") {
      this.ex?.onParseError(ret);
      this.socket.destroy();
    }
  }

  private readonly onEnd = (): void => {
    // A response delimited by the connection closing ends here (llhttp's messages only).
    const ex = this.ex;
    if (ex && this.parser) {
      if (this.read === Read.Head && this.headBuf) {
        // A head cut short: let llhttp judge it (it reports the error).
        this.read = Read.Strict;
        this.parser.execute(this.headBuf);
        this.headBuf = undefined;
      }
      if (this.read === Read.Strict) {
        const client = ex.req.socket;
        client.cork();
        const r = this.parser.finish();
        client.uncork();
        if (r instanceof Error && this.ex) this.ex.onParseError(r);
      }
    }
    this.socket.destroy();
  };

  private readonly onError = (err: Error): void => {
    if (!this.connected) return this.failConnect(err);
    this.lost(err);
  };

  private readonly onClose = (): void => {
    if (!this.connected && this.opener) this.failConnect(coded("connection closed before it was established", "ECONNRESET"));
    this.lost(coded("the server closed the connection", "UND_ERR_SOCKET"));
    this.dead = true;
    this.pool.remove(this);
    httpReadBuffers.release(this.nextRead);
    this.nextRead = ReadBuffers.shared;
    const p = this.parser;
    this.parser = undefined;
    if (p) freeParser(p);
  };

  private lost(err: Error): void {
    const ex = this.ex;
    this.ex = undefined;
    if (ex) ex.onConnectionLost(err, this.uses > 1, this.received);
  }

  get alive(): boolean {
    return !this.dead && !this.socket.destroyed;
  }
}

export interface UpstreamConnectionStates {
  busy: number;
  idle: number;
  stalled: number;
}

/** Keep-alive connections to one server: at most `maxConnectionsPerServer`, extra requests wait. */
export class UpstreamPool {
  private readonly idle: UpstreamConnection[] = [];
  private readonly conns = new SlotList<UpstreamConnection>("poolSlot");
  private readonly waiting: Exchange[] = [];
  /** Exchanges attached or queued here (for timeouts). */
  private readonly active = new SlotList<Exchange>("poolSlot");
  private closing = false;
  private closed: (() => void) | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly limits: HttpLimits,
  ) {}

  /** Upstream connections open (idle or busy). */
  get connected(): number {
    let n = 0;
    for (const c of this.conns) if (c.connected) n++;
    return n;
  }

  dispatch(ex: Exchange): void {
    if (this.closing) return ex.connectFailed(coded("the server left the service", "UND_ERR_CLOSED"));
    this.active.add(ex);
    let conn = this.idle.pop();
    while (conn && !conn.alive) conn = this.idle.pop();
    if (conn) return conn.assign(ex);
    if (this.conns.size < this.limits.maxConnectionsPerServer) {
      this.conns.add(new UpstreamConnection(this, this.host, this.port, this.limits.upstreamConnectTimeoutMs, ex));
      return;
    }
    this.waiting.push(ex);
  }

  /** @internal a new connection is up: its opener (if still waiting) or the queue gets it. */
  connectedFor(conn: UpstreamConnection, opener: Exchange | undefined): void {
    if (opener && this.active.has(opener)) return conn.assign(opener);
    this.release(conn);
  }

  /** @internal */
  release(conn: UpstreamConnection): void {
    if (!conn.alive) return;
    const next = this.waiting.shift();
    if (next) return conn.assign(next);
    if (this.closing) return conn.destroy();
    conn.idleSince = monotonicMs();
    this.idle.push(conn);
  }

  /** @internal the exchange settled. */
  finished(ex: Exchange): void {
    this.active.delete(ex);
  }

  /** @internal an exchange gave up while queued. */
  unqueue(ex: Exchange): void {
    const i = this.waiting.indexOf(ex);
    if (i >= 0) this.waiting.splice(i, 1);
    this.active.delete(ex);
  }

  /** @internal a connection closed. */
  remove(conn: UpstreamConnection): void {
    this.conns.delete(conn);
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    // Requests queued behind the connection limit get the freed slot.
    if (!this.closing && this.waiting.length > 0 && this.conns.size < this.limits.maxConnectionsPerServer) {
      const ex = this.waiting.shift()!;
      this.conns.add(new UpstreamConnection(this, this.host, this.port, this.limits.upstreamConnectTimeoutMs, ex));
    }
    if (this.closing && this.conns.size === 0 && this.closed) this.closed();
  }

  /** Timeouts of every exchange and connection here; `now` is monotonicMs(). */
  sweep(now: number): void {
    if (this.active.size > 0) for (const ex of this.active.toArray()) ex.sweep(now);
    for (const c of this.conns) c.sweep(now);
    const limit = this.limits.upstreamKeepAliveTimeoutMs;
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = this.idle[i]!;
      if (now - c.idleSince >= limit) c.destroy();
    }
  }

  get busy(): boolean {
    return this.active.size > 0;
  }

  /**
   * The connections to this server by state: held by an exchange, idle and fit for the next one,
   * or idle in a state that would stall it (must stay 0: `release` closes such connections).
   */
  connectionStates(): UpstreamConnectionStates {
    const out = { busy: 0, idle: 0, stalled: 0 };
    for (const c of this.conns) {
      if (c.busy) out.busy++;
      else if (this.idle.includes(c)) {
        if (c.reusable) out.idle++;
        else if (c.alive) out.stalled++;
      }
    }
    return out;
  }

  /** Graceful: running exchanges finish, then their connections close; idle ones close now. */
  close(): Promise<void> {
    this.closing = true;
    for (const c of this.idle.splice(0)) c.destroy();
    if (this.conns.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.closed = resolve));
  }

  /** Everything closes now (exchanges in flight fail). */
  destroy(reason?: Error): Promise<void> {
    this.closing = true;
    for (const ex of [...this.waiting]) ex.abort(reason ?? coded("pool destroyed", "UND_ERR_DESTROYED"));
    this.waiting.length = 0;
    const done = this.close();
    for (const c of [...this.conns]) c.destroy();
    return done;
  }
}
