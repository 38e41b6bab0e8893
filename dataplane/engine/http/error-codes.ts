/**
 * The codes the HTTP engine gives its own failures, in one namespace (`BALLAST_`), so that what
 * an operator reads in a log names Ballast and not a library it once used. An attempt's codes
 * (`err.code`) decide what the client is answered, whether another server is tried and which
 * access-log `termination` the request gets; they appear in the warnings the data plane logs
 * ("CODE: message"). A refusal's codes name why the front door refused a request (debug log
 * "client error"). Operating-system codes (`ECONNREFUSED`, …) and llhttp's (`HPE_*`) pass through
 * unchanged. docs/errors.md ("Traffic errors") lists each one; a test keeps that table and this
 * list the same.
 */
export const ErrorCodes = {
  /** The TCP connection to a server was not established within `upstreamConnectTimeoutMs`. */
  upstreamConnectTimeout: "BALLAST_UPSTREAM_CONNECT_TIMEOUT",
  /** The request was sent but no response head arrived within `upstreamHeadersTimeoutMs`. */
  upstreamHeadersTimeout: "BALLAST_UPSTREAM_HEADERS_TIMEOUT",
  /** The response had begun, then nothing arrived for `upstreamBodyTimeoutMs`. */
  upstreamBodyTimeout: "BALLAST_UPSTREAM_BODY_TIMEOUT",
  /** The server closed (or reset) its connection while a request was on it. */
  upstreamClosed: "BALLAST_UPSTREAM_CLOSED",
  /** The server's response head or framing was invalid. */
  invalidResponse: "BALLAST_INVALID_RESPONSE",
  /** The server had left the service (its pool was closing) when the request came to it. */
  serverRemoved: "BALLAST_SERVER_REMOVED",
  /** The server's drain deadline expired with the request still running. */
  drained: "BALLAST_DRAINED",
  /** The balancer shut down with the request still running. */
  shutdown: "BALLAST_SHUTDOWN",

  /** Front door: the head took over `clientHeadersTimeoutMs`, or the body stalled for `clientRequestTimeoutMs` (408). */
  clientTimeout: "BALLAST_CLIENT_TIMEOUT",
  /** Front door: an HTTP version other than 1.0 and 1.1 (505). */
  httpVersion: "BALLAST_HTTP_VERSION",
  /** Front door: a malformed request line (400). */
  badRequestLine: "BALLAST_BAD_REQUEST_LINE",
  /** Front door: an absolute-form target whose authority is not a valid host[:port] (400). */
  badTarget: "BALLAST_BAD_TARGET",
  /** Front door: more header lines than `maxHeaderLines` (431). */
  tooManyHeaders: "BALLAST_TOO_MANY_HEADERS",
  /** Front door: a method llhttp parses but no method table names (501). */
  unknownMethod: "BALLAST_UNKNOWN_METHOD",
  /** Front door: a CONNECT request (405). */
  connect: "BALLAST_CONNECT",
  /** Front door: an `Expect` other than 100-continue (417). */
  expectation: "BALLAST_EXPECTATION",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** An Error carrying one of the codes above. */
export function codedError(message: string, code: ErrorCode): Error & { code: ErrorCode } {
  return Object.assign(new Error(message), { code });
}
