import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { kindNames } from "../../model";
import { AdminError, isAdminError } from "../errors";
import type { Logger } from "../log";
import { Metrics } from "../metrics";
import type { TrafficRuntime } from "../runtime/traffic-runtime";
import type { Store } from "../store";
import { WWW_AUTHENTICATE, bearerAuth } from "./auth";
import { errorReply, sendReply, type Reply } from "./http-io";
import { routeResolver } from "./routes";

/**
 * The admin HTTP server: auth, routing, error mapping, one log line and metrics per request.
 * `/healthz` and `/metrics` are open (neither carries a secret); everything under `/v1` needs the
 * bearer token.
 */

export interface AdminServerOptions {
  store: Store;
  runtime: TrafficRuntime;
  /** The bearer token; never logged. */
  token: string;
  log: Logger;
}

export interface AdminServer {
  /** Binds and resolves with the base URL (`http://127.0.0.1:9180`). */
  listen(host: string, port: number): Promise<string>;
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
    out.set("ballast_config_generation", "Generation of the configuration snapshot last applied.", undefined, store.generation);
    return out.render();
  };
  const resolve = routeResolver({ store, runtime, renderMetrics });

  async function respond(req: IncomingMessage, pathname: string): Promise<{ template: string; reply: Reply }> {
    const route = resolve(pathname);
    try {
      if (route.auth && !authorized(req.headers.authorization)) throw new AdminError("unauthorized", undefined, undefined, WWW_AUTHENTICATE);
      const allowed = Object.keys(route.methods);
      if (allowed.length === 0) throw new AdminError("not_found", `no route ${pathname}`);
      const handler = route.methods[req.method ?? ""];
      if (!handler) {
        throw new AdminError("method_not_allowed", `${req.method} is not allowed on ${route.template}; use ${allowed.join(", ")}`, undefined, {
          allow: allowed.join(", "),
        });
      }
      return { template: route.template, reply: await handler(req) };
    } catch (err) {
      if (isAdminError(err)) return { template: route.template, reply: errorReply(err) };
      log.error({ err, method: req.method, path: pathname }, "admin request failed");
      return { template: route.template, reply: errorReply(new AdminError("internal")) };
    }
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    // Only the path is ever logged or labelled: never the query string or a header.
    const pathname = (req.url ?? "/").split("?")[0] ?? "/";
    let template = "unmatched";
    res.once("close", () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const method = req.method ?? "";
      const status = res.writableFinished ? res.statusCode : 499;
      metrics.inc(REQUESTS, "Admin API requests, by method, route and status.", { method, route: template, status: String(status) });
      metrics.observe(DURATION, "Admin API request latency in seconds, by method and route.", { method, route: template }, seconds);
      log.info({ method, path: pathname, status, ms: Math.round(seconds * 1e4) / 10 }, "admin request");
    });
    respond(req, pathname).then(
      (answer) => {
        template = answer.template;
        sendReply(req, res, answer.reply);
      },
      (err) => {
        log.error({ err }, "admin request failed");
        res.destroy();
      },
    );
  };

  const server: Server = createServer({ requestTimeout: 60_000, headersTimeout: 20_000, keepAliveTimeout: 5_000 }, onRequest);

  return {
    listen(host, port) {
      return new Promise((resolveUrl, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const address = server.address() as AddressInfo;
          const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
          resolveUrl(`http://${shown}:${address.port}`);
        });
      });
    },
    async close(graceMs) {
      if (!server.listening) return;
      const closed = new Promise<void>((done) => server.close(() => done()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<void>((done) => (timer = setTimeout(done, graceMs)));
      await Promise.race([closed, expired]);
      clearTimeout(timer);
      server.closeAllConnections();
      await closed;
    },
  };
}
