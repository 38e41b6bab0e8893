import { describe, expect, it } from "vitest";
import { ago, contentSecurityPolicy, renderLoginPage, renderStatusPage } from "../../../dataplane/admin/status-page";
import { stateOf, type StatusReport, type StatusServer } from "../../../dataplane/admin/status-report";
import type { ServerStatus } from "../../../dataplane/runtime/traffic-runtime";

const AT = "2026-01-01T12:00:00.000Z";
const NOW = Date.parse(AT);

const line = (patch: Partial<ServerStatus> = {}): ServerStatus => ({
  address: "10.0.0.1",
  port: 80,
  weight: 100,
  effectiveWeight: 100,
  health: "healthy",
  lastCheck: null,
  activeConnections: 0,
  activeRequests: 0,
  since: AT,
  ...patch,
});

describe("stateOf", () => {
  it.each([
    ["draining beats everything while something drains", line({ health: "unhealthy", weight: 0, draining: true, drainingUntil: new Date(NOW + 41_200).toISOString() }), "draining", "draining 42s left"],
    ["down when the health check failed", line({ health: "unhealthy", effectiveWeight: 0 }), "down", "down"],
    ["weight 0 when configured so and nothing drains", line({ weight: 0, effectiveWeight: 0 }), "weight 0", "weight 0"],
    ["slow start with its percentage", line({ effectiveWeight: 40, slowStart: 40 }), "slow start", "slow start 40%"],
    ["up when healthy", line(), "up", "up"],
    ["up when not checked", line({ health: "unchecked" }), "up", "up"],
  ] as const)("%s", (_name, status, state, text) => {
    expect(stateOf(status, NOW)).toEqual({ state, stateText: text });
  });
});

describe("renderStatusPage", () => {
  const server = (patch: Partial<StatusServer>): StatusServer => ({ ...line(), server: "10.0.0.1:80", state: "up", stateText: "up", requestsPerSecond: 1.5, errorsPerSecond: 0, ...patch });
  const report: StatusReport = {
    replica: "edge<1>",
    generation: 7,
    at: AT,
    listeners: [{ name: "front", protocol: "http", port: 8080, service: "web" }],
    services: [
      {
        name: "web",
        protocol: "http",
        scheduler: "wrr",
        healthCheck: "web-check",
        serverGroup: "pool",
        servers: [
          server({ lastCheck: { at: AT, ok: false, reason: "<script>alert(1)</script>", ms: 4 }, state: "down", stateText: "down" }),
          server({ server: "10.0.0.2:80", address: "10.0.0.2", requestsPerSecond: null, errorsPerSecond: null }),
        ],
      },
      { name: "spare", protocol: "tcp", scheduler: "wlc", healthCheck: null, serverGroup: null, servers: [] },
    ],
  };
  const html = renderStatusPage(report, "NONCE", { logout: true });

  it("escapes every text it shows", () => {
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).toContain("failed: &#60;script&#62;alert(1)&#60;/script&#62; in 4 ms, just now");
    expect(html).toContain("edge&#60;1&#62;");
  });

  it("writes each state in words and as data-state, and a dash for rates not measured yet", () => {
    expect(html).toMatch(/<tr data-server="10.0.0.1:80" data-state="down">.*<span class="state s-down">down<\/span>/);
    expect(html).toMatch(/<tr data-server="10.0.0.2:80" data-state="up">.*<td class="num">–<\/td><td class="num">–<\/td>/);
  });

  it("lists services without a listener after the listeners, and puts the nonce on its script and style", () => {
    expect(html.indexOf('data-listener="front"')).toBeLessThan(html.indexOf('data-service="spare"'));
    expect(html).toContain("no listener");
    expect(html).toContain('<script nonce="NONCE">');
    expect(html).toContain('<style nonce="NONCE">');
    expect(html).toContain('<noscript><meta http-equiv="refresh" content="5"></noscript>');
  });

  it("the login page has a form and no script", () => {
    const login = renderLoginPage("N", "That is not the admin token.");
    expect(login).toContain('method="post" action="/login"');
    expect(login).not.toContain("<script");
    expect(login).toContain('role="alert">That is not the admin token.');
  });

  it("the policy allows nothing but the nonce and this origin", () => {
    expect(contentSecurityPolicy("N")).toBe("default-src 'none'; script-src 'nonce-N'; style-src 'nonce-N'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  });
});

describe("ago", () => {
  it.each([
    [0, "just now"],
    [42_000, "42s ago"],
    [300_000, "5m ago"],
    [3 * 3600_000, "3h ago"],
    [3 * 86_400_000, "3d ago"],
  ])("%i ms → %s", (ms, text) => expect(ago(NOW - ms, NOW)).toBe(text));
});
