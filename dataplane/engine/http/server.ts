import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Certificate } from "../../../model";
import { classifyClientError, rejectSocket } from "./errors";
import type { HttpLimits } from "./limits";

/**
 * The node:http / node:https server of one listener, hardened (SPEC §3):
 *
 * - Node's strict parser only (`insecureHTTPParser: false`, stated explicitly so a NODE_OPTIONS
 *   `--insecure-http-parser` cannot loosen it): it refuses Content-Length together with
 *   Transfer-Encoding, differing or repeated Content-Lengths, bare LF, obs-fold, invalid header
 *   characters. Each becomes 400 with a one-line body and the connection is closed; nothing is
 *   forwarded (the request handler never sees it).
 * - Heads larger than `maxHeaderSize` get 431.
 * - `headersTimeout` / `requestTimeout` with `connectionsCheckingInterval` lowered to 1 s, so a
 *   client dribbling its head is cut about `headersTimeout` after it connected (408).
 * - HTTP/1.1 requests need exactly one Host header (checked by the proxy: 400 otherwise);
 *   duplicate headers are not joined.
 */

export type ServerKind = "http" | "https";

export interface ListenerServerHandlers {
  request(req: http.IncomingMessage, res: http.ServerResponse): void;
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
  /** A request Node's parser refused (status 400/408/431) or a client that vanished (status undefined). */
  clientError(code: string, status: number | undefined): void;
}

export function httpServerOptions(limits: HttpLimits): http.ServerOptions {
  const requestTimeout = limits.clientRequestTimeoutMs;
  return {
    insecureHTTPParser: false,
    maxHeaderSize: limits.maxHeaderSize,
    requestTimeout,
    // Node requires headersTimeout <= requestTimeout.
    headersTimeout: requestTimeout > 0 ? Math.min(limits.clientHeadersTimeoutMs, requestTimeout) : limits.clientHeadersTimeoutMs,
    keepAliveTimeout: limits.clientKeepAliveTimeoutMs,
    connectionsCheckingInterval: limits.connectionsCheckingIntervalMs,
    // Checked by the proxy instead, so the 400 carries a body like every other refusal.
    requireHostHeader: false,
    joinDuplicateHeaders: false,
  };
}

export function createListenerServer(kind: ServerKind, certificate: Certificate | undefined, limits: HttpLimits, handlers: ListenerServerHandlers): http.Server {
  const options = httpServerOptions(limits);
  const server =
    kind === "https"
      ? https.createServer({ ...options, cert: certificate?.chain, key: certificate?.privateKey })
      : http.createServer(options);
  server.on("request", handlers.request);
  server.on("upgrade", handlers.upgrade);
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    const verdict = classifyClientError(err);
    handlers.clientError(err.code ?? "unknown", verdict?.status);
    // Nothing to say to a vanished client, nor on a socket whose response has already started.
    const inProgress = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (!verdict || inProgress) return void socket.destroy();
    rejectSocket(socket, verdict.status, verdict.message);
  });
  // TLS handshake failures: nothing to answer, node destroys the socket.
  server.on("tlsClientError", (_err: Error, socket: Socket) => socket.destroy());
  return server;
}
