import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";

/**
 * The admin API's HTTP/1.1 transport: `node:http`, configured with the admin's own limits. It
 * shares nothing with the traffic engine, so a change made for proxy speed cannot change what the
 * admin API accepts, and the reverse (docs/admin-api.md, "Conventions").
 *
 * On top of what `node:http` does by itself, it refuses what the admin API never serves: a head
 * that is malformed, too large or too slow gets a plain-text 400/408/431 and the connection is
 * closed; so do versions other than HTTP/1.0 and 1.1 (505; HTTP/0.9 400), upgrades (400) and
 * CONNECT (405). A refusal half-closes the socket first, so the client can read the answer, and
 * destroys it after `REFUSAL_LINGER_MS` in case the client never closes its side.
 */

/**
 * The admin API's limits. Its clients are the provider, the `ballast` command and a browser on the
 * status page: small requests, never traffic. docs/admin-api.md ("Conventions") lists them.
 */
export const ADMIN_HTTP_LIMITS = Object.freeze({
  /** The whole request head must arrive within this many ms (else 408 and close). */
  headersTimeoutMs: 20_000,
  /** The whole request, body included, must arrive within this many ms (else 408 and close). */
  requestTimeoutMs: 60_000,
  /** Idle keep-alive connections close after this many ms. */
  keepAliveTimeoutMs: 5_000,
  /** How often the two timeouts above are checked (Node's default, 30 s, would let a slow client stay 30 s longer). */
  connectionsCheckingIntervalMs: 1_000,
  /** Largest request head, request line and headers, in bytes (else 431 and close). */
  maxHeaderSize: 16_384,
  /** Most header lines in a request head, `Host` included (else 431 and close). */
  maxHeaderLines: 100,
});

/** How long a refused connection may stay half-closed before it is destroyed. */
const REFUSAL_LINGER_MS = 1_000;

export interface AdminTransport {
  /** Binds; `shared` sets SO_REUSEPORT (replicas on etcd, admin-server.ts). Resolves with the base URL. */
  listen(host: string, port: number, shared: boolean): Promise<string>;
  /** Whether `close` has begun: replies then say `Connection: close`. */
  readonly closing: boolean;
  /** Stops accepting; idle connections close now, busy ones after their reply or at `graceMs`. */
  close(graceMs: number): Promise<void>;
}

export interface AdminTransportHandlers {
  /** A request that passed the transport's checks. */
  request(req: IncomingMessage, res: ServerResponse): void;
  /** A request refused by the transport (parse error, timeout, upgrade…): for the debug log. */
  refused(code: string, status: number | undefined): void;
}

export function createAdminTransport(handlers: AdminTransportHandlers): AdminTransport {
  // Responses not yet finished, per socket: a refusal must not write into the middle of one.
  const answering = new WeakMap<Duplex, number>();
  // Node reports every later read of a failed parser again; the first refusal stands.
  const refused = new WeakSet<Duplex>();
  const sockets = new Set<Socket>();
  let closing = false;

  const server: Server = createServer(
    {
      headersTimeout: ADMIN_HTTP_LIMITS.headersTimeoutMs,
      requestTimeout: ADMIN_HTTP_LIMITS.requestTimeoutMs,
      keepAliveTimeout: ADMIN_HTTP_LIMITS.keepAliveTimeoutMs,
      connectionsCheckingInterval: ADMIN_HTTP_LIMITS.connectionsCheckingIntervalMs,
      maxHeaderSize: ADMIN_HTTP_LIMITS.maxHeaderSize,
      // Node's lenient parser would accept what the traffic listeners refuse (docs/traffic.md).
      insecureHTTPParser: false,
      noDelay: true,
    },
    (req, res) => {
      const socket = req.socket;
      answering.set(socket, (answering.get(socket) ?? 0) + 1);
      res.once("close", () => answering.set(socket, (answering.get(socket) ?? 1) - 1));
      if (req.httpVersionMajor !== 1) {
        // Node's parser takes HTTP/0.9 (`GET /` and no version) and any other major version.
        const ninety = req.httpVersion === "0.9";
        return refuseRequest(res, ninety ? 400 : 505, ninety ? "bad request: HTTP/0.9 is not supported" : "HTTP version not supported: use HTTP/1.1");
      }
      if (closing) res.setHeader("connection", "close");
      handlers.request(req, res);
    },
  );
  // Node counts header lines past this one as a header overflow: 431 in `clientError` below.
  server.maxHeadersCount = ADMIN_HTTP_LIMITS.maxHeaderLines;

  function refuseRequest(res: ServerResponse, status: number, message: string): void {
    handlers.refused(`HTTP_${status}`, status);
    const body = `${message}\n`;
    res.writeHead(status, {
      "content-type": "text/plain; charset=utf-8",
      "content-length": Buffer.byteLength(body),
      "cache-control": "no-store",
      connection: "close",
    });
    res.end(body);
  }

  server.on("connection", (socket: Socket) => {
    if (closing) return void socket.destroy();
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("clientError", (err: NodeJS.ErrnoException & { reason?: string }, socket: Duplex) => {
    if (refused.has(socket)) return;
    refused.add(socket);
    const verdict = classify(err);
    handlers.refused(err.code ?? "unknown", verdict?.status);
    // A reply in progress on this socket would be corrupted by a raw answer: cut the connection.
    if (!verdict || (answering.get(socket) ?? 0) > 0) return void socket.destroy();
    refuseSocket(socket, verdict.status, verdict.message);
  });
  server.on("upgrade", (_req: IncomingMessage, socket: Duplex) => refuseSocket(socket, 400, "bad request: the admin API does not upgrade connections"));
  server.on("connect", (_req: IncomingMessage, socket: Duplex) => refuseSocket(socket, 405, "method not allowed: CONNECT is not supported"));

  return {
    get closing() {
      return closing;
    },
    listen(host, port, shared) {
      return new Promise((resolveUrl, reject) => {
        server.once("error", reject);
        // `reusePort` (SO_REUSEPORT) is an option of net.Server.listen since Node 22.12 / 23.1.
        server.listen({ port, host, ...(shared && port !== 0 ? { reusePort: true } : {}) }, () => {
          server.off("error", reject);
          const address = server.address() as AddressInfo;
          const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
          resolveUrl(`http://${shown}:${address.port}`);
        });
      });
    },
    async close(graceMs) {
      if (!server.listening) return;
      closing = true;
      const closed = new Promise<void>((done) => server.close(() => done()));
      // Idle connections close now; busy ones once their reply is written (it says Connection: close).
      const deadline = Date.now() + graceMs;
      server.closeIdleConnections();
      while (sockets.size > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, Math.min(20, Math.max(1, deadline - Date.now()))));
        server.closeIdleConnections();
      }
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** Status and plain-text answer for a parse error or timeout that `node:http` reports; undefined when the client is gone. */
function classify(err: NodeJS.ErrnoException & { reason?: string }): { status: number; message: string } | undefined {
  switch (err.code) {
    case "ECONNRESET":
    case "EPIPE":
      return undefined;
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, message: "request headers too large" };
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return { status: 413, message: "chunk extensions too large" };
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, message: "request timeout: the request was not received in time" };
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
      return { status: 400, message: "bad request: conflicting Content-Length / Transfer-Encoding" };
    case "HPE_INVALID_TRANSFER_ENCODING":
      return { status: 400, message: "bad request: invalid Transfer-Encoding" };
    case "HPE_INVALID_CONTENT_LENGTH":
      return { status: 400, message: "bad request: invalid Content-Length" };
    default:
      return { status: 400, message: `bad request: ${err.reason ? `malformed HTTP (${err.reason})` : "malformed HTTP"}` };
  }
}

/**
 * Writes a complete plain-text answer on a socket outside any request and closes it: half-closed
 * first, so the client reads the answer (destroying at once could turn into a reset that discards
 * it), destroyed after `REFUSAL_LINGER_MS` if the client keeps its side open.
 */
function refuseSocket(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  if (!socket.writable) return void socket.destroy();
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
  // Reads continue (and are dropped) until the client closes, so what it still sends is no reset.
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
}
