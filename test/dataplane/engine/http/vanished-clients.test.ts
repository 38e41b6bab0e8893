import http from "node:http";
import net from "node:net";
import tls from "node:tls";
import { afterEach, describe, expect, test } from "vitest";
import type { ClientRequest } from "../../../../dataplane/engine/http/h1/client-request";
import { Exchange, type ExchangeOutcome } from "../../../../dataplane/engine/http/h1/exchange";
import { UpstreamPool } from "../../../../dataplane/engine/http/h1/upstream-pool";
import { monotonicMs } from "../../../../dataplane/clock";
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from "../../../../dataplane/engine/http/limits";
import { request } from "undici";
import { Harness, eventually, key, selfSignedCertificate, snapshotOf } from "./harness";

/**
 * Regression tests of issue 20: clients that vanish mid-request left upstream keep-alive
 * connections paused in the idle pool (paused for a client whose buffer was full, or already
 * destroyed, and that never drained), so the next requests on them waited for the 60 s head
 * timeout. For each stage at which a client can go away, the next requests must be answered, and
 * the upstream connections must be in a known state: none held by a finished exchange, none idle
 * and unable to read, none reused in the middle of the abandoned response.
 */

const BIG = 32 * 1024;

/** An origin that says which of its connections served each request, and which of them closed. */
interface LedgerOrigin {
  readonly port: number;
  /** Connection id of every request, in arrival order, with its path. */
  readonly served: { conn: number; path: string }[];
  readonly closed: Set<number>;
  /** Upgraded (tunnel) sockets on the server side, open or closed. */
  readonly tunnels: net.Socket[];
  /** Answers every `/hold` and completes every `/stream` waiting now. */
  release(): void;
  close(): Promise<void>;
}

async function startLedgerOrigin(): Promise<LedgerOrigin> {
  let nextId = 0;
  const ids = new WeakMap<net.Socket, number>();
  const served: { conn: number; path: string }[] = [];
  const closed = new Set<number>();
  const waiting = new Set<() => void>();
  const sockets = new Set<net.Socket>();
  const big = Buffer.alloc(BIG, 0x62);
  const server = http.createServer((req, res) => {
    const path = req.url ?? "/";
    served.push({ conn: ids.get(req.socket)!, path });
    const hold = (fn: () => void) => {
      const t = setTimeout(() => waiting.delete(fn), 30_000);
      waiting.add(() => (clearTimeout(t), fn()));
    };
    if (path === "/big") return void res.writeHead(200, { "content-length": BIG }).end(big);
    if (path === "/hold") return hold(() => res.writeHead(200, { "content-length": 4 }).end("held"));
    if (path === "/stream") {
      res.writeHead(200, { "content-length": 8 });
      res.write("first");
      return hold(() => res.end("end"));
    }
    if (path === "/upload") {
      req.resume();
      return void req.on("end", () => res.writeHead(200, { "content-length": 2 }).end("up"));
    }
    res.writeHead(200, { "content-length": 2 }).end("ok");
  });
  server.keepAliveTimeout = 60_000;
  // Upgrades: answered 101, then every byte is echoed back.
  const tunnels: net.Socket[] = [];
  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket) => {
    served.push({ conn: ids.get(socket)!, path: req.url ?? "/" });
    tunnels.push(socket);
    socket.on("error", () => {});
    socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n");
    socket.on("data", (d: Buffer) => socket.write(d));
    // A FIN ends the tunnel, as WebSocket servers do (node:http leaves upgraded sockets half-open).
    socket.on("end", () => socket.end());
  });
  server.on("connection", (s: net.Socket) => {
    const id = ++nextId;
    ids.set(s, id);
    sockets.add(s);
    s.on("close", () => {
      closed.add(id);
      sockets.delete(s);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    served,
    closed,
    tunnels,
    release() {
      for (const fn of [...waiting]) {
        waiting.delete(fn);
        fn();
      }
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Opens a raw client connection and sends `data`; errors (resets) are expected and ignored. */
function rawClient(port: number, data: string | Buffer, secure = false): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s: net.Socket = secure
      ? tls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false }, () => {
          s.write(data);
          resolve(s);
        })
      : net.connect(port, "127.0.0.1", () => {
          s.write(data);
          resolve(s);
        });
    s.on("error", () => {});
  });
}

/** Reads from `s` until `text` has arrived (bounded). */
function waitFor(s: net.Socket, text: string, timeoutMs = 10_000): Promise<boolean> {
  return new Promise((resolve) => {
    let got = "";
    const t = setTimeout(() => done(false), timeoutMs);
    const onData = (d: Buffer) => {
      got += d.toString("latin1");
      if (got.includes(text)) done(true);
    };
    const done = (ok: boolean) => {
      clearTimeout(t);
      s.off("data", onData);
      resolve(ok);
    };
    s.on("data", onData);
  });
}

/** Calls `each` once per complete Content-Length response read from `s`. */
function onResponses(s: net.Socket, each: () => void): void {
  let buf = Buffer.alloc(0);
  s.on("data", (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf("\r\n\r\n");
      if (end === -1) return;
      const length = Number(/content-length: (\d+)/i.exec(buf.toString("latin1", 0, end))?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      buf = buf.subarray(end + 4 + length);
      each();
    }
  });
}

describe("clients that vanish mid-request (issue 20)", () => {
  let h: Harness | undefined;
  let origin: LedgerOrigin | undefined;
  afterEach(async () => {
    await h?.close();
    await origin?.close();
    h = undefined;
    origin = undefined;
  });

  async function setup(limits: Partial<HttpLimits> = {}, protocol: "http" | "https" = "http") {
    origin = await startLedgerOrigin();
    h = new Harness({ http: limits });
    const certificate = protocol === "https" ? selfSignedCertificate() : undefined;
    await h.engine.apply(snapshotOf({ listeners: [{ protocol, ...(certificate ? { certificate } : {}) }], servers: [{ port: origin.port }] }));
    return { h, origin };
  }

  /** The upstream connections to the origin by state. */
  const states = () => h!.engine.upstreamConnections().web?.[key(origin!.port)] ?? { busy: 0, idle: 0, stalled: 0 };

  /** Nothing in flight, no connection held by an exchange, none idle that could not serve the next. */
  async function settled(): Promise<void> {
    expect(await eventually(() => h!.engine.stats().web?.[key(origin!.port)]?.activeRequests === 0)).toBe(true);
    expect(await eventually(() => states().busy === 0)).toBe(true);
    expect(states().stalled).toBe(0);
  }

  /** The next requests, each on a fresh connection and then several on one keep-alive agent, are answered. */
  async function nextRequestsAnswered(scheme: "http" | "https" = "http"): Promise<void> {
    const get = async (dispatcher: ReturnType<Harness["agent"]>) => {
      const res = await request(h!.url("/", "l1", scheme), { dispatcher });
      return { status: res.statusCode, body: await res.body.text() };
    };
    for (let i = 0; i < 3; i++) expect(await get(h!.agent({ connections: 1, connect: { rejectUnauthorized: false } }))).toEqual({ status: 200, body: "ok" });
    const keep = h!.agent({ connections: 1, connect: { rejectUnauthorized: false } });
    for (let i = 0; i < 5; i++) expect(await get(keep)).toEqual({ status: 200, body: "ok" });
  }

  /**
   * After the client of `path` went away: its upstream connection closes, then (any late answer
   * released) the next requests are answered, nothing is left in flight, nothing went on that connection.
   */
  async function recovered(path: string): Promise<void> {
    expect(await eventually(() => origin!.closed.has(origin!.served.find((r) => r.path === path)!.conn))).toBe(true);
    origin!.release();
    await nextRequestsAnswered();
    await settled();
    notReusedAfter(path);
  }

  /** The abandoned request's upstream connection was closed, and nothing was sent on it after. */
  function notReusedAfter(path: string): void {
    const abandoned = origin!.served.find((r) => r.path === path)!.conn;
    expect(origin!.closed.has(abandoned)).toBe(true);
    const after = origin!.served.slice(origin!.served.findIndex((r) => r.path === path) + 1);
    expect(after.filter((r) => r.conn === abandoned)).toEqual([]);
  }

  test("while waiting in the queue for a connection: it never reaches the server, and the queue moves on", async () => {
    await setup({ maxConnectionsPerServer: 1 });
    const holder = await rawClient(h!.port(), "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(await eventually(() => origin!.served.some((r) => r.path === "/hold"))).toBe(true);
    const queued = await rawClient(h!.port(), "GET /queued HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(await eventually(() => h!.engine.stats().web?.[key(origin!.port)]?.activeRequests === 2)).toBe(true);
    queued.resetAndDestroy();
    expect(await eventually(() => h!.engine.stats().web?.[key(origin!.port)]?.activeRequests === 1)).toBe(true);
    const answered = waitFor(holder, "held");
    origin!.release();
    expect(await answered).toBe(true);
    holder.destroy();
    await nextRequestsAnswered();
    await settled();
    expect(origin!.served.map((r) => r.path)).not.toContain("/queued");
  });

  test("while its request body is being written: that upstream connection is closed, the next requests are answered", async () => {
    await setup();
    const s = await rawClient(h!.port(), `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n`);
    s.write(Buffer.alloc(256 * 1024));
    expect(await eventually(() => origin!.served.some((r) => r.path === "/upload"))).toBe(true);
    s.resetAndDestroy();
    await recovered("/upload");
  });

  test("while waiting for the response head: that upstream connection is closed, and its late answer reaches no one", async () => {
    await setup();
    const s = await rawClient(h!.port(), "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(await eventually(() => origin!.served.some((r) => r.path === "/hold"))).toBe(true);
    s.destroy();
    await recovered("/hold");
  });

  test("in the middle of the response body: that upstream connection is closed, never reused mid-response", async () => {
    await setup();
    const s = await rawClient(h!.port(), "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(await waitFor(s, "first")).toBe(true);
    s.resetAndDestroy();
    await recovered("/stream");
  });

  test("after it pipelined many requests and stopped reading: no upstream connection is left paused for it", async () => {
    // A short head timeout: a request sent on a connection that cannot read answers 504, not 200.
    await setup({ upstreamHeadersTimeoutMs: 5_000 });
    const s = await rawClient(h!.port(), "GET /big HTTP/1.1\r\nHost: x\r\n\r\n".repeat(300));
    s.pause();
    // Its responses fill the socket buffers between us and it, until the proxy waits for it.
    let seen = -1;
    const stalled = async () => {
      const before = seen;
      seen = origin!.served.length;
      await new Promise((r) => setTimeout(r, 200));
      return seen > 0 && origin!.served.length === before;
    };
    expect(await eventually(stalled)).toBe(true);
    // It waited for the client instead of reading every response into memory.
    expect(origin!.served.length).toBeLessThan(300);
    s.resetAndDestroy();
    await nextRequestsAnswered();
    await settled();
  });

  for (const protocol of ["http", "https"] as const) {
    test(`many ${protocol} clients vanishing at once with requests in flight: every next request is answered, no connection is left stalled`, async () => {
      await setup({}, protocol);
      const port = h!.port();
      for (let round = 0; round < 4; round++) {
        const clients: net.Socket[] = [];
        let answered = 0;
        for (let i = 0; i < 64; i++) {
          const s = await rawClient(port, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n", protocol === "https");
          onResponses(s, () => {
            answered++;
            if (!s.destroyed) s.write("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
          });
          clients.push(s);
        }
        expect(await eventually(() => answered >= 200)).toBe(true);
        // All at once, requests in flight: as a load generator does when it stops.
        for (const s of clients) (round % 2 === 0 && protocol === "http" ? s.resetAndDestroy() : s.destroy());
        await nextRequestsAnswered(protocol);
        await settled();
      }
    });
  }
});

describe("upgraded tunnels whose peer vanishes (issue 20)", () => {
  let h: Harness | undefined;
  let origin: LedgerOrigin | undefined;
  afterEach(async () => {
    await h?.close();
    await origin?.close();
    h = undefined;
    origin = undefined;
  });

  async function tunnel(): Promise<net.Socket> {
    origin = await startLedgerOrigin();
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: origin.port }] }));
    const s = await rawClient(h.port(), "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n");
    expect(await waitFor(s, "101 Switching Protocols")).toBe(true);
    const echoed = waitFor(s, "ping");
    s.write("ping");
    expect(await echoed).toBe(true);
    return s;
  }

  const inFlight = () => h!.engine.stats().web?.[key(origin!.port)]?.activeRequests ?? 0;

  test("the client vanishes mid-tunnel: the server side is closed, nothing stays in flight, requests go on", async () => {
    const s = await tunnel();
    expect(inFlight()).toBe(1);
    s.resetAndDestroy();
    expect(await eventually(() => origin!.tunnels[0]!.destroyed)).toBe(true);
    expect(await eventually(() => inFlight() === 0)).toBe(true);
    expect((await h!.get("/")).body).toBe("ok");
  });

  test("the server vanishes mid-tunnel: the client is closed, nothing stays in flight", async () => {
    const s = await tunnel();
    const closed = new Promise<void>((r) => s.once("close", () => r()));
    origin!.tunnels[0]!.resetAndDestroy();
    await closed;
    expect(await eventually(() => inFlight() === 0)).toBe(true);
    expect((await h!.get("/")).body).toBe("ok");
  });
});

describe("an exchange completed while its client's buffer is full (issue 20)", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /**
   * A client side that takes the response as a real one does, except that its socket buffer is
   * full: every write says so, and 'drain' never comes (a client that stopped reading, or is gone).
   */
  function fullClient(): { req: ClientRequest; ended: () => boolean } {
    let ended = false;
    const socket = { cork() {}, uncork() {}, writableLength: 1, destroyed: false };
    const req = {
      method: "GET",
      hasBody: false,
      chunked: false,
      bodyStarted: false,
      socket,
      onClientGone() {},
      onDrain() {},
      offDrain() {},
      writeHead() {},
      writeHeadText() {},
      write: () => false,
      end: () => void (ended = true),
      detachBody() {},
      destroy() {},
    };
    return { req: req as unknown as ClientRequest, ended: () => ended };
  }

  /** A client side that takes everything at once. */
  function readyClient(): { req: ClientRequest; body: () => string } {
    let body = "";
    const full = fullClient();
    Object.assign(full.req, { write: (c: Buffer) => ((body += c.toString()), true) });
    return { req: full.req, body: () => body };
  }

  function run(pool: UpstreamPool, req: ClientRequest, path: string, limits: HttpLimits): Promise<ExchangeOutcome> {
    return new Promise((resolve) => new Exchange(req, `GET ${path} HTTP/1.1\r\nhost: x\r\n`, [], limits, resolve).start(pool));
  }

  test("its connection goes back to the pool reading, and the next request on it is answered", async () => {
    const origin = await startLedgerOrigin();
    cleanups.push(() => origin.close());
    // The head timeout is what the next request hit before the fix; short here, so it fails fast.
    const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, upstreamHeadersTimeoutMs: 3_000 };
    const pool = new UpstreamPool("127.0.0.1", origin.port, limits);
    const sweeper = setInterval(() => pool.sweep(monotonicMs()), 100);
    cleanups.push(() => clearInterval(sweeper), () => pool.destroy());

    const full = fullClient();
    expect(await run(pool, full.req, "/big", limits)).toEqual({ kind: "done", status: 200 });
    expect(full.ended()).toBe(true);
    expect(pool.connectionStates()).toEqual({ busy: 0, idle: 1, stalled: 0 });

    const next = readyClient();
    expect(await run(pool, next.req, "/", limits)).toEqual({ kind: "done", status: 200 });
    expect(next.body()).toBe("ok");
    // Both requests went over the one kept-alive connection.
    expect(new Set(origin.served.map((r) => r.conn)).size).toBe(1);
  });
});
