import net from "node:net";
import type { Duplex } from "node:stream";
import type { ServerSnapshot } from "../../config/snapshot";
import { ErrorCodes, codedError } from "./error-codes";

/**
 * Upgraded connections (WebSocket and any other `Upgrade`): the request head is re-written to the
 * chosen server over a plain TCP connection, then bytes are piped both ways with backpressure
 * until either side closes. The server's answer (`101 Switching Protocols` or a refusal) reaches
 * the client as the server wrote it.
 */

export interface TunnelOptions {
  readonly server: ServerSnapshot;
  /** Request headers for the server, flat pairs, already filtered and with X-Forwarded-*. */
  readonly headers: readonly string[];
  readonly connectTimeoutMs: number;
}

/**
 * The request line and header lines, without the empty line that ends a head (a caller may still
 * add a header). Header values come from the strict parser, so they hold no CR/LF.
 */
export function requestLines(method: string, url: string, headers: readonly string[]): string {
  let head = `${method} ${url} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return head;
}

/**
 * Connects to the server. Resolves with the connected socket, or rejects when the connection
 * fails before anything was sent (the caller may try another server).
 */
export function connectUpstream(server: ServerSnapshot, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const upstream = net.connect({ host: server.address, port: server.port });
    const timer = setTimeout(() => {
      upstream.destroy();
      reject(codedError(`connect timeout after ${timeoutMs} ms`, ErrorCodes.upstreamConnectTimeout));
    }, timeoutMs);
    upstream.once("connect", () => {
      clearTimeout(timer);
      upstream.off("error", onError);
      resolve(upstream);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      upstream.destroy();
      reject(err);
    };
    upstream.once("error", onError);
  });
}

/**
 * Pipes `client` ⇄ `upstream` after writing the head and any bytes the client sent after it;
 * `pipeClient` sends the client's bytes to `upstream` (`client.pipe(upstream)`, or the client
 * connection's own reads: see ClientConnection).
 * An end from one side ends the other (after its buffered bytes); an error destroys both; when one
 * side has closed the other gets `lingerMs` to finish. `onClose` runs once both are closed.
 */
export function splice(
  method: string,
  url: string,
  client: Duplex,
  head: Buffer,
  upstream: net.Socket,
  headers: readonly string[],
  pipeClient: (upstream: net.Socket) => void,
  onClose: () => void,
  lingerMs = 5000,
): void {
  upstream.setNoDelay(true);
  upstream.write(requestLines(method, url, headers) + "\r\n");
  if (head.length > 0) upstream.write(head);
  let open = 2;
  const destroyBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  const closed = (other: Duplex) => () => {
    if (!other.destroyed) {
      other.end();
      const t = setTimeout(() => other.destroy(), lingerMs);
      t.unref();
      other.once("close", () => clearTimeout(t));
    }
    if (--open === 0) onClose();
  };
  upstream.on("error", destroyBoth);
  client.on("error", destroyBoth);
  upstream.once("close", closed(client));
  client.once("close", closed(upstream));
  upstream.pipe(client);
  pipeClient(upstream);
}
