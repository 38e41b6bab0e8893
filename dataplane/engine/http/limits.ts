/**
 * Timeouts and limits of the HTTP side, with the reasons for each default. All are constructor
 * options of `Engine` (tests shorten them); docs/traffic.md repeats them for operators.
 */
export interface HttpLimits {
  /**
   * Client side: the complete request head must arrive within this many ms, else 408 and close.
   * Cuts slowloris-style clients. Default 10 000 (nginx `client_header_timeout` is 60 s; 10 s is
   * ample for any real client and frees sockets six times sooner).
   */
  readonly clientHeadersTimeoutMs: number;
  /**
   * Client side: a request body that stalls this many ms gets 408 and the connection is closed (a
   * response already started is cut). It measures silence, not the whole upload: any body bytes
   * restart it, and it stands still while Ballast itself holds the body back (the server is not
   * reading). As nginx's `client_body_timeout`; an upload may take as long as it keeps moving.
   * Default 60 000.
   */
  readonly clientRequestTimeoutMs: number;
  /** Client side: idle keep-alive connections are closed after this many ms. Default 15 000. */
  readonly clientKeepAliveTimeoutMs: number;
  /**
   * How often Node checks the two client timeouts above. Node's default (30 s) would let a slow
   * client hold a socket up to 30 s past its deadline. Default 1 000.
   */
  readonly connectionsCheckingIntervalMs: number;
  /** Largest request head (request line and headers) in bytes; larger gets 431. Default 16 384. */
  readonly maxHeaderSize: number;
  /**
   * Most header lines in a request head, `Host` included; more gets 431 and the connection is
   * closed. Default 100 (HAProxy's `tune.http.maxhdr` is 101).
   */
  readonly maxHeaderLines: number;
  /**
   * Upstream: a server must start its response (status line and headers) within this many ms
   * after the request was sent, else 504. Default 60 000 (nginx `proxy_read_timeout`, ALB's idle
   * timeout).
   */
  readonly upstreamHeadersTimeoutMs: number;
  /**
   * Upstream: longest silence between two response body chunks; on expiry the client connection
   * is cut (the status is already sent). Default 300 000 (undici's default), so slow streams and
   * long polls survive.
   */
  readonly upstreamBodyTimeoutMs: number;
  /** Upstream: TCP connect timeout in ms; counts as "nothing sent", so another server is tried. Default 5 000. */
  readonly upstreamConnectTimeoutMs: number;
  /** Upstream: most connections one worker keeps to one server (extra requests queue). Default 256. */
  readonly maxConnectionsPerServer: number;
  /** Upstream: idle keep-alive connections to a server are closed after this many ms. Default 4 000. */
  readonly upstreamKeepAliveTimeoutMs: number;
  /** Most servers one request tries (each server at most once) before answering 502. Default 5. */
  readonly maxAttempts: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = Object.freeze({
  clientHeadersTimeoutMs: 10_000,
  clientRequestTimeoutMs: 60_000,
  clientKeepAliveTimeoutMs: 15_000,
  connectionsCheckingIntervalMs: 1_000,
  maxHeaderSize: 16_384,
  maxHeaderLines: 100,
  upstreamHeadersTimeoutMs: 60_000,
  upstreamBodyTimeoutMs: 300_000,
  upstreamConnectTimeoutMs: 5_000,
  maxConnectionsPerServer: 256,
  upstreamKeepAliveTimeoutMs: 4_000,
  maxAttempts: 5,
});
