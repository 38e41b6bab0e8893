import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StatusReport, StatusServer } from "../../../dataplane/admin/status-report";
import { startDataplane, type Dataplane } from "../../helpers/dataplane-process";
import { admin, type Admin } from "../../helpers/runtime-harness";
import { startOrigin, type Origin } from "../../helpers/origin";
import { freePort } from "../../helpers/ports";

/**
 * The status page of a real data plane process, over real HTTP, with real origins and health checks:
 * the login, what an unauthenticated request can see, the headers, and every state in words.
 * (test/e2e/status-page-browser.test.ts drives the same page in a real browser.)
 */

const REPLICA = "replica-under-test";
let dp: Dataplane;
let api: Admin;
let origins: Origin[];
let listenerPort: number;

const label = (o: Origin) => `127.0.0.1:${o.port}`;

async function status(): Promise<StatusReport> {
  const res = await dp.api("/v1/status");
  expect(res.status).toBe(200);
  return (await res.json()) as StatusReport;
}

function row(report: StatusReport, o: Origin): StatusServer | undefined {
  return report.services.find((s) => s.name === "web")?.servers.find((s) => s.server === label(o));
}

/** Polls `/v1/status` until `ok` holds for the origin's row (at most `timeoutMs`). */
async function waitForRow(o: Origin, ok: (s: StatusServer) => boolean, timeoutMs = 30_000): Promise<StatusServer> {
  const deadline = Date.now() + timeoutMs;
  let last: StatusServer | undefined;
  for (let i = 0; i < 200 && Date.now() < deadline; i++) {
    last = row(await status(), o);
    if (last && ok(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`row of ${label(o)} never matched; last: ${JSON.stringify(last)}`);
}

async function login(token: string): Promise<Response> {
  return fetch(`${dp.url}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token }).toString(),
  });
}

async function page(headers: Record<string, string>): Promise<{ res: Response; html: string }> {
  const res = await fetch(`${dp.url}/`, { headers });
  return { res, html: await res.text() };
}

beforeAll(async () => {
  origins = await Promise.all(["o1", "o2", "o3", "o4"].map((n) => startOrigin(n)));
  dp = await startDataplane({ env: { BALLAST_REPLICA_NAME: REPLICA } });
  api = admin(dp);
  listenerPort = await freePort();
  const servers = origins.slice(0, 3).map((o) => ({ address: "127.0.0.1", port: o.port }));
  await api.call("POST", "/v1/server-groups", { name: "g", type: "virtual", servers });
  await api.call("POST", "/v1/backend-services", { name: "web", protocol: "http", port: origins[0]!.port, serverGroup: "g", slowStart: 600 });
  await api.call("POST", "/v1/health-checks", { name: "web-check", backendService: "web", protocol: "HTTP", path: "/health", interval: 5, timeout: 2, unhealthyThreshold: 1, healthyThreshold: 1 });
  await api.call("POST", "/v1/listeners", { name: "front", protocol: "http", port: listenerPort, backendService: "web" });
  for (const o of origins.slice(0, 3)) await waitForRow(o, (s) => s.state === "up");
}, 90_000);

afterAll(async () => {
  await dp?.stop();
  await Promise.all((origins ?? []).map((o) => o.close()));
});

describe("status page: access", () => {
  it("shows an unauthenticated request only the login form: no server, service or listener name", async () => {
    const { res, html } = await page({});
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(html).toContain('<form class="login" method="post" action="/login">');
    for (const o of origins) expect(html).not.toContain(String(o.port));
    expect(html).not.toContain("127.0.0.1");
    expect(html).not.toContain("front");
    expect(html).not.toContain(REPLICA);
    expect(html).not.toContain("<table");
  });

  it("serves a strict Content-Security-Policy whose nonce is fresh per response and on every inline script and style", async () => {
    const token = `Bearer ${dp.token}`;
    const first = await page({ authorization: token });
    const second = await page({ authorization: token });
    const csp = first.res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/https?:|\*|'unsafe-inline'|'unsafe-eval'/);
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(second.res.headers.get("content-security-policy")).not.toContain(nonce!);
    const scripts = [...first.html.matchAll(/<script([^>]*)>/g)].map((m) => m[1]);
    expect(scripts.length).toBeGreaterThan(0);
    for (const attrs of scripts) expect(attrs).toBe(` nonce="${nonce}"`);
    for (const m of first.html.matchAll(/<style([^>]*)>/g)) expect(m[1]).toBe(` nonce="${nonce}"`);
    expect(first.html).not.toMatch(/\b(src|href)=/);
    expect(first.res.headers.get("cache-control")).toBe("no-store");
  });

  it("refuses a wrong token with the form again and no cookie", async () => {
    const res = await login("not-the-token-at-all-0000");
    expect(res.status).toBe(401);
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(await res.text()).toContain("That is not the admin token.");
  });

  it("logs in with the token: an HttpOnly, SameSite=Strict cookie that is not the token opens the page", async () => {
    const res = await login(dp.token);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/");
    const setCookie = res.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^ballast_session=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(setCookie).not.toContain(dp.token);
    const cookie = setCookie.split(";")[0]!;
    const { res: pageRes, html } = await page({ cookie });
    expect(pageRes.status).toBe(200);
    for (const o of origins.slice(0, 3)) expect(html).toContain(`data-server="${label(o)}"`);
    expect(html).toContain('action="/logout"');
    // The cookie opens the page only, never the API.
    expect((await fetch(`${dp.url}/v1/status`, { headers: { cookie } })).status).toBe(401);
    // A tampered cookie is a login form.
    expect((await page({ cookie: cookie.slice(0, -2) + (cookie.endsWith("A") ? "BB" : "AA") })).res.status).toBe(401);
  });

  it("logs out: the cookie is cleared", async () => {
    const res = await fetch(`${dp.url}/logout`, { method: "POST", redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("set-cookie")).toMatch(/^ballast_session=; Max-Age=0;/);
  });
});

describe("status page: what it shows", () => {
  it("names the replica and the configuration generation", async () => {
    const report = await status();
    expect(report.replica).toBe(REPLICA);
    expect(report.generation).toBe(4);
    const { html } = await page({ authorization: `Bearer ${dp.token}` });
    expect(html).toContain(`<b id="replica">${REPLICA}</b>`);
    expect(html).toContain('<b id="generation">4</b>');
    expect(report.listeners).toEqual([{ name: "front", protocol: "http", port: listenerPort, service: "web" }]);
  });

  it("shows each server's weights, last health check with its duration, and last change", async () => {
    const s = row(await status(), origins[0]!)!;
    expect(s).toMatchObject({ state: "up", stateText: "up", weight: 100, effectiveWeight: 100, health: "healthy" });
    expect(s.lastCheck).toMatchObject({ ok: true });
    expect(s.lastCheck!.ms).toBeGreaterThanOrEqual(0);
    expect(Date.parse(s.since!)).toBeLessThanOrEqual(Date.now());
    const { html } = await page({ authorization: `Bearer ${dp.token}` });
    expect(html).toMatch(new RegExp(`data-server="${label(origins[0]!)}" data-state="up">.*passed in \\d+ ms`));
  });

  it("counts requests per second from the traffic", async () => {
    await status();
    for (let i = 0; i < 30; i++) expect((await fetch(`http://127.0.0.1:${listenerPort}/`)).status).toBe(200);
    const report = await status();
    const total = origins.slice(0, 3).reduce((n, o) => n + (row(report, o)?.requestsPerSecond ?? 0), 0);
    expect(total).toBeGreaterThan(0);
    expect(row(report, origins[0]!)?.errorsPerSecond).toBe(0);
  });

  it("shows a server added to a serving group in slow start with its percentage", async () => {
    const servers = origins.map((o) => ({ address: "127.0.0.1", port: o.port }));
    await api.call("PUT", "/v1/server-groups/g", { name: "g", type: "virtual", servers });
    const s = await waitForRow(origins[3]!, (x) => x.state === "slow start");
    expect(s.stateText).toMatch(/^slow start \d{1,2}%$/);
    expect(s.effectiveWeight).toBeLessThan(100);
  });

  it("shows a weight-0 server with requests in flight as draining with the time left, then as weight 0", async () => {
    const held = Array.from({ length: 8 }, () => fetch(`http://127.0.0.1:${listenerPort}/hold`).then((r) => r.text()));
    const o3 = origins[2]!;
    for (let i = 0; i < 100 && o3.inFlight === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(o3.inFlight).toBeGreaterThan(0);
    const servers = origins.map((o) => ({ address: "127.0.0.1", port: o.port, weight: o === o3 ? 0 : 100 }));
    await api.call("PUT", "/v1/server-groups/g", { name: "g", type: "virtual", servers });
    const draining = await waitForRow(o3, (x) => x.state === "draining");
    expect(draining.stateText).toMatch(/^draining (29\d|300)s left$/);
    const { html } = await page({ authorization: `Bearer ${dp.token}` });
    expect(html).toMatch(new RegExp(`data-server="${label(o3)}" data-state="draining">.*draining \\d+s left`));
    for (const o of origins) o.release();
    await Promise.all(held);
    const idle = await waitForRow(o3, (x) => x.state === "weight 0");
    expect(idle.stateText).toBe("weight 0");
  });

  it("keeps a server removed from the group on the page while its requests drain, then drops it", async () => {
    const o1 = origins[0]!;
    const held = Array.from({ length: 8 }, () => fetch(`http://127.0.0.1:${listenerPort}/hold`).then((r) => r.text()));
    for (let i = 0; i < 100 && o1.inFlight === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(o1.inFlight).toBeGreaterThan(0);
    const servers = origins.filter((o) => o !== o1).map((o) => ({ address: "127.0.0.1", port: o.port, weight: o === origins[2] ? 0 : 100 }));
    await api.call("PUT", "/v1/server-groups/g", { name: "g", type: "virtual", servers });
    const removed = await waitForRow(o1, (x) => x.state === "draining");
    expect(removed).toMatchObject({ removed: true, weight: 0 });
    expect(removed.activeRequests).toBeGreaterThan(0);
    expect(removed.stateText).toMatch(/^draining \d+s left$/);
    for (const o of origins) o.release();
    await Promise.all(held);
    const deadline = Date.now() + 30_000;
    while (row(await status(), o1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(row(await status(), o1)).toBeUndefined();
  });

  it("shows a server whose health check fails as down, with the reason", async () => {
    const o2 = origins[1]!;
    await o2.kill();
    const s = await waitForRow(o2, (x) => x.state === "down");
    expect(s.stateText).toBe("down");
    expect(s.lastCheck).toMatchObject({ ok: false });
    expect(s.lastCheck!.reason.length).toBeGreaterThan(0);
    const { html } = await page({ authorization: `Bearer ${dp.token}` });
    expect(html).toMatch(new RegExp(`data-server="${label(o2)}" data-state="down">.*failed: `));
  });
});
