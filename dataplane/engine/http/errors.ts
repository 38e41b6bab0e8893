import type { Duplex } from "node:stream";

/**
 * The proxy's own responses: short plain-text bodies that say what happened (SPEC §3), one line
 * each, naming the service but never a server address.
 */

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: "Bad Request",
  405: "Method Not Allowed",
  408: "Request Timeout",
  417: "Expectation Failed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export const errorBodies = {
  noServer: (service: string) => `no healthy server for service ${service}`,
  noService: (service: string) => `service ${service} is not configured`,
  unreachable: (service: string) => `no server of service ${service} could be reached`,
  badResponse: (service: string) => `invalid response from a server of service ${service}`,
  upstreamFailed: (service: string) => `the connection to a server of service ${service} failed`,
  timeout: (service: string, ms: number) => `a server of service ${service} did not answer within ${ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`}`,
  drained: (service: string) => `the server of service ${service} was removed and its drain timeout expired`,
  badRequest: (reason: string) => `bad request: ${reason}`,
} as const;

/** A complete raw HTTP/1.1 error response, for sockets outside a request (parse errors, timeouts, upgrades). */
export function rawError(status: number, message: string): string {
  const body = `${message}\n`;
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\n` +
    `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`
  );
}

/**
 * Writes `rawError` and closes. The socket is half-closed first so the client can read the answer
 * (destroying at once could turn into a reset that discards it), then destroyed after `lingerMs`
 * in case the client never closes its side.
 */
export function rejectSocket(socket: Duplex, status: number, message: string, lingerMs = 1000): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(rawError(status, message));
  const t = setTimeout(() => socket.destroy(), lingerMs);
  t.unref();
  socket.once("close", () => clearTimeout(t));
}

/** Status and body for a client error reported by Node's HTTP parser (`clientError`). */
export function classifyClientError(err: NodeJS.ErrnoException & { reason?: string }): { status: number; message: string } | undefined {
  switch (err.code) {
    case "ECONNRESET":
    case "EPIPE":
      return undefined; // the client is gone
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, message: "request headers too large" };
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, message: "request timeout: the request was not received in time" };
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
      return { status: 400, message: errorBodies.badRequest("conflicting Content-Length / Transfer-Encoding") };
    case "HPE_INVALID_TRANSFER_ENCODING":
      return { status: 400, message: errorBodies.badRequest("invalid Transfer-Encoding") };
    case "HPE_INVALID_CONTENT_LENGTH":
      return { status: 400, message: errorBodies.badRequest("invalid Content-Length") };
    default:
      return { status: 400, message: errorBodies.badRequest(err.reason ? `malformed HTTP (${err.reason})` : "malformed HTTP") };
  }
}
