import { isKind, kinds, type Kind } from "../../model";
import { AdminError } from "../errors";
import type { TrafficRuntime } from "../runtime/traffic-runtime";
import type { ConfigStore, WriteReceipt } from "../store";
import { readJson, type AdminRequest, type Reply } from "./http-io";

/**
 * The admin API's routes (docs/admin-api.md). `resolveRoute` maps a path to its route: a template
 * (the metrics label, never the raw path), whether it needs the bearer token, and a handler per
 * method. Everything under `/v1` needs the token, including paths that match no route, so an
 * unauthenticated client learns nothing about what exists.
 */

/** `receipt` gets the revision a write committed at (`Ballast-Revision`). */
export type Handler = (req: AdminRequest, receipt: WriteReceipt) => Promise<Reply>;

export interface Route {
  /** e.g. `/v1/listeners/:name`; `unmatched` for paths that match no route. */
  template: string;
  auth: boolean;
  /** Handlers by method; empty for an unmatched path (404). */
  methods: Readonly<Record<string, Handler>>;
}

export interface RouteDeps {
  store: ConfigStore;
  runtime: TrafficRuntime;
  /** Renders `GET /metrics`. */
  renderMetrics: () => Promise<string>;
  /** The status page's routes (`/`, `/login`, `/logout`, `/v1/status`; status-routes.ts), looked up first. */
  statusRoutes?: (pathname: string) => Route | undefined;
}

const etag = (version: number) => ({ etag: `"${version}"` });

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function routeResolver(deps: RouteDeps): (pathname: string) => Route {
  const { store, runtime } = deps;
  const unmatched = (auth: boolean): Route => ({ template: "unmatched", auth, methods: {} });

  const collection = (kind: Kind): Route => ({
    template: `/v1/${kind}`,
    auth: true,
    methods: {
      GET: async () => ({ status: 200, json: { items: store.list(kind) } }),
      POST: async (req, receipt) => {
        const stored = await store.create(kind, await readJson(req), receipt);
        return { status: 201, json: stored, headers: { location: `/v1/${kind}/${stored.name}`, ...etag(stored.version) } };
      },
    },
  });

  const item = (kind: Kind, name: string): Route => ({
    template: `/v1/${kind}/:name`,
    auth: true,
    methods: {
      GET: async () => {
        const stored = store.get(kind, name);
        if (!stored) throw new AdminError("not_found", `no ${kinds[kind].title} named '${name}'`);
        return { status: 200, json: stored, headers: etag(stored.version) };
      },
      PUT: async (req, receipt) => {
        const body = await readJson(req);
        const stored = await store.replace(kind, name, body, req.header("if-match"), receipt);
        return { status: 200, json: stored, headers: etag(stored.version) };
      },
      DELETE: async (_req, receipt) => {
        await store.remove(kind, name, receipt);
        return { status: 204 };
      },
    },
  });

  const status = (name: string): Route => ({
    template: "/v1/backend-services/:name/status",
    auth: true,
    methods: {
      GET: async () => {
        if (!store.get("backend-services", name)) throw new AdminError("not_found", `no BackendService named '${name}'`);
        return { status: 200, json: { service: name, servers: await runtime.serviceStatus(name) } };
      },
    },
  });

  const server = (address: string): Route => ({
    template: "/v1/servers/:address",
    auth: true,
    methods: { GET: async () => ({ status: 200, json: store.usage(address) }) },
  });

  const replica: Route = {
    template: "/v1/replica",
    auth: true,
    methods: { GET: async () => ({ status: 200, json: store.replica() }) },
  };

  const healthz: Route = { template: "/healthz", auth: false, methods: { GET: async () => ({ status: 200, json: { status: "ok" } }) } };
  const metrics: Route = {
    template: "/metrics",
    auth: false,
    methods: {
      GET: async () => ({ status: 200, text: { contentType: "text/plain; version=0.0.4; charset=utf-8", body: await deps.renderMetrics() } }),
    },
  };

  return (pathname) => {
    const page = deps.statusRoutes?.(pathname);
    if (page) return page;
    if (pathname === "/healthz") return healthz;
    if (pathname === "/metrics") return metrics;
    const parts = pathname.split("/");
    if (parts[1] !== "v1") return unmatched(false);
    const [, , first = "", second, third] = parts;
    const arg = second ? decodeSegment(second) : undefined;
    if (parts.length === 3 && isKind(first)) return collection(first);
    if (parts.length === 3 && first === "replica") return replica;
    if (parts.length === 4 && arg !== undefined) {
      if (isKind(first)) return item(first, arg);
      if (first === "servers") return server(arg);
    }
    if (parts.length === 5 && arg !== undefined && first === "backend-services" && third === "status") return status(arg);
    return unmatched(true);
  };
}
