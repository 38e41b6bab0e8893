import { ErrorCodes, codedError as coded } from "../error-codes";
import type net from "node:net";
import { responseHeaders } from "../headers";
import { STATUS_TEXT } from "../errors";
import type { HttpLimits } from "../limits";
import type { ClientRequest } from "./client-request";
import type { ParseError } from "./parser";
import { keep } from "../../read-buffers";
import { monotonicMs } from "../../../clock";
import type { UpstreamConnection } from "./upstream-connection";
import type { UpstreamPool } from "./upstream-pool";

/**
 * One attempt of one request against one server: it writes the client's request to an upstream
 * connection its pool hands it and streams the response back to the client, with backpressure both
 * ways (no body is buffered beyond one socket read). It settles once, with an `ExchangeOutcome`
 * that tells the proxy whether the request may be tried again elsewhere.
 *
 * Timeouts (checked by `sweep`, called through the pool by the proxy's sweep): response head after
 * the request head was sent (`upstreamHeadersTimeoutMs`), silence between response body chunks
 * (`upstreamBodyTimeoutMs`).
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


const CRLF = "\r\n";
const LAST_CHUNK = "0\r\n\r\n";
/**
 * Methods safe to send again after a connection was lost without a response: on a fresh connection
 * to the same server (a reused keep-alive connection the server had closed) or to another server.
 */
export const IDEMPOTENT: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

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
    readonly req: ClientRequest,
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
        this.fail(coded("the server switched protocols unasked", ErrorCodes.invalidResponse));
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
      this.fail(coded(`invalid response: Transfer-Encoding '${codings}' does not end in chunked`, ErrorCodes.invalidResponse));
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
    this.fail(coded(`invalid response: ${err.reason ?? err.code}`, ErrorCodes.invalidResponse));
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
      this.fail(coded(`no response head within ${this.limits.upstreamHeadersTimeoutMs} ms`, ErrorCodes.upstreamHeadersTimeout));
    } else if (this.status !== 0 && this.lastBodyAt >= 0 && now - this.lastBodyAt >= this.limits.upstreamBodyTimeoutMs) {
      this.fail(coded(`no response data for ${this.limits.upstreamBodyTimeoutMs} ms`, ErrorCodes.upstreamBodyTimeout));
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
