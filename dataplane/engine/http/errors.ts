import type { Duplex } from "node:stream";

/**
 * The proxy's own responses: short plain-text bodies that say what happened (docs/traffic.md, "Errors"), one line
 * each, naming the service but never a server address.
 */

/** Reason phrases of the registered status codes (RFC 9110 and the IANA registry, as Node's). */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: "Continue",
  101: "Switching Protocols",
  102: "Processing",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  207: "Multi-Status",
  208: "Already Reported",
  226: "IM Used",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  305: "Use Proxy",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Payload Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  418: "I'm a Teapot",
  421: "Misdirected Request",
  422: "Unprocessable Entity",
  423: "Locked",
  424: "Failed Dependency",
  425: "Too Early",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
  506: "Variant Also Negotiates",
  507: "Insufficient Storage",
  508: "Loop Detected",
  509: "Bandwidth Limit Exceeded",
  510: "Not Extended",
  511: "Network Authentication Required",
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
