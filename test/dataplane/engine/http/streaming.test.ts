import v8 from "node:v8";
import vm from "node:vm";
import net from "node:net";
import { Readable } from "node:stream";
import { request } from "undici";
import { afterEach, describe, expect, test } from "vitest";
import { startOrigin, type Origin } from "../../../helpers/origin";
import { Harness, eventually, key, snapshotOf } from "./harness";

describe("HttpProxy: streaming and upgrades", () => {
  let h: Harness;
  let a: Origin;
  afterEach(async () => {
    await h?.close();
    await a?.close();
  });

  async function setup() {
    a = await startOrigin("a");
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: a.port }] }));
  }

  test("a 50 MB upload streams through: the origin counts every byte, and little is ever held in between", async () => {
    await setup();
    const total = 50 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let pulled = 0;
    let maxGap = 0;
    let sawStreaming = false;
    const body = Readable.from(
      (function* () {
        for (let sent = 0; sent < total; sent += chunk.length) {
          pulled += chunk.length;
          // Bytes the client has handed over minus bytes the origin has received: what is in flight
          // in sockets and in the proxy. Buffering the body would make this approach 50 MB.
          maxGap = Math.max(maxGap, pulled - a.uploaded);
          if (a.uploaded > 0 && pulled < total) sawStreaming = true;
          yield chunk;
        }
      })(),
      { objectMode: false },
    );
    forceGc();
    const heapBefore = process.memoryUsage().arrayBuffers;
    const res = await request(h.url("/upload"), { method: "POST", body, headers: { "content-length": String(total) }, dispatcher: h.agent() });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe(String(total));
    expect(a.uploaded).toBe(total);
    expect(sawStreaming).toBe(true);
    expect(maxGap).toBeLessThan(16 * 1024 * 1024);
    // Nothing holds the body: once garbage (every socket read is a fresh buffer) is collected,
    // what remains is far below its size. Sockets closing and write callbacks may hold the last
    // reads for a few more turns of the event loop (under a loaded test run): up to 1 s is allowed.
    let held = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 20 && held >= total / 4; i++) {
      await new Promise((r) => setTimeout(r, 50));
      forceGc();
      held = process.memoryUsage().arrayBuffers - heapBefore;
    }
    expect(held).toBeLessThan(total / 4);
  });

  test("a chunked upload of unknown length streams through too", async () => {
    await setup();
    const body = Readable.from((function* () {
      for (let i = 0; i < 100; i++) yield Buffer.alloc(10_000, 0x62);
    })());
    const res = await request(h.url("/upload"), { method: "POST", body, dispatcher: h.agent() });
    expect(await res.body.text()).toBe("1000000");
  });

  test("a client vanishing mid-upload or while waiting is cleaned up: upstream aborted, counters back to 0, others served", async () => {
    await setup();
    const s = net.connect(h.port(), "127.0.0.1");
    s.on("error", () => {});
    s.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n`);
    s.write(Buffer.alloc(1024 * 1024));
    expect(await eventually(() => a.uploaded > 0)).toBe(true);
    s.destroy();
    expect(await eventually(() => a.inFlight === 0)).toBe(true);
    const waiting = net.connect(h.port(), "127.0.0.1");
    waiting.on("error", () => {});
    waiting.write("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(await eventually(() => a.inFlight === 1)).toBe(true);
    waiting.destroy();
    expect(await eventually(() => a.inFlight === 0)).toBe(true);
    expect(await eventually(() => h.engine.stats().web?.[key(a.port)]?.activeRequests === 0)).toBe(true);
    expect(h.engine.metrics.render()).toMatch(/ballast_http_requests_total\{code="499",[^}]*\} 2/);
    expect((await h.get("/")).body).toBe("a");
  });

  test("the first response chunk reaches the client before the origin ends the response", async () => {
    await setup();
    const res = await request(h.url("/stream"), { dispatcher: h.agent() });
    expect(res.statusCode).toBe(200);
    const it = res.body[Symbol.asyncIterator]();
    const first = await it.next();
    expect(String(first.value)).toBe("first chunk from a\n");
    expect(a.inFlight).toBe(1); // the origin has not finished
    a.release();
    let rest = "";
    for (let r = await it.next(); !r.done; r = await it.next()) rest += String(r.value);
    expect(rest).toBe("last chunk\n");
  });

  test("a WebSocket upgrade passes through: handshake, echo, forwarded headers", async () => {
    await setup();
    const ws = new WebSocket(`ws://127.0.0.1:${h.port()}/chat`);
    const messages: string[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error("websocket failed"));
      });
      ws.onmessage = (e) => messages.push(String(e.data));
      ws.send("hello");
      ws.send("x".repeat(1000));
      expect(await eventually(() => messages.length === 2, 5000)).toBe(true);
      expect(messages).toEqual(["hello", "x".repeat(1000)]);
      const up = a.requests.at(-1)!;
      expect(up.url).toBe("/chat");
      expect(up.headers.upgrade).toBe("websocket");
      expect(up.headers.connection).toBe("upgrade");
      expect(up.headers["x-forwarded-for"]).toBe("127.0.0.1");
      expect(h.engine.stats().web?.[`127.0.0.1|${a.port}`]?.activeRequests).toBe(1);
    } finally {
      ws.close();
    }
    expect(await eventually(() => h.engine.stats().web?.[`127.0.0.1|${a.port}`]?.activeRequests === 0, 5000)).toBe(true);
  });

  test("an upgrade with no usable server gets 503", async () => {
    a = await startOrigin("a");
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: a.port, weight: 0 }] }));
    const ws = new WebSocket(`ws://127.0.0.1:${h.port()}/chat`);
    const failed = await new Promise<boolean>((resolve) => {
      ws.onopen = () => resolve(false);
      ws.onerror = () => resolve(true);
    });
    expect(failed).toBe(true);
  });
});

/** A full garbage collection (the test process runs without --expose-gc). */
function forceGc(): void {
  v8.setFlagsFromString("--expose-gc");
  (vm.runInNewContext("gc") as () => void)();
}
