import type { ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import { responseHeaders } from "./headers";

/**
 * One attempt of one request against one server, as an undici dispatch handler. Streams the
 * response into the client's `ServerResponse` with backpressure (undici is paused while the client
 * socket's buffer is full) and reports how the attempt ended. No body is ever buffered here.
 */

export type ExchangeOutcome =
  | { kind: "done"; status: number }
  /** Failed before the request head was handed to the connection: nothing reached the server. */
  | { kind: "not-sent"; error: Error }
  /** Failed after the request was (being) sent but before the response started. */
  | { kind: "no-response"; error: Error }
  /** Failed while streaming the response: the client got a truncated response. */
  | { kind: "broken"; error: Error; status: number }
  /** The client went away first. */
  | { kind: "client-gone"; status: number };

export class UpstreamExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private pendingAbort: Error | undefined;
  private started = false;
  private status = 0;
  private settled = false;
  private clientGone = false;

  constructor(
    private readonly res: ServerResponse,
    /** Extra response headers (Set-Cookie of cookie insertion), flat name/value pairs. */
    private readonly extraHeaders: readonly string[],
    private readonly onSettled: (outcome: ExchangeOutcome) => void,
  ) {
    res.once("close", this.onClientClose);
  }

  /** Whether the request head has been handed to an upstream connection. */
  get requestStarted(): boolean {
    return this.started;
  }

  /** Whether the response status line went to the client. */
  get responseStarted(): boolean {
    return this.status !== 0;
  }

  /** Aborts the attempt (drain deadline, shutdown). */
  abort(reason: Error): void {
    if (this.settled) return;
    if (this.controller) this.controller.abort(reason);
    else this.pendingAbort = reason;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.started = true;
    const reason = this.clientGone ? new Error("client closed the connection") : this.pendingAbort;
    if (reason) controller.abort(reason);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, _headers: unknown, statusMessage?: string): void {
    const raw = (controller.rawHeaders as (Buffer | string)[] | null | undefined) ?? [];
    const headers = responseHeaders(raw);
    if (this.extraHeaders.length > 0) headers.push(...this.extraHeaders);
    try {
      this.res.writeHead(statusCode, statusMessage || undefined, headers);
    } catch (err) {
      // Invalid header name/value or status text from the server: Node refuses to forward it.
      controller.abort(Object.assign(new Error(`invalid response head: ${(err as Error).message}`), { code: "BALLAST_INVALID_RESPONSE" }));
      return;
    }
    this.status = statusCode;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once("drain", () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.res.end();
    this.settle({ kind: "done", status: this.status });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.clientGone) return this.settle({ kind: "client-gone", status: this.status });
    if (this.status !== 0) {
      // Too late for an error status: cut the client so it sees a truncated response.
      this.res.destroy(error);
      return this.settle({ kind: "broken", error, status: this.status });
    }
    this.settle(this.started ? { kind: "no-response", error } : { kind: "not-sent", error });
  }

  private readonly onClientClose = (): void => {
    if (this.settled || this.res.writableFinished) return;
    this.clientGone = true;
    if (this.controller) this.controller.abort(new Error("client closed the connection"));
    // Not yet dispatched: onRequestStart aborts it; if it fails before that, onResponseError settles.
  };

  private settle(outcome: ExchangeOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.res.off("close", this.onClientClose);
    this.onSettled(outcome);
  }
}
