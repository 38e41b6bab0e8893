import { ErrorCodes, codedError as coded } from "../error-codes";
import net from "node:net";
import type { Exchange } from "./exchange";
import { HEAD_END, RESPONSE, createParser, freeParser, type HttpParser } from "./parser";
import { parseFastHead, passHead } from "./response-head";
import { ReadBuffers, httpReadBuffers, keep } from "../../read-buffers";
import { monotonicMs } from "../../../clock";
import type { UpstreamPool } from "./upstream-pool";

/**
 * One keep-alive connection to a server, owned by its `UpstreamPool`. It carries one `Exchange` at
 * a time: a response head is looked at by the fast path first (response-head.ts), a Content-Length
 * body is forwarded as raw slices, anything else goes through llhttp. Connect timeout:
 * `upstreamConnectTimeoutMs`; idle keep-alive timeout: `upstreamKeepAliveTimeoutMs` (both checked
 * by the pool's sweep).
 */

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
      this.failConnect(coded("connect timeout", ErrorCodes.upstreamConnectTimeout));
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
    if (!this.connected && this.opener) this.failConnect(Object.assign(new Error("connection closed before it was established"), { code: "ECONNRESET" }));
    this.lost(coded("the server closed the connection", ErrorCodes.upstreamClosed));
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
