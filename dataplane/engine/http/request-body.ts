import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";

/**
 * The client's request body as handed to undici, one wrapper per upstream attempt.
 *
 * - Lazy: it starts reading the client only when undici first reads it, which happens after the
 *   upstream connection is up and the request head is being written. Until then nothing of the
 *   request has been consumed, and a failed attempt can be retried on another server with a fresh
 *   wrapper (`consumed` tells).
 * - Isolating: undici destroys the body it was given when a request fails; destroying this wrapper
 *   only detaches it, it never destroys the client's request (which would kill the client socket
 *   before the proxy could answer 502/504).
 * - Streaming with backpressure: the client is paused whenever the wrapper's buffer is full.
 */
export class RequestBody extends Readable {
  private started = false;

  constructor(private readonly src: IncomingMessage) {
    super({ highWaterMark: 64 * 1024 });
    // undici stops listening once its request settles; a client abort after that must not become
    // an unhandled 'error' that takes the worker down.
    this.on("error", () => {});
  }

  /** Whether any byte of the client's body has been read into this attempt. */
  get consumed(): boolean {
    return this.started;
  }

  override _read(): void {
    if (this.started) {
      this.src.resume();
      return;
    }
    this.started = true;
    this.src.on("data", this.onData);
    this.src.once("end", this.onEnd);
    this.src.once("error", this.onError);
    this.src.once("aborted", this.onAborted);
    if (this.src.readableEnded) this.push(null);
    else this.src.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.detach();
    cb(err);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (!this.push(chunk)) this.src.pause();
  };

  private readonly onEnd = (): void => {
    this.detach();
    this.push(null);
  };

  private readonly onError = (err: Error): void => {
    this.destroy(err);
  };

  private readonly onAborted = (): void => {
    this.destroy(new Error("client aborted the request"));
  };

  private detach(): void {
    this.src.off("data", this.onData);
    this.src.off("end", this.onEnd);
    this.src.off("error", this.onError);
    this.src.off("aborted", this.onAborted);
  }
}

/** Whether the client's request has a body to stream (Content-Length > 0 or Transfer-Encoding). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers["transfer-encoding"] !== undefined) return true;
  const cl = req.headers["content-length"];
  return cl !== undefined && cl !== "0";
}
