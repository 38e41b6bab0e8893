// The status page in a real headless Chromium (Debian's, driven by puppeteer-core) against a real
// data plane process and real origins: the login form, the server rows, an origin killed and its
// row turning `down` while nobody reloads the page, and nothing of the configuration shown before
// the login. With BALLAST_UPDATE_SCREENSHOT=1 it also saves the page to docs/status-page.png.
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, assertChromium, findChromium } from "../helpers/chromium";
import { startDataplane, type Dataplane } from "../helpers/dataplane-process";
import { startOrigin, type Origin } from "../helpers/origin";
import { freePort } from "../helpers/ports";
import { admin } from "../helpers/runtime-harness";
import { repoRoot } from "../helpers/toolchain";

const chromium = findChromium();
if (chromium.skip) console.warn(`[status-page-browser] skipping outside CI: ${chromium.reason}`);

interface Row {
  server: string;
  state: string;
  text: string;
}

describe.skipIf(chromium.skip)("status page in a real browser", () => {
  let dp: Dataplane;
  let origins: Origin[] = [];
  let browser: Browser | undefined;
  let page: Page;
  let listenerPort: number;
  const violations: string[] = [];

  const rows = (): Promise<Row[]> =>
    page.$$eval("tr[data-server]", (trs) =>
      trs.map((tr) => ({ server: tr.getAttribute("data-server") ?? "", state: tr.getAttribute("data-state") ?? "", text: (tr as HTMLElement).innerText })),
    );

  beforeAll(async () => {
    assertChromium(chromium);
    origins = await Promise.all(["alpha", "bravo", "charlie"].map((n) => startOrigin(n)));
    dp = await startDataplane({ env: { BALLAST_REPLICA_NAME: "edge-1" } });
    const api = admin(dp);
    listenerPort = await freePort();
    await api.create("server-groups", {
      name: "web-pool",
      type: "virtual",
      servers: origins.map((o, i) => ({ address: "127.0.0.1", port: o.port, weight: i === 2 ? 0 : 100, description: o.name })),
    });
    await api.create("backend-services", { name: "web", protocol: "http", port: origins[0]!.port, serverGroup: "web-pool" });
    await api.create("health-checks", { name: "web-check", backendService: "web", protocol: "HTTP", path: "/health", interval: 5, timeout: 2, unhealthyThreshold: 1, healthyThreshold: 1 });
    await api.create("listeners", { name: "public-http", protocol: "http", port: listenerPort, backendService: "web" });
    browser = await puppeteer.launch({ executablePath: chromium.path, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 520 });
    // Records every Content-Security-Policy violation (injected by the DevTools protocol, outside the page's CSP).
    await page.evaluateOnNewDocument(() => {
      document.addEventListener("securitypolicyviolation", (e) => ((window as unknown as { __csp: string[] }).__csp ??= []).push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber} ${e.sample}`));
    });
    page.on("console", (m) => {
      if (/Content.Security.Policy/i.test(m.text())) violations.push(m.text());
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await dp?.stop();
    await Promise.all(origins.map((o) => o.close()));
  });

  it("shows an unauthenticated visitor only the login form, without any server address", async () => {
    const res = await page.goto(`${dp.url}/`, { waitUntil: "load" });
    expect(res?.status()).toBe(401);
    expect(await page.$("form.login input[name=token][type=password]")).not.toBeNull();
    const text = await page.evaluate(() => document.documentElement.outerHTML);
    expect(text).not.toContain("127.0.0.1");
    for (const o of origins) expect(text).not.toContain(String(o.port));
    expect(await page.$$("tr[data-server]")).toHaveLength(0);
  });

  it("logs in through the form and shows a row per server, states in words", async () => {
    await page.type("input[name=token]", dp.token);
    await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("form.login button[type=submit]")]);
    expect(page.url()).toBe(`${dp.url}/`);
    await page.waitForFunction(() => document.querySelectorAll('tr[data-server][data-state="up"]').length === 2, { timeout: 30_000, polling: 200 });
    const shown = await rows();
    expect(shown.map((r) => r.server).sort()).toEqual(origins.map((o) => `127.0.0.1:${o.port}`).sort());
    const byPort = (o: Origin) => shown.find((r) => r.server === `127.0.0.1:${o.port}`)!;
    expect(byPort(origins[0]!)).toMatchObject({ state: "up" });
    expect(byPort(origins[0]!).text).toContain("up");
    expect(byPort(origins[2]!)).toMatchObject({ state: "weight 0" });
    expect(byPort(origins[2]!).text).toContain("weight 0");
    expect(await page.$eval("#replica", (b) => b.textContent)).toBe("edge-1");
    // The session cookie is HttpOnly: no script on the page can read it.
    expect(await page.evaluate(() => document.cookie)).toBe("");
  });

  it("turns a killed origin's row to down by itself, without a reload", async () => {
    for (let i = 0; i < 12; i++) await fetch(`http://127.0.0.1:${listenerPort}/`).then((r) => r.text());
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
    const victim = `127.0.0.1:${origins[1]!.port}`;
    await origins[1]!.kill();
    await page.waitForFunction((server: string) => document.querySelector(`tr[data-server="${server}"]`)?.getAttribute("data-state") === "down", { timeout: 45_000, polling: 250 }, victim);
    // Still the same document: the page refreshed its rows itself.
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    const row = (await rows()).find((r) => r.server === victim)!;
    expect(row.text).toMatch(/\bdown\b/);
    expect(row.text).toMatch(/failed: /);
    expect(await page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? [])).toEqual([]);
    expect(violations).toEqual([]);
    if (process.env.BALLAST_UPDATE_SCREENSHOT === "1") {
      await page.screenshot({ path: join(repoRoot, "docs", "status-page.png"), fullPage: true });
    }
  });

  it("after logging out shows the login form again", async () => {
    await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click('form[action="/logout"] button')]);
    expect(await page.$("form.login")).not.toBeNull();
    expect(await page.evaluate(() => document.documentElement.outerHTML)).not.toContain("127.0.0.1");
  });
});
