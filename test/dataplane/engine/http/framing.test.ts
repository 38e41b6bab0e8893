import http from "node:http";
import net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { Resources, connect, sleep, whenClosed } from "../../../helpers/tcp";
import { Harness, snapshotOf } from "./harness";

/**
 * HTTP/1.1 message framing and connection management, seen from outside: raw-socket clients talk
 * to an Engine on 127.0.0.1, origins are node:http or raw net servers. Every response the client
 * gets is parsed strictly (status line, headers, then a body delimited by HEAD/1xx/204/304 rules,
 * chunked coding, Content-Length or connection close), so a framing error shows up as garbage
 * where the next response should start, a missing/extra byte, or a timeout.
 */

// ---------------------------------------------------------------------------------------------
// A strict HTTP/1.x response reader over one raw socket

type Framing = "none" | "length" | "chunked" | "close";

interface Head {
  version: string;
  status: number;
  reason: string;
  /** Header fields in order, as received (names keep their case). */
  fields: [string, string][];
}

interface RawResponse extends Head {
  /** 1xx responses that came before this one (101 excluded). */
  informational: Head[];
  body: Buffer;
  framing: Framing;
}

/** First value of a header (case-insensitive), or undefined. */
function header(head: Head, name: string): string | undefined {
  return head.fields.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

/** All values of a header (case-insensitive), in order. */
function headers(head: Head, name: string): string[] {
  return head.fields.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}

/** How long a read waits before failing: a guard against a hang, far above any expected answer time. */
const HANG_GUARD_MS = 30_000;

class RawClient {
  private store = Buffer.alloc(64 * 1024);
  private start = 0;
  private end = 0;
  /** The peer sent FIN or the socket closed. */
  ended = false;
  private wake: (() => void) | undefined;

  constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.append(d);
      this.poke();
    });
    socket.on("end", () => {
      this.ended = true;
      this.poke();
    });
    socket.on("close", () => {
      this.ended = true;
      this.poke();
    });
    socket.on("error", () => {});
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  /** Bytes received and not yet parsed. */
  get pending(): number {
    return this.end - this.start;
  }

  /** Reads one response; `method` decides whether a body may follow (HEAD: never). */
  async readResponse(opts: { method?: string; timeoutMs?: number } = {}): Promise<RawResponse> {
    const deadline = Date.now() + (opts.timeoutMs ?? HANG_GUARD_MS);
    const informational: Head[] = [];
    for (;;) {
      const head = await this.readHead(deadline);
      if (head.status >= 100 && head.status < 200 && head.status !== 101) {
        informational.push(head);
        continue;
      }
      const te = header(head, "transfer-encoding");
      const cl = headers(head, "content-length");
      let framing: Framing;
      let body: Buffer;
      if (opts.method === "HEAD" || head.status === 204 || head.status === 304) {
        framing = "none";
        body = Buffer.alloc(0);
      } else if (te !== undefined) {
        if (!/(^|,)\s*chunked\s*$/i.test(te)) throw new Error(`unexpected Transfer-Encoding ${JSON.stringify(te)}`);
        if (cl.length > 0) throw new Error("response with both Transfer-Encoding and Content-Length");
        framing = "chunked";
        body = await this.readChunked(deadline);
      } else if (cl.length > 0) {
        if (cl.length > 1 || !/^\d+$/.test(cl[0]!)) throw new Error(`bad Content-Length ${JSON.stringify(cl)}`);
        framing = "length";
        body = await this.take(Number(cl[0]), deadline);
      } else {
        framing = "close";
        body = await this.readToClose(deadline);
      }
      return { ...head, informational, body, framing };
    }
  }

  /** Reads one response head (status line and fields up to the empty line). */
  async readHead(deadline = Date.now() + HANG_GUARD_MS): Promise<Head> {
    const text = (await this.readUntil("\r\n\r\n", deadline)).toString("latin1");
    const lines = text.slice(0, -4).split("\r\n");
    const m = /^(HTTP\/1\.[01]) (\d{3})(?: (.*))?$/.exec(lines[0]!);
    if (!m) throw new Error(`not a status line: ${JSON.stringify(lines[0]!.slice(0, 200))}`);
    const fields: [string, string][] = lines.slice(1).map((line) => {
      const colon = line.indexOf(":");
      if (colon <= 0) throw new Error(`bad header line ${JSON.stringify(line.slice(0, 200))}`);
      return [line.slice(0, colon), line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "")];
    });
    return { version: m[1]!, status: Number(m[2]), reason: m[3] ?? "", fields };
  }

  /** Resolves once the peer has closed (FIN or close) and nothing unread is left; rejects otherwise. */
  async expectClosed(timeoutMs = HANG_GUARD_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) await this.waitMore(deadline, "the proxy to close the connection");
    if (this.pending > 0) throw new Error(`unexpected bytes after the response: ${JSON.stringify(this.peek().toString("latin1").slice(0, 200))}`);
  }

  /** Whether the peer kept the connection open for `ms` without sending anything. */
  async staysOpenAndQuiet(ms: number): Promise<boolean> {
    await sleep(ms);
    return !this.ended && this.pending === 0;
  }

  private peek(): Buffer {
    return this.store.subarray(this.start, this.end);
  }

  private append(d: Buffer): void {
    if (this.end + d.length > this.store.length) {
      const live = this.end - this.start;
      // Grow when compacting alone would not make room (Buffer#copy handles the overlap otherwise).
      const next = live + d.length > this.store.length ? Buffer.alloc(Math.max(this.store.length * 2, live + d.length)) : this.store;
      this.store.copy(next, 0, this.start, this.end);
      this.store = next;
      this.start = 0;
      this.end = live;
    }
    d.copy(this.store, this.end);
    this.end += d.length;
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async waitMore(deadline: number, what: string): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out waiting for ${what} (${this.pending} unread bytes: ${JSON.stringify(this.peek().toString("latin1").slice(0, 120))})`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, left);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async readUntil(delimiter: string, deadline: number): Promise<Buffer> {
    for (;;) {
      const i = this.peek().indexOf(delimiter, 0, "latin1");
      if (i !== -1) return this.consume(i + delimiter.length);
      if (this.ended) throw new Error(`connection closed while waiting for ${JSON.stringify(delimiter)} (got ${JSON.stringify(this.peek().toString("latin1").slice(0, 200))})`);
      await this.waitMore(deadline, JSON.stringify(delimiter));
    }
  }

  private async take(n: number, deadline: number): Promise<Buffer> {
    while (this.pending < n) {
      if (this.ended) throw new Error(`connection closed after ${this.pending} of ${n} body bytes`);
      await this.waitMore(deadline, `${n} body bytes`);
    }
    return this.consume(n);
  }

  private consume(n: number): Buffer {
    const out = Buffer.from(this.store.subarray(this.start, this.start + n));
    this.start += n;
    return out;
  }

  private async readChunked(deadline: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (;;) {
      const line = (await this.readUntil("\r\n", deadline)).toString("latin1").slice(0, -2);
      const m = /^([0-9a-fA-F]+)(;.*)?$/.exec(line);
      if (!m) throw new Error(`bad chunk size line ${JSON.stringify(line.slice(0, 100))}`);
      const size = parseInt(m[1]!, 16);
      if (size === 0) {
        // Trailer section, then the empty line.
        while ((await this.readUntil("\r\n", deadline)).length > 2);
        return Buffer.concat(parts);
      }
      parts.push(await this.take(size, deadline));
      const crlf = await this.take(2, deadline);
      if (crlf.toString("latin1") !== "\r\n") throw new Error(`chunk not followed by CRLF: ${JSON.stringify(crlf.toString("latin1"))}`);
    }
  }

  private async readToClose(deadline: number): Promise<Buffer> {
    while (!this.ended) await this.waitMore(deadline, "the end of a close-delimited body");
    return this.consume(this.pending);
  }
}

// ---------------------------------------------------------------------------------------------

/** Deterministic bytes for byte-exact body checks. */
function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 8)) & 0xff;
  return b;
}

const get = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

describe("HTTP/1.1 framing and connection management (raw sockets)", () => {
  let h: Harness | undefined;
  const res = new Resources();
  afterEach(async () => {
    await h?.close();
    h = undefined;
    await res.closeAll();
  });

  /** Starts an Engine in front of the given origin port. */
  async function proxy(originPort: number): Promise<number> {
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: originPort }] }));
    return h.port();
  }

  /** A node:http origin with a custom handler; closed (with its connections) after the test. */
  async function httpOrigin(handler: http.RequestListener): Promise<{ port: number; server: http.Server }> {
    const server = http.createServer(handler);
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    res.add(async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    });
    return { port: (server.address() as net.AddressInfo).port, server };
  }

  /**
   * A raw origin: `onRequest` is called for each request head received on a connection (bodies are
   * not expected) with the socket and the head text.
   */
  async function rawOrigin(onRequest: (socket: net.Socket, head: string, index: number) => void): Promise<{ port: number; connections: number }> {
    const sockets = new Set<net.Socket>();
    const state = { port: 0, connections: 0 };
    const server = net.createServer((s) => {
      state.connections++;
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
      let buf = "";
      let n = 0;
      s.on("data", (d) => {
        buf += d.toString("latin1");
        for (let end = buf.indexOf("\r\n\r\n"); end !== -1; end = buf.indexOf("\r\n\r\n")) {
          const head = buf.slice(0, end);
          buf = buf.slice(end + 4);
          onRequest(s, head, n++);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    state.port = (server.address() as net.AddressInfo).port;
    res.add(async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    });
    return state;
  }

  async function client(port: number): Promise<RawClient> {
    return new RawClient(res.socket(await connect(port)));
  }

  /** An origin answering `<METHOD> <url> <body>` with a Content-Length, recording what it saw. */
  async function echoOrigin() {
    const seen: { method: string; url: string; body: string; remotePort: number; headers: http.IncomingHttpHeaders }[] = [];
    const o = await httpOrigin((req, rsp) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("latin1");
        seen.push({ method: req.method!, url: req.url!, body, remotePort: req.socket.remotePort!, headers: req.headers });
        const out = Buffer.from(`${req.method} ${req.url} ${body}`, "latin1");
        rsp.writeHead(200, { "content-type": "text/plain", "content-length": out.length });
        rsp.end(out);
      });
    });
    return { ...o, seen };
  }

  test("HEAD: Content-Length of the origin arrives, no body follows, the connection serves the next GET", async () => {
    const methods: string[] = [];
    const o = await httpOrigin((req, rsp) => {
      methods.push(req.method!);
      req.resume();
      if (req.method === "HEAD") {
        rsp.writeHead(200, { "content-type": "application/octet-stream", "content-length": "1000" });
        rsp.end();
      } else {
        rsp.writeHead(200, { "content-type": "text/plain", "content-length": "4" });
        rsp.end("next");
      }
    });
    const c = await client(await proxy(o.port));
    c.write("HEAD /file HTTP/1.1\r\nHost: x\r\n\r\n");
    const head = await c.readResponse({ method: "HEAD" });
    expect(head.status).toBe(200);
    expect(header(head, "content-length")).toBe("1000");
    expect(header(head, "transfer-encoding")).toBeUndefined();
    c.write(get("/after"));
    const next = await c.readResponse();
    expect(next.status).toBe(200);
    expect(next.body.toString()).toBe("next");
    expect(methods).toEqual(["HEAD", "GET"]);
  });

  test("HEAD and GET written together (pipelined) also get two correctly delimited responses", async () => {
    const o = await httpOrigin((req, rsp) => {
      req.resume();
      rsp.writeHead(200, { "content-length": "1000" });
      rsp.end(req.method === "HEAD" ? undefined : Buffer.alloc(1000, 0x7a));
    });
    const c = await client(await proxy(o.port));
    c.write("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get("/"));
    const head = await c.readResponse({ method: "HEAD" });
    expect(head.status).toBe(200);
    expect(header(head, "content-length")).toBe("1000");
    const body = await c.readResponse();
    expect(body.status).toBe(200);
    expect(body.body.equals(Buffer.alloc(1000, 0x7a))).toBe(true);
  });

  test("204 and 304 carry no body (even a 304 with the representation's Content-Length); the connection goes on", async () => {
    const o = await rawOrigin((s, head) => {
      const path = head.split(" ")[1];
      if (path === "/204") s.write("HTTP/1.1 204 No Content\r\nX-Kind: nc\r\n\r\n");
      else if (path === "/304") s.write('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n');
      else if (path === "/304cl") s.write('HTTP/1.1 304 Not Modified\r\nETag: "v2"\r\nContent-Length: 1234\r\n\r\n');
      else s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });
    const c = await client(await proxy(o.port));
    c.write(get("/204"));
    const nc = await c.readResponse();
    expect(nc.status).toBe(204);
    expect(header(nc, "x-kind")).toBe("nc");
    expect(header(nc, "transfer-encoding")).toBeUndefined();
    expect(header(nc, "content-length")).toBeUndefined();
    c.write(get("/304", 'If-None-Match: "v1"\r\n'));
    const nm = await c.readResponse();
    expect(nm.status).toBe(304);
    expect(header(nm, "etag")).toBe('"v1"');
    expect(header(nm, "transfer-encoding")).toBeUndefined();
    c.write(get("/304cl", 'If-None-Match: "v2"\r\n'));
    const nm2 = await c.readResponse();
    expect(nm2.status).toBe(304);
    expect(header(nm2, "etag")).toBe('"v2"');
    c.write(get("/ok"));
    const ok = await c.readResponse();
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toBe("ok");
    // Nothing stray (such as a terminating chunk after a bodiless response) is left behind.
    expect(c.pending).toBe(0);
  });

  test("a chunked origin response (several writes, no length) arrives intact and the connection goes on", async () => {
    const parts = ["first part|", "x".repeat(3000), "|", "third ✓ part|", "end"];
    const o = await httpOrigin(async (req, rsp) => {
      req.resume();
      if (req.url === "/chunks") {
        rsp.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
        for (const p of parts) {
          rsp.write(p);
          await sleep(10);
        }
        rsp.end();
      } else {
        rsp.writeHead(200, { "content-length": "2" });
        rsp.end("ok");
      }
    });
    const c = await client(await proxy(o.port));
    c.write(get("/chunks"));
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    expect(["chunked", "length"]).toContain(r.framing);
    expect(r.body.toString("utf8")).toBe(parts.join(""));
    c.write(get("/ok"));
    expect((await c.readResponse()).body.toString()).toBe("ok");
  });

  test.each([
    ["HTTP/1.0 status line", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"],
    ["HTTP/1.1 status line with Connection: close", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"],
  ])("a close-delimited origin body (%s) reaches the client whole and correctly delimited", async (_name, statusAndHeaders) => {
    const body = pattern(70_000, 3);
    const o = await rawOrigin((s) => {
      void (async () => {
        s.write(statusAndHeaders);
        for (let off = 0; off < body.length; off += 20_000) {
          s.write(body.subarray(off, off + 20_000));
          await sleep(5);
        }
        s.end();
      })();
    });
    const port = await proxy(o.port);
    const c = await client(port);
    c.write(get("/"));
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(body.length);
    expect(r.body.equals(body)).toBe(true);
    if (r.framing === "close") expect(c.ended).toBe(true);
    else expect(["chunked", "length"]).toContain(r.framing);
    // The proxy itself is fine afterwards.
    const c2 = await client(port);
    c2.write(get("/", "Connection: close\r\n"));
    expect((await c2.readResponse()).body.equals(body)).toBe(true);
  });

  test("Expect: 100-continue: the client gets 100 Continue before sending the body, the origin gets the exact body", async () => {
    const o = await echoOrigin();
    const c = await client(await proxy(o.port));
    const body = "exact body: \u00e9\u00e8 0123456789";
    const bytes = Buffer.from(body, "latin1");
    c.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${bytes.length}\r\nExpect: 100-continue\r\n\r\n`);
    const cont = await c.readHead();
    expect(cont.status).toBe(100);
    expect(cont.version).toBe("HTTP/1.1");
    expect(o.seen).toHaveLength(0);
    c.write(bytes);
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    expect(r.body.toString("latin1")).toBe(`POST /upload ${body}`);
    expect(o.seen).toHaveLength(1);
    expect(o.seen[0]!.body).toBe(body);
    // The connection goes on.
    c.write(get("/next"));
    expect((await c.readResponse()).body.toString()).toBe("GET /next ");
  });

  test("HTTP/1.0 request without Host is forwarded (200), and the connection is closed after the response", async () => {
    const o = await echoOrigin();
    const c = await client(await proxy(o.port));
    c.write("GET /old?v=1 HTTP/1.0\r\n\r\n");
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    expect(r.framing).not.toBe("chunked"); // chunked coding does not exist in HTTP/1.0
    expect(r.body.toString()).toBe("GET /old?v=1 ");
    await c.expectClosed();
    expect(o.seen.map((s) => s.url)).toEqual(["/old?v=1"]);
  });

  test("HTTP/1.0 request with Connection: keep-alive: a sized response keeps the connection for another request", async () => {
    const o = await echoOrigin();
    const c = await client(await proxy(o.port));
    c.write("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    expect(r.framing).toBe("length");
    expect(r.body.toString()).toBe("GET /a ");
    expect(header(r, "connection")?.toLowerCase()).toBe("keep-alive");
    expect(await c.staysOpenAndQuiet(150)).toBe(true);
    c.write("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const r2 = await c.readResponse();
    expect(r2.body.toString()).toBe("GET /b ");
    expect(o.seen.map((s) => s.url)).toEqual(["/a", "/b"]);
  });

  test("HTTP/1.0 keep-alive client and an origin answering chunked: no chunked coding reaches the 1.0 client", async () => {
    const o = await httpOrigin((req, rsp) => {
      req.resume();
      rsp.writeHead(200, { "content-type": "text/plain" });
      rsp.write("part one, ");
      rsp.end("part two");
    });
    const c = await client(await proxy(o.port));
    c.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    expect(header(r, "transfer-encoding")).toBeUndefined();
    expect(r.body.toString()).toBe("part one, part two");
    if (r.framing === "close") expect(c.ended).toBe(true);
  });

  test("Connection: close from the client: the response comes, then the proxy closes the connection", async () => {
    const o = await echoOrigin();
    const c = await client(await proxy(o.port));
    c.write(get("/bye", "Connection: close\r\n"));
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe("GET /bye ");
    await c.expectClosed();
    expect(o.seen).toHaveLength(1);
  });

  test("Connection: close after earlier keep-alive requests on the same connection closes after that response", async () => {
    const o = await echoOrigin();
    const c = await client(await proxy(o.port));
    c.write(get("/one"));
    expect((await c.readResponse()).body.toString()).toBe("GET /one ");
    expect(await c.staysOpenAndQuiet(100)).toBe(true);
    c.write(get("/two", "Connection: close\r\n"));
    expect((await c.readResponse()).body.toString()).toBe("GET /two ");
    const closed = await whenClosed(c.socket, 2000);
    expect(closed.reset).toBe(false);
  });

  test("upstream keep-alive: 50 sequential requests on one client connection use at most 2 origin connections", async () => {
    const o = await echoOrigin();
    const c = await client(await proxy(o.port));
    for (let i = 0; i < 50; i++) {
      c.write(get(`/r${i}`));
      const r = await c.readResponse();
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe(`GET /r${i} `);
    }
    expect(o.seen).toHaveLength(50);
    expect(new Set(o.seen.map((s) => s.remotePort)).size).toBeLessThanOrEqual(2);
  });

  test("the origin answers with Connection: close: the next request still gets 200 over a new connection", async () => {
    const o = await httpOrigin((req, rsp) => {
      req.resume();
      const body = `hello ${req.url}`;
      rsp.writeHead(200, { "content-length": Buffer.byteLength(body), ...(req.url === "/first" ? { connection: "close" } : {}) });
      rsp.end(body);
    });
    const c = await client(await proxy(o.port));
    c.write(get("/first"));
    const r1 = await c.readResponse();
    expect(r1.status).toBe(200);
    expect(r1.body.toString()).toBe("hello /first");
    await sleep(50);
    c.write(get("/second"));
    const r2 = await c.readResponse();
    expect(r2.status).toBe(200);
    expect(r2.body.toString()).toBe("hello /second");
  });

  test("a raw origin closing its socket after each response (without saying so): each next GET still gets 200", async () => {
    const o = await rawOrigin((s, head) => {
      const path = head.split(" ")[1]!;
      s.end(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
    });
    const c = await client(await proxy(o.port));
    for (let i = 0; i < 3; i++) {
      c.write(get(`/idle${i}`));
      const r = await c.readResponse();
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe(`/idle${i}`);
      await sleep(50); // the connection is idle, then gone, before the next request
    }
    expect(o.connections).toBe(3);
  });

  test("a raw origin closing its socket after each response: back-to-back GETs (no pause) all get 200", async () => {
    const o = await rawOrigin((s, head) => {
      const path = head.split(" ")[1]!;
      s.end(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
    });
    const c = await client(await proxy(o.port));
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      c.write(get(`/b${i}`));
      const r = await c.readResponse();
      statuses.push(r.status);
      if (r.status === 200) expect(r.body.toString()).toBe(`/b${i}`);
    }
    expect(statuses).toEqual(Array(10).fill(200));
  });

  test("several Set-Cookie headers from the origin arrive as separate headers, in order", async () => {
    const cookies = ["a=1", "b=2; Path=/; HttpOnly", "c=3; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure", "d=; Max-Age=0"];
    const o = await rawOrigin((s) => {
      s.write(`HTTP/1.1 200 OK\r\n${cookies.map((c) => `Set-Cookie: ${c}\r\n`).join("")}Content-Length: 2\r\n\r\nok`);
    });
    const c = await client(await proxy(o.port));
    c.write(get("/"));
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    expect(headers(r, "set-cookie")).toEqual(cookies);
    expect(r.body.toString()).toBe("ok");
  });

  test("a 1 MiB sized body and a 5 MiB chunked body arrive byte-exact", async () => {
    const mib = pattern(1024 * 1024, 1);
    const five = pattern(5 * 1024 * 1024, 2);
    const o = await httpOrigin((req, rsp) => {
      req.resume();
      if (req.url === "/1m") {
        rsp.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(mib.length) });
        rsp.end(mib);
        return;
      }
      rsp.writeHead(200, { "content-type": "application/octet-stream" });
      let off = 0;
      const pump = () => {
        while (off < five.length) {
          const piece = five.subarray(off, off + 64 * 1024);
          off += piece.length;
          if (!rsp.write(piece)) return void rsp.once("drain", pump);
        }
        rsp.end();
      };
      pump();
    });
    const c = await client(await proxy(o.port));
    c.write(get("/1m"));
    const r1 = await c.readResponse();
    expect(r1.status).toBe(200);
    expect(r1.body.length).toBe(mib.length);
    expect(r1.body.equals(mib)).toBe(true);
    c.write(get("/5m"));
    const r5 = await c.readResponse();
    expect(r5.status).toBe(200);
    expect(r5.body.length).toBe(five.length);
    expect(r5.body.equals(five)).toBe(true);
  });

  test("pipelining: GET, POST with a 5-byte body, GET in one write get three responses in order", async () => {
    const o = await echoOrigin();
    const c = await client(await proxy(o.port));
    c.write(get("/one") + "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get("/three"));
    const bodies: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await c.readResponse();
      expect(r.status).toBe(200);
      bodies.push(r.body.toString());
    }
    expect(bodies).toEqual(["GET /one ", "POST /two hello", "GET /three "]);
    expect(o.seen.map((s) => [s.method, s.url, s.body])).toEqual([
      ["GET", "/one", ""],
      ["POST", "/two", "hello"],
      ["GET", "/three", ""],
    ]);
  });

  test("103 Early Hints before the final 200: the client ends with the intact 200 and its body", async () => {
    const o = await rawOrigin((s) => {
      s.write("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n");
      setTimeout(() => s.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nfinal body!"), 20);
    });
    const c = await client(await proxy(o.port));
    c.write(get("/hints"));
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe("final body!");
    for (const info of r.informational) expect(info.status).toBe(103);
    // Same connection, again.
    c.write(get("/hints"));
    const r2 = await c.readResponse();
    expect(r2.status).toBe(200);
    expect(r2.body.toString()).toBe("final body!");
  });

  test("an unsolicited 100 Continue from the origin before the final 200: the client ends with the intact 200", async () => {
    // RFC 9110 §15.2: a client MUST be able to parse 1xx responses it did not expect.
    const o = await rawOrigin((s) => {
      s.write("HTTP/1.1 100 Continue\r\n\r\n");
      setTimeout(() => s.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"), 20);
    });
    const c = await client(await proxy(o.port));
    c.write(get("/"));
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe("done");
  });

  test("absolute-form request target: the origin sees the origin-form path and query", async () => {
    const o = await echoOrigin();
    const c = await client(await proxy(o.port));
    c.write("GET http://example.test/p?q=1 HTTP/1.1\r\nHost: example.test\r\n\r\n");
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    expect(o.seen.map((s) => s.url)).toEqual(["/p?q=1"]);
    expect(r.body.toString()).toBe("GET /p?q=1 ");
  });

  test("unusual but valid response header names and values arrive unchanged", async () => {
    const long = Array.from({ length: 8192 }, (_, i) => "abcdefghijklmnopqrstuvwxyz0123456789-_.~"[i % 40]).join("");
    const sent: [string, string][] = [
      ["X-Empty", ""],
      ["X-Long", long],
      ["X-Inner-Space", "a  b\tc"],
      ["X-Tchar!#$%&'*+-.^_`|~", "token-name"],
      ["X-Quoted", '"quoted, with comma; and semicolon" , next=1'],
      ["X-Repeated", "one"],
      ["X-Repeated", "two"],
    ];
    const o = await rawOrigin((s) => {
      s.write(`HTTP/1.1 200 OK\r\n${sent.map(([n, v]) => `${n}:${v === "" ? "" : " "}${v}\r\n`).join("")}Content-Length: 2\r\n\r\nok`);
    });
    const c = await client(await proxy(o.port));
    c.write(get("/"));
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe("ok");
    const names = new Set(sent.map(([n]) => n.toLowerCase()));
    const got = r.fields.filter(([n]) => names.has(n.toLowerCase())).map(([n, v]) => [n.toLowerCase(), v]);
    expect(got).toEqual(sent.map(([n, v]) => [n.toLowerCase(), v]));
  });

  test("a response header value with obs-text (raw UTF-8 bytes) arrives byte-for-byte", async () => {
    const value = Buffer.from('attachment; filename="r\u00e9sum\u00e9.pdf"', "utf8");
    const o = await rawOrigin((s) => {
      s.write(Buffer.concat([Buffer.from("HTTP/1.1 200 OK\r\nContent-Disposition: "), value, Buffer.from("\r\nContent-Length: 2\r\n\r\nok")]));
    });
    const c = await client(await proxy(o.port));
    c.write(get("/"));
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    expect(Buffer.from(header(r, "content-disposition") ?? "", "latin1").equals(value)).toBe(true);
  });
});
