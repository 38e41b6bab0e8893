import type * as net from "node:net";

/**
 * Read buffers for the server → client direction of TCP connections, given to the server socket as
 * its `onread` option. Without them Node allocates a fresh 64 KiB buffer for every read; in a bulk
 * transfer that memory is cold each time and waits for the GC, and the proxy ran at about 60% of
 * HAProxy's MB/s. Reading into a buffer that is written out at once and reused keeps it in the
 * cache, as HAProxy's own buffers are (docs/benchmarks.md, TCP).
 *
 * - Every connection starts on the shared buffer: one for the whole process, so an idle connection
 *   holds no read memory. A read into it is copied before it is written, since the next read of any
 *   connection overwrites it.
 * - A read that fills the shared buffer (a transfer is under way) gives the connection a large
 *   buffer of its own from a free list. Its reads are written without a copy.
 * - A write the kernel did not take at once keeps a reference to the bytes until it completes: the
 *   buffer then belongs to that write, and the connection takes a fresh one for its next read.
 * - A read that leaves the own buffer part empty (the socket is drained: the transfer is over or
 *   waits for the server) gives it back to the free list, and the connection returns to the shared
 *   buffer. A connection left idle therefore never holds an own buffer.
 */
export class ReadBuffers {
  /** Bytes of the shared buffer; a read that fills it moves the connection to an own buffer. */
  static readonly SHARED_BYTES = 16 * 1024;
  /** Bytes of an own buffer: Node's default read size. */
  static readonly OWN_BYTES = 64 * 1024;
  /** Own buffers kept for reuse; more are left to the GC. */
  static readonly MAX_FREE = 64;

  private readonly shared = Buffer.allocUnsafeSlow(ReadBuffers.SHARED_BYTES);
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private given = 0;

  /**
   * The read side of one connection's server → client direction: pass `onread` to the server
   * socket's constructor, `attach` the socket once it exists, and `release` when the connection is
   * over. Each read is written to `to`; when `to` reports a full buffer, reading stops until it
   * drains (the same backpressure as `stream.pipe`).
   */
  relay(to: net.Socket): Relay {
    let next: Buffer = this.shared;
    let from: net.Socket | undefined;
    let waiting = false;
    to.on("drain", () => {
      if (!waiting) return;
      waiting = false;
      from?.resume();
    });
    const onread: net.OnReadOpts = {
      buffer: () => next,
      callback: (n, buf) => {
        if (to.destroyed) return false;
        const own = buf !== this.shared;
        const ok = to.write(own ? (buf as Buffer).subarray(0, n) : Buffer.from(this.shared.subarray(0, n)));
        if (own) {
          // A write still queued holds `buf`: it is that write's now.
          const pending = to.writableLength > 0;
          if (pending) this.given++;
          if (n < buf.byteLength) {
            if (!pending) this.giveBack(buf as Buffer);
            next = this.shared;
          } else if (pending) next = this.take();
        } else if (n === ReadBuffers.SHARED_BYTES) next = this.take();
        if (!ok) waiting = true;
        return ok;
      },
    };
    return {
      onread,
      attach: (socket) => {
        from = socket;
      },
      release: () => {
        if (next !== this.shared) this.giveBack(next);
        next = this.shared;
        from = undefined;
      },
    };
  }

  /** Own buffers allocated so far, given up to pending writes, and kept free (for tests). */
  stats(): { allocated: number; givenToWrites: number; free: number } {
    return { allocated: this.allocated, givenToWrites: this.given, free: this.free.length };
  }

  private take(): Buffer {
    const buf = this.free.pop();
    if (buf) return buf;
    this.allocated++;
    return Buffer.allocUnsafeSlow(ReadBuffers.OWN_BYTES);
  }

  private giveBack(buf: Buffer): void {
    if (this.free.length < ReadBuffers.MAX_FREE) this.free.push(buf);
  }
}

/** One connection's use of `ReadBuffers` (see `ReadBuffers.relay`). */
export interface Relay {
  readonly onread: net.OnReadOpts;
  attach(socket: net.Socket): void;
  /** The connection is over: its own buffer, if it holds one, goes back to the free list. */
  release(): void;
}
