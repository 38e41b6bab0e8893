import net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { hangGuard } from "../../../helpers/hang-guard";
import { startOrigin, type Origin } from "../../../helpers/origin";
import { Harness, exchange, snapshotOf } from "./harness";

describe("HTTP hardening (raw sockets)", () => {
  let h: Harness;
  let a: Origin;
  afterEach(async () => {
    await h?.close();
    await a?.close();
  });

  async function setup(limits = {}) {
    a = await startOrigin("a");
    h = new Harness({ http: limits });
    await h.engine.apply(snapshotOf({ servers: [{ port: a.port }] }));
  }

  test.each([
    ["a malformed request line", "GARBAGE\r\n\r\n"],
    ["Content-Length together with Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
    ["two differing Content-Lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"],
    ["two equal Content-Lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"],
    ["an invalid Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n0\r\n\r\n"],
    ["an obs-folded header", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n"],
    ["a bare LF line ending", "GET / HTTP/1.1\nHost: x\n\n"],
    ["no Host header", "GET / HTTP/1.1\r\n\r\n"],
    ["two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"],
    ["a control character in a header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n"],
  ])("%s gets 400, the connection is closed and nothing is forwarded", async (_name, request) => {
    await setup();
    const before = a.requests.length;
    const res = await exchange(h.port(), request);
    expect(res.text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(res.text).toMatch(/\r\n\r\nbad request: [^\n]+\n$/);
    expect(res.closed).toBe(true);
    expect(a.requests.length).toBe(before);
    // The process keeps serving others.
    expect(await h.get("/")).toMatchObject({ status: 200, body: "a" });
  });

  test("headers over 16 KiB get 431 and the connection is closed", async () => {
    await setup();
    const res = await exchange(h.port(), `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(17 * 1024)}\r\n\r\n`);
    expect(res.text).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(res.text).toContain("request headers too large\n");
    expect(res.closed).toBe(true);
    expect(a.requests.length).toBe(0);
    // Just under the limit passes.
    expect((await h.get("/", { headers: { "x-big": "a".repeat(15 * 1024) } })).status).toBe(200);
  });

  test("a client sending its headers slowly is cut off; others are served meanwhile", async () => {
    await setup({ clientHeadersTimeoutMs: 1000, clientRequestTimeoutMs: 2000, connectionsCheckingIntervalMs: 200 });
    const s = net.connect(h.port(), "127.0.0.1");
    s.on("error", () => {});
    let text = "";
    s.on("data", (d) => (text += d.toString("latin1")));
    const closed = new Promise<number>((r) => s.on("close", () => r(Date.now())));
    const started = Date.now();
    s.write("GET / HTTP/1.1\r\nHost: x\r\n");
    // One header byte every 100 ms: never completes within the 1 s headers timeout.
    const drip = setInterval(() => !s.destroyed && s.write("X"), 100);
    try {
      for (let i = 0; i < 5; i++) expect((await h.get("/")).status).toBe(200);
      const closedAt = await hangGuard(closed, "the slow client's connection to close");
      // Not before the 1 s headers timeout (less the check interval's rounding), and for that reason: 408.
      expect(closedAt - started).toBeGreaterThanOrEqual(900);
      expect(text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    } finally {
      clearInterval(drip);
      s.destroy();
    }
    expect(a.requests.length).toBe(5);
  });

  test("a busy keep-alive connection outlives the headers timeout; once idle it closes on the keep-alive timeout, never with 408", async () => {
    await setup({ clientHeadersTimeoutMs: 400, clientKeepAliveTimeoutMs: 1200, connectionsCheckingIntervalMs: 100 });
    const s = net.connect(h.port(), "127.0.0.1");
    s.on("error", () => {});
    let text = "";
    let waiter: (() => void) | undefined;
    s.on("data", (d) => {
      text += d.toString("latin1");
      waiter?.();
    });
    const closed = new Promise<number>((r) => s.on("close", () => r(Date.now())));
    // Complete responses: origin "a" answers with the 1-byte body "a" after its head.
    const ends = () => text.split("\r\n\r\na").length - 1;
    // Simple bodiless requests one after another for three times the headers timeout (these heads
    // take the JavaScript fast path, which must clear the head timer like llhttp's path does).
    // At least 1.2 s and at least 20 requests: a slow machine sends fewer per second, never in less time.
    const busyUntil = Date.now() + 1200;
    let sent = 0;
    while ((Date.now() < busyUntil || sent < 20) && sent < 2000) {
      const want = ++sent;
      const got = new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no response ${want} (received: ${JSON.stringify(text.slice(-200))})`)), 3000);
        waiter = () => {
          if (ends() >= want) {
            clearTimeout(t);
            resolve();
          }
        };
      });
      s.write("GET /ka HTTP/1.1\r\nHost: x\r\n\r\n");
      await got;
      await new Promise((r) => setTimeout(r, 20));
    }
    const idleFrom = Date.now();
    expect(sent).toBeGreaterThan(10);
    expect(text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(sent);
    const closedAt = await hangGuard(closed, "the idle keep-alive connection to close");
    // Not before the keep-alive timeout, and silently: nothing after the last response, no 408.
    expect(closedAt - idleFrom).toBeGreaterThanOrEqual(1100);
    expect(text.match(/HTTP\/1\.1 /g)).toHaveLength(sent);
    expect(text.endsWith("\r\n\r\na")).toBe(true);
    expect(text).not.toContain("408");
    s.destroy();
  });

  test("a client that stops in the middle of its body is cut off by the request timeout", async () => {
    await setup({ clientHeadersTimeoutMs: 500, clientRequestTimeoutMs: 1000, connectionsCheckingIntervalMs: 200 });
    const res = await exchange(h.port(), "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part", 30_000);
    expect(res.closed).toBe(true);
  });

  test("an upload that keeps moving outlives the request timeout: it bounds a stall, not the upload", async () => {
    await setup({ clientHeadersTimeoutMs: 500, clientRequestTimeoutMs: 600, connectionsCheckingIntervalMs: 100 });
    const s = net.connect(h.port(), "127.0.0.1");
    s.on("error", () => {});
    let text = "";
    s.on("data", (d) => (text += d.toString("latin1")));
    const closed = new Promise<void>((r) => s.on("close", () => r()));
    const pieces = 24;
    s.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${pieces * 10}\r\nConnection: close\r\n\r\n`);
    // Ten bytes every 100 ms: 2.4 s in all, four times the timeout, never silent for long.
    for (let i = 0; i < pieces; i++) {
      await new Promise((r) => setTimeout(r, 100));
      s.write("0123456789");
    }
    await hangGuard(closed, "the upload's response and close");
    s.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text.endsWith(`\r\n\r\n${pieces * 10}`) || text.includes(`\r\n${pieces * 10}\r\n`)).toBe(true);
  });

  test("the request timeout stands still while the server is not reading the body", async () => {
    // A server that takes 2 s before it reads anything: the proxy pauses the client (backpressure)
    // and the client is then not the one stalling. A total-time timeout (1 s here) would cut it.
    const size = 32 * 1024 * 1024;
    let received = 0;
    const slow = net.createServer((c) => {
      c.pause();
      let head = "";
      let inBody = false;
      setTimeout(() => {
        c.on("data", (d: Buffer) => {
          if (inBody) received += d.length;
          else {
            head += d.toString("latin1");
            const end = head.indexOf("\r\n\r\n");
            if (end < 0) return;
            inBody = true;
            received += head.length - (end + 4);
          }
          if (received >= size) c.end(`HTTP/1.1 200 OK\r\nContent-Length: ${String(received).length}\r\nConnection: close\r\n\r\n${received}`);
        });
        c.resume();
      }, 2000);
    });
    await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
    try {
      a = await startOrigin("a");
      h = new Harness({ http: { clientHeadersTimeoutMs: 500, clientRequestTimeoutMs: 1000, connectionsCheckingIntervalMs: 100 } });
      await h.engine.apply(snapshotOf({ servers: [{ port: (slow.address() as net.AddressInfo).port }] }));
      const body = Buffer.alloc(size, 0x61);
      const res = await exchange(h.port(), Buffer.concat([Buffer.from(`POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`), body]), 15_000);
      expect(res.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(res.text.endsWith(`\r\n\r\n${size}`)).toBe(true);
    } finally {
      await new Promise((r) => slow.close(r));
    }
  });

  test("pipelined requests on one connection are answered in order", async () => {
    await setup();
    const res = await exchange(h.port(), "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(res.text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
    expect(res.closed).toBe(true);
    expect(a.requests.map((r) => r.url)).toEqual(["/one", "/two"]);
  });
});
