import { randomBytes } from "node:crypto";
import type { TrafficRuntime } from "../runtime/traffic-runtime";
import type { ConfigStore } from "../store";
import { bearerAuth, tokenMatches, WWW_AUTHENTICATE } from "./auth";
import { readBody, type AdminRequest, type Reply } from "./http-io";
import type { Route } from "./routes";
import { ServerRates } from "./server-rates";
import { CLEAR_SESSION_COOKIE, Sessions } from "./session";
import { pageHeaders, renderLoginPage, renderStatusPage } from "./status-page";
import { buildStatusReport } from "./status-report";

/**
 * The status page's routes (docs/operators.md):
 *
 * - `GET /`: the page, for a valid session cookie or the bearer token; anything else gets the
 *   login form (401) and nothing about the configuration.
 * - `POST /login` (form field `token`): the right token sets the session cookie and redirects to
 *   `/` (303); a wrong one gets the form again with a message (401).
 * - `POST /logout`: clears the cookie, redirects to `/`.
 * - `GET /v1/status`: the same report as JSON, bearer token only (what `ballast status` reads).
 */

export interface StatusRouteDeps {
  store: ConfigStore;
  runtime: TrafficRuntime;
  token: string;
  /** Shown on the page: BALLAST_REPLICA_NAME or the host name. */
  replica: string;
}

const HTML = "text/html; charset=utf-8";

export function statusRoutes(deps: StatusRouteDeps): (pathname: string) => Route | undefined {
  const sessions = new Sessions(deps.token);
  const bearer = bearerAuth(deps.token);
  const matches = tokenMatches(deps.token);
  const rates = new ServerRates();
  const report = () => buildStatusReport({ store: deps.store, runtime: deps.runtime, replica: deps.replica, rates });

  const html = (status: number, body: (nonce: string) => string, headers: Record<string, string> = {}): Reply => {
    const nonce = randomBytes(18).toString("base64");
    return { status, text: { contentType: HTML, body: body(nonce) }, headers: { ...pageHeaders(nonce), ...headers } };
  };
  const login = (message?: string) => html(401, (nonce) => renderLoginPage(nonce, message), { ...WWW_AUTHENTICATE });

  const root: Route = {
    template: "/",
    auth: false,
    methods: {
      GET: async (req: AdminRequest) => {
        const byCookie = sessions.valid(req.header("cookie"));
        if (!byCookie && !bearer(req.header("authorization"))) return login();
        const current = await report();
        return html(200, (nonce) => renderStatusPage(current, nonce, { logout: byCookie }));
      },
    },
  };

  const loginRoute: Route = {
    template: "/login",
    auth: false,
    methods: {
      POST: async (req: AdminRequest) => {
        const form = new URLSearchParams((await readBody(req, 8192)).toString("utf8"));
        const token = form.get("token") ?? "";
        if (token === "" || !matches(token)) return login("That is not the admin token.");
        return { status: 303, headers: { location: "/", "set-cookie": sessions.setCookie(), "cache-control": "no-store" } };
      },
    },
  };

  const logout: Route = {
    template: "/logout",
    auth: false,
    methods: { POST: async () => ({ status: 303, headers: { location: "/", "set-cookie": CLEAR_SESSION_COOKIE, "cache-control": "no-store" } }) },
  };

  const json: Route = {
    template: "/v1/status",
    auth: true,
    methods: { GET: async () => ({ status: 200, json: await report() }) },
  };

  return (pathname) => {
    if (pathname === "/") return root;
    if (pathname === "/login") return loginRoute;
    if (pathname === "/logout") return logout;
    if (pathname === "/v1/status") return json;
    return undefined;
  };
}
