import { request } from "undici";
import { afterEach, describe, expect, test } from "vitest";
import { startOrigin, type Origin } from "../../../helpers/origin";
import { Harness, eventually, key, snapshotOf } from "./harness";

describe("draining (HTTP)", () => {
  let h: Harness;
  const origins: Origin[] = [];
  afterEach(async () => {
    await h?.close();
    await Promise.all(origins.splice(0).map((o) => o.close()));
  });

  async function setup(drain: number) {
    const os = await Promise.all(["a", "b"].map((n) => startOrigin(n)));
    origins.push(...os);
    const [a, b] = os as [Origin, Origin];
    h = new Harness();
    await h.engine.apply(snapshotOf({ service: { connectionDrainTimeout: drain }, servers: [{ port: a.port }] }));
    return { a, b };
  }

  const removeA = (a: Origin, b: Origin, drain: number, keepA = false) =>
    h.engine.apply(snapshotOf({ service: { connectionDrainTimeout: drain }, servers: [...(keepA ? [{ port: a.port, weight: 0 }] : []), { port: b.port }] }));

  test("an in-flight request to a removed server completes within the drain timeout; new requests go elsewhere", async () => {
    const { a, b } = await setup(5);
    const slow = request(h.url("/slow?ms=800"), { dispatcher: h.agent() }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
    expect(await eventually(() => a.inFlight === 1)).toBe(true);
    await removeA(a, b, 5);
    expect((await h.get("/")).body).toBe("b");
    expect(await slow).toEqual({ status: 200, body: "a" });
  });

  test("an in-flight request still running at the drain deadline is aborted (502 before the response started)", async () => {
    const { a, b } = await setup(1);
    const started = Date.now();
    const held = request(h.url("/hold"), { dispatcher: h.agent() }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
    expect(await eventually(() => a.inFlight === 1)).toBe(true);
    await removeA(a, b, 1);
    const res = await held;
    expect(res).toEqual({ status: 502, body: "the server of service web was removed and its drain timeout expired\n" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(await eventually(() => a.inFlight === 0)).toBe(true); // the upstream request was aborted too
  });

  test("a streaming response still running at the deadline is cut; weight 0 drains like removal", async () => {
    const { a, b } = await setup(1);
    const res = await request(h.url("/stream"), { dispatcher: h.agent() });
    expect(res.statusCode).toBe(200);
    await removeA(a, b, 1, true);
    expect(h.engine.stats().web?.[key(a.port)]?.activeRequests).toBe(1);
    await expect(res.body.text()).rejects.toThrow();
    expect(await eventually(() => h.engine.stats().web?.[key(a.port)]?.activeRequests === 0)).toBe(true);
    expect((await h.get("/")).body).toBe("b");
  });

  test("connectionDrainTimeout 0 aborts in-flight requests at once", async () => {
    const { a, b } = await setup(0);
    const held = request(h.url("/hold"), { dispatcher: h.agent() }).then((r) => r.statusCode);
    expect(await eventually(() => a.inFlight === 1)).toBe(true);
    await removeA(a, b, 0);
    expect(await held).toBe(502);
  });

  test("a server that returns before the deadline keeps its in-flight requests", async () => {
    const { a, b } = await setup(1);
    const held = request(h.url("/hold"), { dispatcher: h.agent() }).then(async (r) => r.body.text());
    expect(await eventually(() => a.inFlight === 1)).toBe(true);
    await removeA(a, b, 1, true);
    await h.engine.apply(snapshotOf({ service: { connectionDrainTimeout: 1 }, servers: [{ port: a.port }, { port: b.port }] }));
    await new Promise((r) => setTimeout(r, 1500));
    a.release();
    expect(await held).toBe("a");
  });
});
