import net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { capturedLog } from "../../../helpers/log-lines";
import { freePort } from "../../../helpers/ports";
import { startOrigin, type Origin } from "../../../helpers/origin";
import { Harness, eventually, snapshotOf, type ListenerCfg } from "./harness";

/** The HTTP access log (docs/access-log.md): one line per request, its keys, values and settings. */

const KEYS = ["level", "time", "pid", "listener", "client", "method", "host", "path", "status", "bytesIn", "bytesOut", "service", "server", "connectMs", "firstByteMs", "totalMs", "retries", "termination", "requestId", "msg"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("HTTP access log", () => {
  let h: Harness | undefined;
  const origins: Origin[] = [];
  afterEach(async () => {
    await h?.close();
    h = undefined;
    await Promise.all(origins.splice(0).map((o) => o.close()));
  });

  async function setup(listener: ListenerCfg = {}, servers?: { port: number; weight?: number }[]) {
    const a = await startOrigin("a");
    origins.push(a);
    const cap = capturedLog("warn");
    h = new Harness({ log: cap.log });
    await h.engine.apply(snapshotOf({ listeners: [listener], servers: servers ?? [{ port: a.port }] }));
    return { a, cap, h };
  }

  test.each([
    ["a malformed request line", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request"],
    ["an unsupported version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "bad_request"],
    ["too many header lines", `GET / HTTP/1.1\r\nHost: x\r\n${"X-A: b\r\n".repeat(100)}\r\n`, 431, "bad_request"],
  ])("a request refused at the front door (%s) gets its line, with the keys of every line", async (_what, data, status, termination) => {
    const { a, cap, h } = await setup();
    await new Promise<void>((resolve) => {
      const s = net.connect(h.port(), "127.0.0.1", () => s.write(data));
      s.on("error", () => {});
      s.on("close", () => resolve());
      s.resume();
    });
    expect(await eventually(() => cap.access().length === 1)).toBe(true);
    const line = cap.access()[0]!;
    expect(Object.keys(line)).toEqual(KEYS);
    expect(line).toMatchObject({ listener: "l1", method: "", host: "", path: "", status, service: "web", server: "", termination, requestId: "", totalMs: -1 });
    expect(line.bytesIn).toBe(Buffer.byteLength(data));
    expect(a.requests).toHaveLength(0);
  });

  test("a head that does not come in time gets a client_timeout line", async () => {
    const a = await startOrigin("a");
    origins.push(a);
    const cap = capturedLog("warn");
    h = new Harness({ log: cap.log, http: { clientHeadersTimeoutMs: 300, connectionsCheckingIntervalMs: 50 } });
    await h.engine.apply(snapshotOf({ servers: [{ port: a.port }] }));
    const s = net.connect(h.port(), "127.0.0.1", () => s.write("GET / HT"));
    s.on("error", () => {});
    s.resume();
    expect(await eventually(() => cap.access().length === 1)).toBe(true);
    expect(cap.access()[0]).toMatchObject({ status: 408, termination: "client_timeout", bytesIn: 8 });
    s.destroy();
  });

  test("a proxied request writes one line with exactly the contract's keys, and its generated id reaches the server", async () => {
    const { a, cap, h } = await setup();
    const res = await h.get("/hello?user=alice");
    expect(res.status).toBe(200);
    expect(await eventually(() => cap.access().length === 1)).toBe(true);
    const line = cap.access()[0]!;
    expect(Object.keys(line)).toEqual(KEYS);
    expect(line).toMatchObject({
      level: 30,
      listener: "l1",
      method: "GET",
      host: `127.0.0.1:${h.port()}`,
      path: "/hello",
      status: 200,
      service: "web",
      server: `127.0.0.1:${a.port}`,
      retries: 0,
      termination: "normal",
      msg: "access",
    });
    expect(line.client).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(line.requestId).toMatch(UUID);
    expect(a.requests.at(-1)!.headers["x-request-id"]).toBe(line.requestId);
    // The head and the one-byte body "a" each way: at least the request line, at most a small head.
    expect(line.bytesIn as number).toBeGreaterThan("GET /hello?user=alice HTTP/1.1\r\n".length);
    expect(line.bytesOut as number).toBeGreaterThan(1);
    expect(line.bytesOut as number).toBeLessThan(400);
    for (const k of ["connectMs", "firstByteMs", "totalMs"]) expect(line[k] as number).toBeGreaterThanOrEqual(0);
  });

  test("the client's X-Request-Id is passed through unchanged; Authorization, Cookie and the query never appear", async () => {
    const { a, cap, h } = await setup();
    await h.get("/p?token=secret-q", { headers: { "x-request-id": "req-42", authorization: "Bearer secret-a", cookie: "sid=secret-c" } });
    expect(await eventually(() => cap.access().length === 1)).toBe(true);
    expect(cap.access()[0]).toMatchObject({ requestId: "req-42", path: "/p" });
    expect(a.requests.at(-1)!.headers["x-request-id"]).toBe("req-42");
    expect(cap.text()).not.toMatch(/secret/);
  });

  test("includeQuery keeps the query string", async () => {
    const { cap, h } = await setup({ accessLog: { includeQuery: true } });
    await h.get("/search?q=shoes&page=2");
    expect(await eventually(() => cap.access().length === 1)).toBe(true);
    expect(cap.access()[0]!.path).toBe("/search?q=shoes&page=2");
  });

  test("each request of a keep-alive connection counts its own bytes", async () => {
    const { cap, h } = await setup();
    const agent = h.agent({ connections: 1 });
    await h.get("/small", { dispatcher: agent });
    await h.get(`/small-${"x".repeat(2000)}`, { dispatcher: agent });
    expect(await eventually(() => cap.access().length === 2)).toBe(true);
    const [first, second] = cap.access();
    expect(first!.client).toBe(second!.client); // one connection
    expect(second!.bytesIn as number).toBeGreaterThan(2000);
    expect(first!.bytesIn as number).toBeLessThan(2000);
  });

  test("enabled false writes nothing; sampleRate 0 writes nothing; sampleRate 0.5 writes about half", async () => {
    const off = await setup({ accessLog: { enabled: false } });
    await off.h.get("/");
    await h!.close();
    const none = await setup({ accessLog: { sampleRate: 0 } });
    await none.h.get("/");
    expect(off.cap.access()).toEqual([]);
    expect(none.cap.access()).toEqual([]);
    await h!.close();
    const half = await setup({ accessLog: { sampleRate: 0.5 } });
    const agent = half.h.agent({ connections: 4 });
    for (let i = 0; i < 200; i++) await half.h.get("/", { dispatcher: agent });
    // Binomial(200, 0.5): outside 60..140 has a probability below 1e-8.
    const n = half.cap.access().length;
    expect(n).toBeGreaterThan(60);
    expect(n).toBeLessThan(140);
  });

  test("an unreachable server: 502 connect_failed; no server: 503 no_server; both without a server-side id", async () => {
    const dead = await freePort();
    const { cap, h } = await setup({}, [{ port: dead }]);
    expect((await h.get("/")).status).toBe(502);
    expect(await eventually(() => cap.access().length === 1)).toBe(true);
    expect(cap.access()[0]).toMatchObject({ status: 502, termination: "connect_failed", server: `127.0.0.1:${dead}`, firstByteMs: -1 });
    await h.engine.apply(snapshotOf({ servers: [] }));
    expect((await h.get("/")).status).toBe(503);
    expect(await eventually(() => cap.access().length === 2)).toBe(true);
    expect(cap.access()[1]).toMatchObject({ status: 503, termination: "no_server", server: "", connectMs: -1 });
  });

  test("a retry after a refused connection is counted", async () => {
    const dead = await freePort();
    const a = await startOrigin("a");
    origins.push(a);
    const cap = capturedLog();
    h = new Harness({ log: cap.log });
    // Weighted round robin from a fresh picker: the heavier (dead) server is picked first.
    await h.engine.apply(snapshotOf({ servers: [{ port: dead, weight: 100 }, { port: a.port, weight: 1 }] }));
    expect((await h.get("/")).status).toBe(200);
    expect(await eventually(() => cap.access().length === 1)).toBe(true);
    expect(cap.access()[0]).toMatchObject({ status: 200, retries: 1, termination: "normal", server: `127.0.0.1:${a.port}` });
  });

  test("a client that leaves before the response: 499 client_closed", async () => {
    const { cap, h } = await setup();
    const s = net.connect(h.port(), "127.0.0.1");
    await new Promise((r) => s.once("connect", r));
    s.write(`GET /hold HTTP/1.1\r\nHost: x\r\n\r\n`);
    await eventually(() => origins[0]!.inFlight === 1);
    s.destroy();
    expect(await eventually(() => cap.access().length === 1)).toBe(true);
    expect(cap.access()[0]).toMatchObject({ status: 499, termination: "client_closed", path: "/hold", host: "x" });
    origins[0]!.release();
  });
});
