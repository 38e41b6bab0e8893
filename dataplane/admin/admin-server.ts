import type { IncomingMessage, ServerResponse } from "node:http";
import { hostname } from "node:os";
import { kindNames } from "../../model";
import { AdminError, isAdminError } from "../errors";
import type { Logger } from "../log";
import { Metrics } from "../metrics";
import type { TrafficRuntime } from "../runtime/traffic-runtime";
import type { ConfigStore } from "../store";
import { createAdminTransport } from "./admin-transport";
import { WWW_AUTHENTICATE, bearerAuth } from "./auth";
import { AdminRequest, errorReply, sendReply, type Reply } from "./http-io";
import { routeResolver } from "./routes";
import { statusRoutes } from "./status-routes";
import { awaitMinRevision, withRevision } from "./revision-headers";
import type { WriteReceipt } from "../store";

/**
 * The admin HTTP server: auth, routing, error mapping, one log line and metrics per request.
 * `/healthz` and `/metrics` are open (neither carries a secret); everything under `/v1` needs the
 * bearer token.
 *
 * The HTTP side is `node:http` with the admin's own limits (admin-transport.ts), apart from the
 * traffic engine: the admin API is a handful of requests, where a well-trodden server is worth more
 * than the engine's speed, and a change made for the proxies must not change what it accepts.
 */

export interface AdminServerOptions {
  store: ConfigStore;
  runtime: TrafficRuntime;
  /** The bearer token; never logged. */
  token: string;
  log: Logger;
  /** Shown on the status page; default: the host name. */
  replica?: string | undefined;
}

export interface AdminServer {
  /** Binds and resolves with the base URL (`http://127.0.0.1:9180`). */
  /**
   * `shared`: bind with SO_REUSEPORT, so a replica that replaces another (a rolling update of
   * containers on host networking) can take the admin port while the old one still answers. Only
   * for replicas on etcd, which all serve one configuration; a file store's port stays its own.
   */
  listen(host: string, port: number, shared?: boolean): Promise<string>;
  /** Stops accepting; in-flight requests get up to `graceMs`, then their connections are cut. */
  close(graceMs: number): Promise<void>;
}

const REQUESTS = "ballast_admin_requests_total";
const DURATION = "ballast_admin_request_duration_seconds";

/** Parses `host:port` (`[::1]:9180` for IPv6). Port 0 picks a free port. Throws a readable Error. */
export function parseHostPort(value: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new Error(`'${value}' is not host:port (e.g. 127.0.0.1:9180, [::1]:9180; port 0-65535)`);
  return { host: (match[1] ?? match[2]) as string, port };
}

export function createAdminServer(options: AdminServerOptions): AdminServer {
  const { store, runtime, log } = options;
  const authorized = bearerAuth(options.token);
  const metrics = new Metrics();

  const renderMetrics = async (): Promise<string> => {
    const out = new Metrics();
    out.merge(metrics.dump());
    try {
      for (const dump of await runtime.metrics()) out.merge(dump);
    } catch (err) {
      log.warn({ err }, "runtime metrics unavailable; rendering the admin metrics only");
    }
    const counts = store.counts();
    for (const kind of kindNames) out.set("ballast_objects", "Objects in the configuration, by kind.", { kind }, counts[kind]);
    store.collectMetrics(out);
    return out.render();
  };
  const pages = statusRoutes({ store, runtime, token: options.token, replica: options.replica ?? hostname() });
  const resolve = routeResolver({ store, runtime, renderMetrics, statusRoutes: pages });

  async function respond(req: AdminRequest, pathname: string): Promise<{ template: string; reply: Reply }> {
    const route = resolve(pathname);
    try {
      if (route.auth && !authorized(req.header("authorization"))) throw new AdminError("unauthorized", undefined, undefined, WWW_AUTHENTICATE);
      const allowed = Object.keys(route.methods);
      if (allowed.length === 0) throw new AdminError("not_found", `no route ${pathname}`);
      const handler = route.methods[req.method];
      if (!handler) {
        throw new AdminError("method_not_allowed", `${req.method} is not allowed on ${route.template}; use ${allowed.join(", ")}`, undefined, {
          allow: allowed.join(", "),
        });
      }
      const receipt: WriteReceipt = {};
      if (route.auth && req.method === "GET") await awaitMinRevision(store, req.header("ballast-min-revision"));
      const reply = await handler(req, receipt);
      return { template: route.template, reply: route.auth ? withRevision(store, reply, receipt) : reply };
    } catch (err) {
      const reply = isAdminError(err) ? errorReply(err) : errorReply(new AdminError("internal"));
      if (!isAdminError(err)) log.error({ err, method: req.method, path: pathname }, "admin request failed");
      const authenticated = route.auth && !(isAdminError(err) && err.code === "unauthorized");
      return { template: route.template, reply: authenticated ? withRevision(store, reply, {}) : reply };
    }
  }

  const onRequest = (incoming: IncomingMessage, response: ServerResponse) => {
    const req = new AdminRequest(incoming, response);
    const started = process.hrtime.bigint();
    // Only the path is ever logged or labelled: never the query string or a header.
    const pathname = req.url.split("?")[0] || "/";
    let template = "unmatched";
    let counted = false;
    const count = (status: number) => {
      if (counted) return;
      counted = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const method = req.method;
      metrics.inc(REQUESTS, "Admin API requests, by method, route and status.", { method, route: template, status: String(status) });
      metrics.observe(DURATION, "Admin API request latency in seconds, by method and route.", { method, route: template }, seconds);
      log.info({ method, path: pathname, status, ms: Math.round(seconds * 1e4) / 10 }, "admin request");
    };
    req.onGone(() => count(499));
    respond(req, pathname).then(
      (answer) => {
        template = answer.template;
        if (req.gone) return count(499);
        sendReply(req, answer.reply);
        count(answer.reply.status);
      },
      (err) => {
        log.error({ err }, "admin request failed");
        incoming.socket.destroy();
        count(499);
      },
    );
  };

  const transport = createAdminTransport({
    request: onRequest,
    refused: (code, status) => log.debug({ code, status }, "admin client error"),
  });

  return {
    listen: (host, port, shared = false) => transport.listen(host, port, shared),
    close: (graceMs) => transport.close(graceMs),
  };
}
