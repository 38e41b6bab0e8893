// Over 400 lines: one request's path, from routing through retries and session cookies to its answer and its access-log line, reads best as one piece.
import net, { type Socket } from "node:net";
import type { ListenerSnapshot, ServerSnapshot, Snapshot } from "../../config/snapshot";
import { serverLabel, type HealthTable } from "../core/server-health";
import type { Logger } from "../../log";
import type { Metrics } from "../../metrics";
import { AccessLog, endpoint, loggedPath, newRequestId, spanMs, type Termination } from "../access-log";
import { monotonicMs, type Clock } from "../../clock";
import { readCookie, setCookieValue } from "./cookie";
import { ClientConnection, type ConnectionOwner } from "./h1/client-connection";
import type { ClientRequest } from "./h1/client-request";
import { Exchange, IDEMPOTENT, type ExchangeOutcome } from "./h1/exchange";
import type { UpstreamConnectionStates } from "./h1/upstream-connection";
import { errorBodies, rejectSocket } from "./errors";
import { requestTarget } from "./request-target";
import { forwardHead, plainIp, requestHeaders, type ForwardContext, type ForwardedHead } from "./headers";
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from "./limits";
import { ServiceUpstreams, type InFlight } from "./service-upstreams";
import { connectUpstream, requestLines, splice } from "./tunnel";
import { SlotList } from "../core/slot-list";
import { ErrorCodes, codedError } from "./error-codes";

/**
 * The request handler of HTTP and HTTPS listeners (one HttpProxy per worker, shared by all of
 * them). Per request: resolve the listener's service, honour an insertion cookie whose server is
 * usable or pick one, stream the request to it through that server's keep-alive pool, stream the
 * response back. Failures map to short plain-text answers:
 *
 * | what                                                      | answer |
 * |-----------------------------------------------------------|--------|
 * | no usable server                                          | 503    |
 * | connect refused/reset/timed out before anything was sent  | next server (each at most once, at most `maxAttempts`), then 502 |
 * | connection lost after the request was sent, no response   | 502 (idempotent bodiless requests: next server first) |
 * | no response head within `upstreamHeadersTimeoutMs`        | 504    |
 * | broken framing / invalid head from the server             | 502; that connection is closed |
 * | failure after the response started                        | client connection cut (truncated response) |
 *
 * Each answered request is counted and, when its listener logs it, written to the access log
 * (access-log.ts) with the termination state of the row above that ended it. Over 400 lines: the
 * request's path (handle → attempt → settle → record) reads best as one file.
 */

export interface HttpProxyOptions {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly limits?: Partial<HttpLimits>;
}

const REQUESTS = "ballast_http_requests_total";
const REQUESTS_HELP = "HTTP requests answered, by listener, service, server (empty when none was chosen) and status code (499: client went away).";
const DURATION = "ballast_http_request_duration_seconds";
const DURATION_HELP = "Time from request to the last byte of the response, by listener and service.";

/** Errors that mean the connection failed (as opposed to a timeout or a bad response). */
const CONNECTION_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", ErrorCodes.upstreamClosed, ErrorCodes.upstreamConnectTimeout, "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", ErrorCodes.serverRemoved]);

interface RequestContext {
  readonly req: ClientRequest;
  readonly listener: ListenerSnapshot;
  readonly up: ServiceUpstreams;
  readonly clientIp: string;
  /** Request line and headers for the server, without the final empty line. */
  readonly head: string;
  /** The client sent no Host (HTTP/1.0): the server's address is sent as Host. */
  readonly hostless: boolean;
  readonly startedAt: number;
  /** Servers already tried (created on the first retry). */
  excluded: Set<string> | undefined;
  attempts: number;
  /** This request gets an access line (the listener's switch and sample rate said so). */
  readonly logged: boolean;
  /** Its X-Request-Id (the client's, or made here and forwarded); "" when not logged. */
  readonly requestId: string;
  /** The latest attempt, and when it began (monotonic ms): connect and first-byte times. */
  exchange: Exchange | undefined;
  attemptAt: number;
}

/** An X-Request-Id field line in a head as read (after the request line, so after a CRLF). */
const X_REQUEST_ID = /\r\nx-request-id:[ \t]*([^\r]*?)[ \t]*(?:\r\n|$)/i;
const HOST = /\r\nhost:[ \t]*([^\r]*?)[ \t]*(?:\r\n|$)/i;

export class HttpProxy {
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly clock: Clock;
  readonly limits: HttpLimits;
  private readonly services = new Map<string, ServiceUpstreams>();
  /** Services removed from the configuration, still draining. */
  private readonly retired = new Set<ServiceUpstreams>();
  private health: HealthTable = {};
  private readonly lastNoServerWarning = new Map<string, number>();
  /** Open client connections of every HTTP listener (for their timeouts). */
  private readonly clients = new SlotList<ClientConnection>("proxySlot");
  private sweeper: NodeJS.Timeout | undefined;
  /** Metric series by listener name, then service name. */
  private readonly routes = new Map<string, Map<string, RouteSeries>>();
  private readonly sweepMs: number;
  private readonly access: AccessLog;

  constructor(opts: HttpProxyOptions) {
    this.log = opts.log;
    this.access = new AccessLog(opts.log.access);
    this.metrics = opts.metrics;
    this.clock = opts.clock;
    this.limits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits };
    const l = this.limits;
    // One timer for every timeout of every connection; fine enough for the shortest of them.
    this.sweepMs = Math.max(5, Math.min(l.connectionsCheckingIntervalMs, l.upstreamHeadersTimeoutMs / 4, l.upstreamBodyTimeoutMs / 4, l.upstreamConnectTimeoutMs / 4, l.upstreamKeepAliveTimeoutMs / 4, l.clientKeepAliveTimeoutMs / 4));
    this.metrics.addCollector(() => {
      for (const up of this.services.values()) up.collectGauges();
    });
  }

  /**
   * Serves a client connection accepted by an HTTP/HTTPS listener. `owner` tells whether the
   * listener is closing and who handles its requests.
   */
  accept(socket: Socket, owner: Omit<ConnectionOwner, "limits" | "closed">): ClientConnection {
    const conn = new ClientConnection(socket, {
      limits: this.limits,
      closing: owner.closing,
      handler: owner.handler,
      closed: (c) => this.clients.delete(c),
    });
    this.clients.add(conn);
    if (!this.sweeper) {
      this.sweeper = setInterval(this.sweep, this.sweepMs);
      this.sweeper.unref();
    }
    return conn;
  }

  private readonly sweep = (): void => {
    const now = monotonicMs();
    for (const c of this.clients.toArray()) c.checkTimeouts(now);
    for (const up of this.services.values()) up.sweep(now);
    for (const up of this.retired) up.sweep(now);
  };

  apply(snapshot: Snapshot): void {
    for (const [name, up] of this.services) {
      const svc = snapshot.services[name];
      if (!svc || svc.protocol !== "http") {
        this.services.delete(name);
        up.retireAll();
        this.retired.add(up);
      }
    }
    for (const svc of Object.values(snapshot.services)) {
      if (svc.protocol !== "http") continue;
      const up = this.services.get(svc.name);
      if (up) up.update(svc);
      else {
        const created = new ServiceUpstreams(svc, { log: this.log, metrics: this.metrics, clock: this.clock, limits: this.limits });
        created.setHealth(this.health[svc.name]);
        this.services.set(svc.name, created);
      }
    }
    for (const up of this.retired) if (up.active === 0) this.retired.delete(up);
  }

  setHealth(table: HealthTable): void {
    this.health = table;
    for (const [name, up] of this.services) up.setHealth(table[name]);
  }

  /** Per service, per server key: requests in flight and upstream connections open in this worker. */
  stats(): Record<string, Record<string, { activeRequests: number; activeConnections: number; drainingUntil?: number }>> {
    const out: Record<string, Record<string, { activeRequests: number; activeConnections: number; drainingUntil?: number }>> = {};
    for (const [name, up] of this.services) out[name] = up.stats();
    return out;
  }

  /** Per service, per server key: upstream connections by state (diagnostics and tests). */
  connectionStates(): Record<string, Record<string, UpstreamConnectionStates>> {
    const out: Record<string, Record<string, UpstreamConnectionStates>> = {};
    for (const [name, up] of this.services) out[name] = up.connectionStates();
    return out;
  }

  /** Requests and tunnels in flight, including to removed services. */
  get active(): number {
    let n = 0;
    for (const up of this.services.values()) n += up.active;
    for (const up of this.retired) n += up.active;
    return n;
  }

  /** Waits up to `graceMs` for in-flight requests, then aborts the rest and closes every pool. */
  async close(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (this.active > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
    const reason = codedError("shutting down", ErrorCodes.shutdown);
    const all = [...this.services.values(), ...this.retired];
    this.services.clear();
    this.retired.clear();
    await Promise.all(all.map((up) => up.destroy(reason)));
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  handle(req: ClientRequest, listener: ListenerSnapshot): void {
    const startedAt = monotonicMs();
    const up = this.services.get(listener.service);
    if (!up) return this.finish(req, listener, listener.service, undefined, 503, errorBodies.noService(listener.service), startedAt, false, "no_service");
    const target = requestTarget(req.url);
    const path = target?.path;
    const hdr = this.upstreamHead(req, path ?? "", target?.authority, listener, up);
    if (!hdr.ok) return this.finish(req, listener, up.service.name, undefined, 400, errorBodies.badRequest(hdr.reason), startedAt, true, "bad_request");
    if (!hdr.hasHost && req.versionMinor >= 1) {
      return this.finish(req, listener, up.service.name, undefined, 400, errorBodies.badRequest("missing Host header"), startedAt, true, "bad_request");
    }
    if (path === undefined) return this.finish(req, listener, up.service.name, undefined, 400, errorBodies.badRequest("invalid request target"), startedAt, true, "bad_request");
    const logged = this.access.sampled(listener);
    let head = hdr.head;
    let requestId = "";
    if (logged) {
      // The id the line carries reaches the server too, so both sides' logs can be joined.
      requestId = field(req, X_REQUEST_ID, "x-request-id") ?? "";
      if (requestId === "") head += `x-request-id: ${(requestId = newRequestId())}\r\n`;
    }
    const ctx: RequestContext = { req, listener, up, clientIp: hdr.clientIp, head, hostless: !hdr.hasHost, startedAt, excluded: undefined, attempts: 0, logged, requestId, exchange: undefined, attemptAt: -1 };
    const { server, setCookie } = this.choose(req, up, hdr.clientIp, hdr.cookies);
    if (!server) return this.noServer(ctx);
    this.attempt(ctx, server, setCookie);
  }

  handleUpgrade(req: ClientRequest, socket: Socket, head: Buffer, pipeTo: (upstream: Socket) => void, listener: ListenerSnapshot): void {
    socket.on("error", () => socket.destroy());
    const up = this.services.get(listener.service);
    if (!up) return rejectSocket(socket, 503, errorBodies.noService(listener.service));
    const upgrade = req.header("upgrade") ?? "";
    const hdr = requestHeaders(req.rawHeaders, req.chunked, forwardContext(socket, listener, up), ["connection", "upgrade", "upgrade", upgrade]);
    if (!hdr.ok) return rejectSocket(socket, 400, errorBodies.badRequest(hdr.reason));
    const clientIp = hdr.clientIp;
    const excluded = new Set<string>();
    const tryServer = (server: ServerSnapshot | undefined): void => {
      if (!server) {
        this.count(listener, up.service.name, undefined, excluded.size > 0 ? 502 : 503);
        return rejectSocket(socket, excluded.size > 0 ? 502 : 503, excluded.size > 0 ? errorBodies.unreachable(up.service.name) : errorBodies.noServer(up.service.name));
      }
      connectUpstream(server, this.limits.upstreamConnectTimeoutMs).then(
        (upstream) => {
          if (socket.destroyed) return void upstream.destroy();
          const tunnel: InFlight = { abort: () => (upstream.destroy(), socket.destroy()), inflightSlot: -1 };
          const tracked = up.track(server, tunnel);
          this.count(listener, up.service.name, server, "upgrade");
          splice(req.method, req.url, socket, head, upstream, hdr.headers, pipeTo, () => up.untrack(tracked, tunnel));
        },
        (err: NodeJS.ErrnoException) => {
          this.log.warn({ service: up.service.name, server: serverLabel(server.address, server.port), err: err.code ?? err.message }, "upgrade: server unreachable");
          excluded.add(server.key);
          if (socket.destroyed) return;
          tryServer(excluded.size < this.limits.maxAttempts ? up.picker.pickExcluding(clientIp, excluded) : undefined);
        },
      );
    };
    tryServer(this.choose(req, up, clientIp).server);
  }

  /**
   * The request head to send upstream: from slices of the client's text when the fast path parsed
   * it and its Connection header names no other header, else field by field.
   */
  private upstreamHead(req: ClientRequest, path: string, authority: string | undefined, listener: ListenerSnapshot, up: ServiceUpstreams): ForwardedHead {
    const ctx = forwardContext(req.socket, listener, up);
    // The fast path takes origin-form targets only: an absolute-form one always comes this way.
    if (req.fast?.plain) return forwardHead(req.fast, path, ctx);
    const hdr = requestHeaders(req.rawHeaders, req.chunked, ctx, undefined, authority);
    if (!hdr.ok) return hdr;
    return { ok: true, head: requestLines(req.method, path, hdr.headers), hasHost: hdr.hasHost, clientIp: hdr.clientIp, cookies: undefined };
  }

  /**
   * The cookie's server if it is usable, else a fresh pick (and the cookie must be (re)set).
   * `cookies`: the request's Cookie fields, if `upstreamHead` collected them.
   */
  private choose(req: ClientRequest, up: ServiceUpstreams, clientIp: string, cookies: readonly string[] = req.rawHeaders): { server: ServerSnapshot | undefined; setCookie: boolean } {
    const persistence = up.service.sessionPersistence;
    if (persistence?.type === "insert-cookie") {
      const id = readCookie(cookies, up.cookieName);
      const sticky = id ? up.picker.byId(id) : undefined;
      if (sticky && up.picker.isUsable(sticky.key)) return { server: sticky, setCookie: false };
      return { server: up.picker.pick(clientIp), setCookie: true };
    }
    return { server: up.picker.pick(clientIp), setCookie: false };
  }

  private attempt(ctx: RequestContext, server: ServerSnapshot, setCookie: boolean): void {
    ctx.attempts++;
    const { req, up } = ctx;
    const svc = up.service;
    const extra: string[] = [];
    if (setCookie && svc.sessionPersistence?.type === "insert-cookie") {
      extra.push("Set-Cookie", setCookieValue(svc.name, server.id, svc.sessionPersistence.cookieTimeout, ctx.listener.protocol === "https"));
    }
    const head = ctx.hostless ? `${ctx.head}host: ${net.isIPv6(server.address) ? `[${server.address}]` : server.address}:${server.port}\r\n` : ctx.head;
    // Settles only after `start` (the pool answers), so `upstream` is set by then.
    const exchange: Exchange = new Exchange(req, head, extra, this.limits, (outcome) => {
      up.untrack(upstream, exchange);
      this.settle(ctx, server, outcome);
    });
    const upstream = up.track(server, exchange);
    if (ctx.logged) {
      ctx.exchange = exchange;
      ctx.attemptAt = monotonicMs();
    }
    exchange.start(up.pool(server, upstream));
  }

  private settle(ctx: RequestContext, server: ServerSnapshot, outcome: ExchangeOutcome): void {
    const { listener, up, req } = ctx;
    const name = up.service.name;
    switch (outcome.kind) {
      case "done":
        this.observe(ctx, server, outcome.status, "normal");
        return;
      case "client-gone":
        this.observe(ctx, server, 499, "client_closed");
        return;
      case "broken":
        this.log.warn({ service: name, server: serverLabel(server.address, server.port), err: errText(outcome.error) }, "response cut: server connection failed mid-response");
        this.observe(ctx, server, outcome.status, "server_closed");
        return;
    }
    const err = outcome.error as NodeJS.ErrnoException;
    const code = err.code ?? "";
    const retryable =
      !req.headersSent &&
      !req.bodyStarted &&
      code !== ErrorCodes.drained &&
      code !== ErrorCodes.shutdown &&
      (outcome.kind === "not-sent" || (!req.hasBody && IDEMPOTENT.has(req.method) && CONNECTION_ERRORS.has(code) && code !== ErrorCodes.upstreamConnectTimeout));
    if (retryable) {
      this.log.warn({ service: name, server: serverLabel(server.address, server.port), err: errText(err) }, "server unreachable, trying another");
      const excluded = (ctx.excluded ??= new Set());
      excluded.add(server.key);
      const next = ctx.attempts < this.limits.maxAttempts ? up.picker.pickExcluding(ctx.clientIp, excluded) : undefined;
      if (next) return this.attempt(ctx, next, up.service.sessionPersistence?.type === "insert-cookie");
      return this.finish(req, listener, name, server, 502, errorBodies.unreachable(name), ctx.startedAt, false, outcome.kind === "not-sent" ? "connect_failed" : "server_closed", ctx);
    }
    if (code === ErrorCodes.upstreamHeadersTimeout) {
      return this.finish(req, listener, name, server, 504, errorBodies.timeout(name, this.limits.upstreamHeadersTimeoutMs), ctx.startedAt, false, "server_timeout", ctx);
    }
    if (code === ErrorCodes.drained) return this.finish(req, listener, name, server, 502, errorBodies.drained(name), ctx.startedAt, false, "drained", ctx);
    if (code === ErrorCodes.shutdown) return this.finish(req, listener, name, server, 503, "the balancer is shutting down", ctx.startedAt, true, "shutdown", ctx);
    this.log.warn({ service: name, server: serverLabel(server.address, server.port), err: errText(err) }, "server failed before responding");
    const connection = CONNECTION_ERRORS.has(code);
    const message = connection ? errorBodies.upstreamFailed(name) : errorBodies.badResponse(name);
    // A client still sending a body the server never read would desync the connection: close it.
    this.finish(req, listener, name, server, 502, message, ctx.startedAt, req.hasBody && !req.complete, connection ? (outcome.kind === "not-sent" ? "connect_failed" : "server_closed") : "bad_response", ctx);
  }

  private noServer(ctx: RequestContext): void {
    const name = ctx.up.service.name;
    const now = this.clock.now();
    if ((this.lastNoServerWarning.get(name) ?? 0) + 10_000 <= now) {
      this.lastNoServerWarning.set(name, now);
      this.log.warn({ service: name, listener: ctx.listener.name }, "no healthy server: answering 503");
    }
    this.finish(ctx.req, ctx.listener, name, undefined, 503, errorBodies.noServer(name), ctx.startedAt, false, "no_server", ctx);
  }

  private finish(
    req: ClientRequest,
    listener: ListenerSnapshot,
    service: string,
    server: ServerSnapshot | undefined,
    status: number,
    message: string,
    startedAt: number,
    close: boolean,
    termination: Termination,
    ctx?: RequestContext,
  ): void {
    req.sendError(status, message, close);
    this.record(listener, service, server, status, startedAt, req, termination, ctx);
  }

  private observe(ctx: RequestContext, server: ServerSnapshot, status: number, termination: Termination): void {
    this.record(ctx.listener, ctx.up.service.name, server, status, ctx.startedAt, ctx.req, termination, ctx);
  }

  /**
   * The access line of a request refused before it reached the proxy (malformed, too large, too
   * slow: answered by the client connection itself). What the request would have said (method,
   * host, path) was not read; its bytes in are what the connection read for it.
   */
  refused(listener: ListenerSnapshot, conn: ClientConnection, status: number): void {
    if (!listener.accessLog?.enabled || !this.access.sampled(listener)) return;
    const socket = conn.socket;
    this.access.write({
      listener: listener.name,
      client: endpoint(plainIp(socket.remoteAddress), socket.remotePort),
      method: "",
      host: "",
      path: "",
      status,
      bytesIn: socket.bytesRead - conn.countedIn,
      bytesOut: 0,
      service: listener.service,
      server: "",
      connectMs: -1,
      firstByteMs: -1,
      totalMs: -1,
      retries: 0,
      termination: status === 408 ? "client_timeout" : "bad_request",
      requestId: "",
    });
  }

  /** Counts an answered request and its duration; writes its access line if it has one. */
  private record(
    listener: ListenerSnapshot,
    service: string,
    server: ServerSnapshot | undefined,
    status: number,
    startedAt: number,
    req: ClientRequest,
    termination: Termination,
    ctx: RequestContext | undefined,
  ): void {
    const route = this.route(listener.name, service);
    route.count(server, status);
    const now = monotonicMs();
    route.duration.observe((now - startedAt) / 1000);
    if (!listener.accessLog?.enabled) return;
    // Every request of a logging listener moves the connection's byte cursors, sampled or not, so
    // a logged request counts only its own bytes.
    const conn = req.conn;
    const socket = conn.socket;
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    const bytesIn = read - conn.countedIn;
    const bytesOut = written - conn.countedOut;
    conn.countedIn = read;
    conn.countedOut = written;
    if (ctx ? !ctx.logged : !this.access.sampled(listener)) return;
    const ex = ctx?.exchange;
    this.access.write({
      listener: listener.name,
      client: endpoint(plainIp(socket.remoteAddress), socket.remotePort),
      method: req.method,
      host: field(req, HOST, "host") ?? "",
      path: loggedPath(requestTarget(req.url)?.path ?? req.url, listener.accessLog.includeQuery),
      status,
      bytesIn,
      bytesOut,
      service,
      server: server ? serverLabel(server.address, server.port) : "",
      connectMs: ex ? spanMs(ctx.attemptAt, ex.sentAt) : -1,
      firstByteMs: ex ? spanMs(ex.sentAt, ex.headAt) : -1,
      totalMs: spanMs(startedAt, now),
      retries: ctx ? Math.max(0, ctx.attempts - 1) : 0,
      termination,
      requestId: ctx?.requestId || (field(req, X_REQUEST_ID, "x-request-id") ?? newRequestId()),
    });
  }

  private count(listener: ListenerSnapshot, service: string, server: ServerSnapshot | undefined, code: number | string): void {
    this.route(listener.name, service).count(server, code);
  }

  /** The metric series of one listener → service route, built once (bench/profile.mjs: label keys per request cost 4%). */
  private route(listener: string, service: string): RouteSeries {
    let byService = this.routes.get(listener);
    if (!byService) this.routes.set(listener, (byService = new Map()));
    let route = byService.get(service);
    if (!route) byService.set(service, (route = new RouteSeries(this.metrics, listener, service)));
    return route;
  }
}

/** The request counters (per server key and code) and the duration histogram of one route. */
class RouteSeries {
  readonly duration: { observe(value: number): void };
  private readonly counters = new Map<string, Map<number | string, { inc(): void }>>();

  constructor(
    private readonly metrics: Metrics,
    private readonly listener: string,
    private readonly service: string,
  ) {
    this.duration = metrics.histogram(DURATION, DURATION_HELP, { listener, service });
  }

  count(server: ServerSnapshot | undefined, code: number | string): void {
    const key = server ? server.key : "";
    let byCode = this.counters.get(key);
    if (!byCode) this.counters.set(key, (byCode = new Map()));
    let c = byCode.get(code);
    if (!c) {
      const labels = { listener: this.listener, service: this.service, server: server ? serverLabel(server.address, server.port) : "", code: String(code) };
      byCode.set(code, (c = this.metrics.counter(REQUESTS, REQUESTS_HELP, labels)));
    }
    c.inc();
  }
}

function forwardContext(socket: Socket, listener: ListenerSnapshot, up: ServiceUpstreams): ForwardContext {
  return {
    clientIp: plainIp(socket.remoteAddress),
    localIp: plainIp(socket.localAddress),
    listenerProtocol: listener.protocol === "https" ? "https" : "http",
    listenerPort: listener.port,
    forwarded: up.service.forwardedHeaders,
    underscores: listener.underscoresInHeaders,
  };
}

/** A request header's value: from the head as read on the fast path (no field array built), else from the fields. */
function field(req: ClientRequest, pattern: RegExp, lowerName: string): string | undefined {
  if (req.fast) return pattern.exec(req.fast.head)?.[1];
  return req.header(lowerName);
}

function errText(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code ? `${code}: ${err.message}` : err.message;
}
