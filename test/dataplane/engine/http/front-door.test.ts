import net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { checkRequestLine, requestLineAt } from "../../../../dataplane/engine/http/h1/request-line";
import { requestTarget } from "../../../../dataplane/engine/http/request-target";
import { startOrigin, type Origin } from "../../../helpers/origin";
import { Harness, exchange, snapshotOf } from "./harness";

/**
 * The front door (issue 19): request lines and versions llhttp would take but HTTP/1.1 does not
 * allow are refused before anything reaches a server. docs/traffic.md, "The front door".
 */

const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

describe("checkRequestLine", () => {
  test.each([
    ["GET / HTTP/1.1", undefined],
    ["POST /a?b=c HTTP/1.0", undefined],
    ["OPTIONS * HTTP/1.1", undefined],
    ["GET http://example.com/x HTTP/1.1", undefined],
    ["GET / HTTP/2.0", 505],
    ["GET / HTTP/1.2", 505],
    ["GET / HTTP/0.9", 505],
    ["GET /", 400],
    ["GET  / HTTP/1.1", 400],
    ["GET /  HTTP/1.1", 400],
    ["GET / HTTP/1.1 ", 400],
    [" GET / HTTP/1.1", 400],
    ["GET\t/ HTTP/1.1", 400],
    ["GET / HTTP/1.x", 400],
    ["GET / http/1.1", 400],
    ["GET", 400],
  ])("%j → %s", (line, status) => {
    expect(checkRequestLine(line)?.status).toBe(status);
  });

  test("the line is found after the empty lines a client may send first, and not before its end", () => {
    expect(requestLineAt(Buffer.from("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n"), 0, 100)).toEqual({ line: "GET / HTTP/1.1", lineStart: 4, end: 20 });
    expect(requestLineAt(Buffer.from("GET / HT"), 0, 100)).toEqual({ line: undefined, lineStart: 0, end: 8 });
  });
});

describe("the front door (raw sockets)", () => {
  let h: Harness;
  let a: Origin;
  afterEach(async () => {
    await h?.close();
    await a?.close();
  });

  async function setup() {
    a = await startOrigin("a");
    // A long head timeout: a request held waiting for more would hold its connection past the guard.
    h = new Harness({ http: { clientHeadersTimeoutMs: 60_000 } });
    await h.engine.apply(snapshotOf({ servers: [{ port: a.port }] }));
  }

  test.each([
    ["HTTP/2.0 on an HTTP/1 listener", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505],
    ["HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505],
    ["two spaces after the method", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["two spaces before the version", "GET /  HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["a body-carrying request with a malformed line", "POST  / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok", 400],
  ])("%s: refused with %i, the connection closed, nothing forwarded", async (_what, data, status) => {
    await setup();
    const r = await exchange(h.port(), [data]);
    expect(statuses(r.text)).toEqual([status]);
    expect(r.closed).toBe(true);
    expect(a.requests).toHaveLength(0);
  });

  test("an HTTP/0.9 request is answered 400 at once and closed, not held for headers that never come", async () => {
    await setup();
    const r = await exchange(h.port(), ["GET /\r\n"]);
    expect(r.closed).toBe(true);
    expect(statuses(r.text)).toEqual([400]);
    expect(r.text).toContain("HTTP/0.9");
    expect(a.requests).toHaveLength(0);
  });

  test("a request line split over several reads is judged as a whole", async () => {
    await setup();
    const bad = await exchange(h.port(), ["GE", "T  /", " HTTP/1.1\r", "\nHost: x\r\n\r\n"]);
    expect(statuses(bad.text)).toEqual([400]);
    const good = await exchange(h.port(), ["\r\nGE", "T /", " HTTP/1.1\r", "\nHost: x\r\nConnection: close\r\n\r\n"]);
    expect(statuses(good.text)).toEqual([200]);
    expect(a.requests).toHaveLength(1);
  });

  test("pipelined behind a strict-path request (bodiless or with a Content-Length body), a malformed line is refused and never forwarded", async () => {
    await setup();
    // HTTP/1.0 and a POST go through llhttp; the request after each is judged where it starts. A
    // refused request poisons its connection: it is answered with the refusal and closed, as for any
    // malformed pipelined request (the requests before it are abandoned).
    const afterBodiless = await exchange(h.port(), ["GET /one HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\nGET  /two HTTP/1.1\r\nHost: x\r\n\r\n"]);
    expect(afterBodiless.closed).toBe(true);
    expect(statuses(afterBodiless.text)).toEqual([400]);
    // A body of 5 bytes ends in the middle of a CRLF: the next request starts at its bare LF.
    const afterBody = await exchange(h.port(), ["POST /three HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab\r\n\r\nGET / HTTP/2.0\r\nHost: x\r\n\r\n"]);
    expect(afterBody.closed).toBe(true);
    expect(statuses(afterBody.text)).toEqual([505]);
    expect(a.requests.map((r) => r.url).filter((u) => u !== "/one" && u !== "/three")).toEqual([]);
  });

  test("well-formed pipelined requests after a Content-Length body all pass", async () => {
    await setup();
    const r = await exchange(h.port(), ["POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyzGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]);
    expect(statuses(r.text)).toEqual([200, 200, 200]);
    expect(a.requests.map((x) => x.url)).toEqual(["/a", "/b", "/c"]);
  });
});

describe("the front door: header lines and response framing", () => {
  let h: Harness | undefined;
  let a: Origin | undefined;
  let raw: net.Server | undefined;
  afterEach(async () => {
    await h?.close();
    await a?.close();
    await new Promise<void>((r) => (raw ? raw.close(() => r()) : r()));
    h = undefined;
    a = undefined;
    raw = undefined;
  });

  const headLines = (n: number) => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join("");

  test.each([
    ["a bodiless GET (the fast path)", "GET / HTTP/1.1\r\n"],
    ["a POST (llhttp's path)", "POST / HTTP/1.1\r\nContent-Length: 0\r\n"],
  ])("%s: 100 header lines with Host pass, 101 get 431 and nothing is forwarded", async (_what, start) => {
    a = await startOrigin("a");
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: a.port }] }));
    const extra = start.includes("Content-Length") ? 1 : 0;
    const ok = await exchange(h.port(), [`${start}Host: x\r\nConnection: close\r\n${headLines(98 - extra)}\r\n`]);
    expect(statuses(ok.text)).toEqual([200]);
    const tooMany = await exchange(h.port(), [`${start}Host: x\r\nConnection: close\r\n${headLines(99 - extra)}\r\n`]);
    expect(statuses(tooMany.text)).toEqual([431]);
    expect(tooMany.closed).toBe(true);
    expect(a.requests).toHaveLength(1);
  });

  async function rawOrigin(response: string): Promise<number> {
    raw = net.createServer((s) => {
      s.on("error", () => {});
      s.once("data", () => s.end(response));
    });
    await new Promise<void>((r) => raw!.listen(0, "127.0.0.1", r));
    return (raw.address() as net.AddressInfo).port;
  }

  test.each([
    ["xchunked", "Transfer-Encoding: xchunked\r\n", 502],
    ["chunked, then gzip", "Transfer-Encoding: chunked, gzip\r\n", 502],
    ["gzip, then chunked", "Transfer-Encoding: gzip, chunked\r\n", 200],
    ["chunked", "Transfer-Encoding: chunked\r\n", 200],
  ])("a response with Transfer-Encoding %s: %i", async (_what, te, status) => {
    const port = await rawOrigin(`HTTP/1.1 200 OK\r\n${te}\r\n2\r\nok\r\n0\r\n\r\n`);
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port }] }));
    const r = await exchange(h.port(), ["GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]);
    expect(statuses(r.text)).toEqual([status]);
  });
});

describe("the front door: header names with '_'", () => {
  let h: Harness | undefined;
  let a: Origin | undefined;
  afterEach(async () => {
    await h?.close();
    await a?.close();
    h = undefined;
    a = undefined;
  });

  async function setup(underscoresInHeaders?: boolean) {
    a = await startOrigin("a");
    h = new Harness();
    await h.engine.apply(snapshotOf({ listeners: [{ underscoresInHeaders }], servers: [{ port: a.port }] }));
  }
  const names = (raw: string[]) => raw.filter((_, i) => i % 2 === 0);

  const UNDERSCORED = "Transfer_Encoding: chunked\r\nX_Forwarded_For: 6.6.6.6\r\nX-Forwarded-For_: 7.7.7.7\r\nCookie: _ga=1_2\r\nX-Keep: a_b\r\n";
  // The closing request comes in a later write, so the first one's head is alone in its read.
  const CLOSE = "GET /end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

  test.each([
    // A keep-alive bodiless GET whose Connection names nothing is forwarded by `forwardHead`.
    ["a keep-alive bodiless GET (the fast path)", [`GET /u HTTP/1.1\r\nHost: x\r\n${UNDERSCORED}\r\n`, CLOSE]],
    ["a POST (llhttp's path)", [`POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n${UNDERSCORED}\r\nok`]],
    ["a head split across writes (llhttp's path)", [`GET /u HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer_Enc`, `oding: chunked\r\nX_Forwarded_For: 6.6.6.6\r\nX-Forwarded-For_: 7.7.7.7\r\nCookie: _ga=1_2\r\nX-Keep: a_b\r\n\r\n`]],
    ["a GET whose Connection names a header (field by field)", [`GET /u HTTP/1.1\r\nHost: x\r\nConnection: X-Drop, close\r\nX-Drop: 1\r\n${UNDERSCORED}\r\n`]],
  ])("%s: dropped by default, never reaching the server; the rest passes", async (_what, parts) => {
    await setup();
    const r = await exchange(h!.port(), parts);
    expect(statuses(r.text)[0]).toBe(200);
    const got = a!.requests[0]!;
    expect(got.url).toBe("/u");
    expect(names(got.rawHeaders).filter((n) => n.includes("_"))).toEqual([]);
    // `_` in values is nothing to the rule.
    expect(got.headers["cookie"]).toBe("_ga=1_2");
    expect(got.headers["x-keep"]).toBe("a_b");
    expect(got.headers["x-forwarded-for"]).toBe("127.0.0.1");
  });

  test.each([
    ["a keep-alive bodiless GET (the fast path)", [`GET /u HTTP/1.1\r\nHost: x\r\nX_Api_Key: k1\r\n\r\n`, CLOSE]],
    ["a POST (llhttp's path)", [`POST /u HTTP/1.1\r\nHost: x\r\nX_Api_Key: k1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`]],
    ["a GET with Connection: close (field by field)", [`GET /u HTTP/1.1\r\nHost: x\r\nX_Api_Key: k1\r\nConnection: close\r\n\r\n`]],
  ])("%s: with underscoresInHeaders the listener forwards them as sent", async (_what, parts) => {
    await setup(true);
    const r = await exchange(h!.port(), parts);
    expect(statuses(r.text)[0]).toBe(200);
    expect(names(a!.requests[0]!.rawHeaders)).toContain("X_Api_Key");
    expect(a!.requests[0]!.headers["x_api_key"]).toBe("k1");
  });
});

describe("requestTarget", () => {
  test.each([
    ["/a?b", { path: "/a?b", authority: undefined }],
    ["http://example.com/x?y=1", { path: "/x?y=1", authority: "example.com" }],
    ["HTTPS://Example.com:8443", { path: "/", authority: "Example.com:8443" }],
    ["http://example.com?q", { path: "/?q", authority: "example.com" }],
    ["http://[::1]:81/v", { path: "/v", authority: "[::1]:81" }],
    ["ftp://example.com/x", undefined],
    ["http:///x", undefined],
    ["http://user@example.com/x", undefined],
    ["http://example.com:99999/x", undefined],
    ["http://example.com:8o/x", undefined],
    ["http://example.com/x#frag", undefined],
    ["example.com/x", undefined],
    ["*", undefined],
  ])("%j → %j", (url, want) => {
    expect(requestTarget(url)).toEqual(want);
  });
});

describe("the front door: absolute-form targets", () => {
  let h: Harness | undefined;
  let a: Origin | undefined;
  afterEach(async () => {
    await h?.close();
    await a?.close();
    h = undefined;
    a = undefined;
  });

  async function setup() {
    a = await startOrigin("a");
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: a.port }], service: { forwardedHeaders: ["X-Forwarded-Host"] } }));
  }

  test.each([
    ["a bodiless GET", ["GET http://example.com:8080/x?y=1 HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n"]],
    ["a keep-alive GET", ["GET http://example.com:8080/x?y=1 HTTP/1.1\r\nHost: other\r\n\r\n", "GET /end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]],
    ["a POST with a body", ["POST http://example.com:8080/x?y=1 HTTP/1.1\r\nHost: other\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"]],
    ["a head split across writes", ["GET http://example.com:8080/x?y=1 HTTP/1.1\r\nHo", "st: other\r\nConnection: close\r\n\r\n"]],
    ["HTTP/1.0 without Host", ["GET http://example.com:8080/x?y=1 HTTP/1.0\r\n\r\n"]],
  ])("%s: forwarded in origin-form with the target's authority as Host", async (_what, parts) => {
    await setup();
    const r = await exchange(h!.port(), parts);
    expect(statuses(r.text)[0]).toBe(200);
    const got = a!.requests[0]!;
    expect(got.url).toBe("/x?y=1");
    expect(got.rawHeaders.filter((_, i) => i % 2 === 0 && /^host$/i.test(got.rawHeaders[i]!))).toHaveLength(1);
    expect(got.headers["host"]).toBe("example.com:8080");
    expect(got.headers["x-forwarded-host"]).toBe("example.com:8080");
  });

  test.each([
    ["a non-http scheme", "ftp://example.com/x"],
    ["an empty host", "http:///x"],
    ["userinfo", "http://user@example.com/x"],
    ["a port out of range", "http://example.com:99999/x"],
  ])("%s: 400, nothing reaches the server", async (_what, target) => {
    await setup();
    const r = await exchange(h!.port(), [`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`]);
    expect(statuses(r.text)).toEqual([400]);
    expect(r.closed).toBe(true);
    expect(a!.requests).toEqual([]);
  });
});
