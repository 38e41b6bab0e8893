import type * as net from "node:net";

/** Bytes of a read buffer: Node's default read size. */
const READ_BYTES = 64 * 1024;

/** The process's shared read buffer (see `ReadBuffers`). */
const SHARED = Buffer.allocUnsafeSlow(READ_BYTES);

/** `bytes`, or a copy of them when they lie in the shared read buffer (to keep past the read). */
export function keep(bytes: Buffer): Buffer {
  return bytes.buffer === SHARED.buffer ? Buffer.from(bytes) : bytes;
}

/**
 * Read buffers for what servers send (TCP connections and HTTP upstream connections), given to the
 * server socket as its `onread` option. Without them Node allocates a fresh 64 KiB buffer for
 * every read; in a bulk transfer that memory is cold each time and waits for the GC. Reading into a
 * buffer that is written out at once and reused keeps it in the cache, as HAProxy's own buffers are
 * (what it bought: docs/benchmarks.md, TCP).
 *
 * - Every connection starts on the shared buffer: one for the whole process, so an idle connection
 *   holds no read memory. Bytes read into it must be copied before anything keeps them past the read
 *   callback (`keep`), since the next read of any connection overwrites them.
 * - A read that fills the shared buffer (a transfer is under way) gives the connection a large
 *   buffer of its own from a free list. Its reads are written without a copy.
 * - A write the kernel did not take at once keeps a reference to the bytes until it completes: the
 *   buffer then belongs to that write, and the connection takes a fresh one for its next read. The
 *   callback names the one socket its bytes were written to (`after`); a socket that still holds
 *   bytes after the callback counts as such a write.
 * - A read that leaves the own buffer part empty (the socket is drained: the transfer is over or
 *   waits for the server) gives it back to the free list, and the connection returns to the shared
 *   buffer. A connection left idle therefore never holds an own buffer.
 */
export class ReadBuffers {
  /** Bytes of every read buffer, shared or own. */
  static readonly BYTES = READ_BYTES;
  /** Own buffers kept for reuse; more are left to the GC. */
  static readonly MAX_FREE = 64;
  /** The shared buffer: where every connection's reads start. */
  static readonly shared: Buffer = SHARED;

  private readonly free: Buffer[] = [];
  private allocated = 0;
  private given = 0;

  /**
   * The buffer for a socket's next read, after a read of `n` bytes into `buf` whose bytes went to
   * `to` (written, or dropped: undefined) within the read callback.
   */
  after(buf: Uint8Array, n: number, to: net.Socket | undefined): Buffer {
    if (buf === SHARED) return n === READ_BYTES ? this.take() : SHARED;
    // A write still queued holds `buf`: it is that write's now.
    const pending = to !== undefined && to.writableLength > 0;
    if (pending) this.given++;
    if (n < buf.byteLength) {
      if (!pending) this.giveBack(buf as Buffer);
      return SHARED;
    }
    return pending ? this.take() : (buf as Buffer);
  }

  /**
   * The read side of one direction of a connection: pass `onread` to the reading socket's
   * constructor (or `adoptReads` it), `attach` the socket once it exists, and `release` when the
   * connection is over. Each read is written to `to`; when `to` reports a full buffer, reading stops
   * until it drains (the same backpressure as `stream.pipe`).
   *
   * `to` may come later (`target`): a client's bytes wait until its server is connected. Until
   * then the reading socket should be paused; a read that still comes is kept (copied) and written
   * first.
   */
  relay(to?: net.Socket): Relay {
    let next: Buffer = SHARED;
    let from: net.Socket | undefined;
    let dest: net.Socket | undefined;
    let waiting = false;
    let early: Buffer[] | undefined;
    const onDrain = () => {
      if (!waiting) return;
      waiting = false;
      from?.resume();
    };
    const target = (socket: net.Socket): void => {
      dest = socket;
      socket.on("drain", onDrain);
      if (early) for (const b of early) if (!socket.write(b)) waiting = true;
      early = undefined;
    };
    if (to) target(to);
    const onread: OnRead = {
      buffer: () => next,
      callback: (n, buf) => {
        const bytes = (buf as Buffer).subarray(0, n);
        if (!dest) {
          (early ??= []).push(Buffer.from(bytes));
          return false;
        }
        if (dest.destroyed) return false;
        const ok = dest.write(keep(bytes));
        next = this.after(buf, n, dest);
        if (!ok) waiting = true;
        return ok;
      },
    };
    return {
      onread,
      attach: (socket) => {
        from = socket;
      },
      target: (socket) => {
        target(socket);
        if (!waiting) from?.resume();
      },
      release: () => {
        this.release(next);
        next = SHARED;
        from = undefined;
      },
    };
  }

  /** A connection is over: the own buffer it held for its next read goes back to the free list. */
  release(next: Buffer): void {
    if (next !== SHARED) this.giveBack(next);
  }

  /** Own buffers allocated so far, given up to pending writes, and kept free (for tests). */
  stats(): { allocated: number; givenToWrites: number; free: number } {
    return { allocated: this.allocated, givenToWrites: this.given, free: this.free.length };
  }

  private take(): Buffer {
    const buf = this.free.pop();
    if (buf) return buf;
    this.allocated++;
    return Buffer.allocUnsafeSlow(READ_BYTES);
  }

  private giveBack(buf: Buffer): void {
    if (this.free.length < ReadBuffers.MAX_FREE) this.free.push(buf);
  }
}

/** A socket's `onread` as Ballast uses it: the next buffer always comes from a function. */
export interface OnRead {
  /** The buffer the next read goes into (called after every read). */
  buffer: () => Buffer;
  /** `n` bytes were read into `buf`; false stops reading (as `pause()`). */
  callback: (n: number, buf: Uint8Array) => boolean;
}

/** One connection's use of `ReadBuffers` (see `ReadBuffers.relay`). */
export interface Relay {
  readonly onread: OnRead;
  attach(socket: net.Socket): void;
  /** Where the reads go, for a relay made without: writes what was held and resumes the reader. */
  target(to: net.Socket): void;
  /** The connection is over: its own buffer, if it holds one, goes back to the free list. */
  release(): void;
}

/** The read buffers of the HTTP engine: upstream connections and tunnels (one process, one event loop). */
export const httpReadBuffers = new ReadBuffers();
