import { request } from "undici";
import { afterEach, describe, expect, test } from "vitest";
import { startOrigin, type Origin } from "../../../helpers/origin";
import { Harness, key, selfSignedCertificate, snapshotOf, type Cfg } from "./harness";

function setCookie(headers: Record<string, string | string[] | undefined>): string | undefined {
  const v = headers["set-cookie"];
  return Array.isArray(v) ? v.find((c) => c.startsWith("BALLAST_")) : v;
}

describe("cookie insertion", () => {
  const harnesses: Harness[] = [];
  const origins: Origin[] = [];
  afterEach(async () => {
    await Promise.all(harnesses.splice(0).map((h) => h.close()));
    await Promise.all(origins.splice(0).map((o) => o.close()));
  });

  async function setup(cookieTimeout = 3600, extra: Partial<Cfg> = {}) {
    const os = await Promise.all(["a", "b", "c"].map((n) => startOrigin(n)));
    origins.push(...os);
    const cfg: Cfg = {
      service: { sessionPersistence: { type: "insert-cookie", cookieTimeout } },
      servers: os.map((o) => ({ port: o.port })),
      ...extra,
    };
    const h = new Harness();
    harnesses.push(h);
    await h.engine.apply(snapshotOf(cfg));
    return { h, os, cfg };
  }

  test("the first response sets BALLAST_<service>=<opaque id>; Max-Age; Path=/; HttpOnly, and 100 requests with it land on one server", async () => {
    const { h, os } = await setup(3600);
    const first = await h.get("/");
    const cookie = setCookie(first.headers)!;
    expect(cookie).toMatch(/^BALLAST_web=[A-Za-z0-9_-]{16}; Max-Age=3600; Path=\/; HttpOnly$/);
    for (const o of os) expect(cookie).not.toContain(String(o.port)); // opaque: no address or port
    const value = cookie.split(";")[0]!;
    const agent = h.agent();
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const res = await request(h.url("/"), { dispatcher: agent, headers: { cookie: `other=1; ${value}` } });
      seen.add(await res.body.text());
      expect(res.headers["set-cookie"]).toBeUndefined(); // a valid cookie is not re-set
    }
    expect([...seen]).toEqual([first.body]);
  });

  test("cookieTimeout 0 gives a session cookie (no Max-Age)", async () => {
    const { h } = await setup(0);
    expect(setCookie((await h.get("/")).headers)).toMatch(/^BALLAST_web=[A-Za-z0-9_-]{16}; Path=\/; HttpOnly$/);
  });

  test("when the cookie's server turns unhealthy the client moves and gets a new cookie; a bogus cookie is replaced", async () => {
    const { h, os } = await setup(60);
    const first = await h.get("/");
    const value = setCookie(first.headers)!.split(";")[0]!;
    const home = os.find((o) => o.name === first.body)!;
    h.engine.setHealth({ web: { [key(home.port)]: { status: "unhealthy" } } });
    const moved = await h.get("/", { headers: { cookie: value } });
    expect(moved.body).not.toBe(first.body);
    const newCookie = setCookie(moved.headers)!;
    expect(newCookie.split(";")[0]).not.toBe(value);
    const again = await h.get("/", { headers: { cookie: newCookie.split(";")[0]! } });
    expect(again.body).toBe(moved.body);
    const bogus = await h.get("/", { headers: { cookie: "BALLAST_web=not-a-server" } });
    expect(setCookie(bogus.headers)).toMatch(/^BALLAST_web=/);
  });

  test("a weight-0 server's cookie is not honoured", async () => {
    const { h, os } = await setup(60);
    const first = await h.get("/");
    const value = setCookie(first.headers)!.split(";")[0]!;
    await h.engine.apply(
      snapshotOf({
        service: { sessionPersistence: { type: "insert-cookie", cookieTimeout: 60 } },
        servers: os.map((o) => ({ port: o.port, weight: o.name === first.body ? 0 : 100 })),
      }),
    );
    const res = await h.get("/", { headers: { cookie: value } });
    expect(res.body).not.toBe(first.body);
    expect(setCookie(res.headers)).toBeDefined();
  });

  test("a second engine (another process or replica) with the same configuration honours the cookie", async () => {
    const { h, cfg } = await setup(60);
    const other = new Harness();
    harnesses.push(other);
    await other.engine.apply(snapshotOf(cfg));
    for (let i = 0; i < 5; i++) {
      const first = await h.get("/");
      const value = setCookie(first.headers)!.split(";")[0]!;
      const res = await other.get("/", { headers: { cookie: value } });
      expect(res.body).toBe(first.body);
      expect(setCookie(res.headers)).toBeUndefined();
    }
  });

  test("on an https listener the cookie is Secure", async () => {
    const certificate = selfSignedCertificate();
    const { h } = await setup(60, { listeners: [{ protocol: "https", certificate }] });
    const res = await request(h.url("/", "l1", "https"), { dispatcher: h.agent({ connect: { rejectUnauthorized: false } }) });
    await res.body.text();
    expect(setCookie(res.headers)).toMatch(/; HttpOnly; Secure$/);
  });
});
