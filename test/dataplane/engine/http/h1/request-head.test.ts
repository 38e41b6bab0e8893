import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { METHODS, REQUEST, createParser, freeParser } from "../../../../../dataplane/engine/http/h1/parser";
import { fieldsOf, parseFastRequest } from "../../../../../dataplane/engine/http/h1/request-head";
import { forwardHead, requestHeaders, type ForwardContext } from "../../../../../dataplane/engine/http/headers";
import { requestLines } from "../../../../../dataplane/engine/http/tunnel";

/** What strict llhttp makes of `head` + the empty line: the request, or why it refused it. */
function llhttp(head: string): { error: string } | { method: string; url: string; raw: string[]; keepAlive: boolean; upgrade: boolean; complete: boolean } {
  let seen: { method: string; url: string; raw: string[]; keepAlive: boolean; upgrade: boolean; complete: boolean } | undefined;
  let partHeaders: string[] = [];
  let partUrl = "";
  const p = createParser(REQUEST, 16384, {
    onHeaders: (h, u) => {
      partHeaders = partHeaders.concat(h);
      partUrl += u;
    },
    onHeadersComplete: (_maj, _min, headers, method, url, _s, _r, upgrade, keepAlive) => {
      seen = { method: METHODS[method ?? -1] ?? "?", url: partUrl + (url ?? ""), raw: partHeaders.concat(headers ?? []), keepAlive, upgrade, complete: false };
      return 0;
    },
    onBody: () => {},
    onMessageComplete: () => {
      if (seen) seen.complete = true;
    },
  });
  try {
    const ret = p.execute(Buffer.from(head + "\r\n\r\n", "latin1"));
    if (typeof ret !== "number") return { error: ret.code };
    return seen ?? { error: "incomplete" };
  } finally {
    freeParser(p);
  }
}

/** Mostly what the fast path takes (weight 6), sometimes what it must refuse or llhttp judges (1). */
const mostly = <T>(good: fc.Arbitrary<T>, odd: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 6 }, { arbitrary: odd, weight: 1 });
const method = mostly(fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"), fc.constantFrom("TRACE", "CONNECT", "get", "GE T", ""));
const url = mostly(
  fc.oneof(fc.constantFrom("/", "/a/b?c=d&e=%20", "//x", "/?q=a:b@c"), fc.stringMatching(/^\/[ -~]{0,12}$/)),
  fc.constantFrom("*", "http://x/y", "/a b", "/#frag", "/\u00fc", "/a\tb", "/a\u0001", ""),
);
const version = mostly(fc.constant("HTTP/1.1"), fc.constantFrom("HTTP/1.0", "HTTP/1.2", "http/1.1", "HTTP/1.1 "));
const name = mostly(
  fc.oneof(fc.constantFrom("Host", "X-A", "Connection", "connection", "Cookie", "Accept"), fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,10}$/)),
  fc.constantFrom("content-length", "Content-Length", "Transfer-Encoding", "Upgrade", "Expect", "Bad Name", "X@Y", "", " X-Fold", "\tX"),
);
const sep = fc.constantFrom(":", ": ", ":\t", ":  ", ":", ": ", " :");
const value = mostly(
  fc.oneof(fc.constantFrom("close", "keep-alive", "keep-alive, close", " padded ", "trail \t", "", "12", "a,,b", "Close"), fc.stringMatching(/^[ -~]{0,16}$/)),
  fc.constantFrom("Close, Upgrade", "upgrade", "a\u0001b", "a\rb", "a\nb", "\u00fc", "chunked", "100-continue"),
);
const eol = mostly(fc.constant("\r\n"), fc.constant("\n"));
const head = fc
  .record({
    method,
    url,
    version,
    lines: fc.array(fc.record({ name, sep, value, eol }), { maxLength: 6 }),
  })
  .map(({ method, url, version, lines }) => `${method} ${url} ${version}` + lines.map((l) => `${l.eol}${l.name}${l.sep}${l.value}`).join(""));

describe("request heads parsed in JavaScript (the fast path) agree with llhttp", () => {
  test("whatever the fast path takes, llhttp takes the same way, as a complete bodiless request", () => {
    let taken = 0;
    fc.assert(
      fc.property(head, (h) => {
        const fast = parseFastRequest(h, 8192);
        if (!fast) return;
        taken++;
        const ref = llhttp(h);
        expect(ref).not.toHaveProperty("error");
        if ("error" in ref) return;
        expect(ref.upgrade).toBe(false);
        expect(ref.complete).toBe(true);
        expect(fast.method).toBe(ref.method);
        expect(fast.url).toBe(ref.url);
        expect(fieldsOf(fast)).toEqual(ref.raw);
        expect(fast.keepAlive).toBe(ref.keepAlive);
      }),
      { numRuns: 20_000, seed: 20261122 },
    );
    // The generator must reach the fast path often, or the comparison above proves little.
    expect(taken).toBeGreaterThan(1000);
  });

  test("takes the requests a busy balancer sees", () => {
    const r = parseFastRequest("GET /api/items?id=7 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: wrk\r\nCookie: a=b; c=d\r\nConnection: keep-alive", 8192);
    expect(r).toMatchObject({ method: "GET", url: "/api/items?id=7", keepAlive: true, plain: true });
    expect(fieldsOf(r!)).toEqual(["Host", "example.com", "User-Agent", "wrk", "Cookie", "a=b; c=d", "Connection", "keep-alive"]);
    const close = parseFastRequest("DELETE /x HTTP/1.1\r\nHost: h\r\nConnection: close", 8192);
    expect(close).toMatchObject({ keepAlive: false, plain: false });
  });

  test("leaves to llhttp: bodies, HTTP/1.0, upgrades, expectations, odd targets, bare LF, obs-fold, oversize heads", () => {
    for (const h of [
      "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3",
      "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked",
      "GET /x HTTP/1.0\r\nHost: h",
      "GET /x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket",
      "PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue",
      "GET http://h/x HTTP/1.1\r\nHost: h",
      "OPTIONS * HTTP/1.1\r\nHost: h",
      "CONNECT h:443 HTTP/1.1\r\nHost: h",
      "GET /x HTTP/1.1\nHost: h",
      "GET /x HTTP/1.1\r\nHost: h\r\n folded",
      "GET /x HTTP/1.1\r\nHost : h",
      "GET /x HTTP/1.1\r\nX: a\u0000b",
      `GET /x HTTP/1.1\r\nX: ${"a".repeat(9000)}`,
    ]) {
      expect(parseFastRequest(h, 8192), JSON.stringify(h.slice(0, 60))).toBeUndefined();
    }
  });
});

/** Start line and fields (values without surrounding OWS) of a head as sent upstream. */
function fieldsSent(text: string): string[] {
  expect(text.endsWith("\r\n")).toBe(true);
  const lines = text.slice(0, -2).split("\r\n");
  const out = [lines[0]!];
  for (const l of lines.slice(1)) {
    const colon = l.indexOf(":");
    out.push(l.slice(0, colon), l.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, ""));
  }
  return out;
}

const FORWARDABLE = ["X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-LBIP", "X-Forwarded-Host"] as const;
const fieldName = fc.oneof(
  fc.constantFrom("Host", "host", "HOST", "Cookie", "cookie", "X-Forwarded-For", "x-forwarded-for", "X-Forwarded-Proto", "x-forwarded-host"),
  fc.constantFrom("X-Forwarded-Port", "X-Forwarded-LBIP", "X-Forwarded-Other", "Connection", "Keep-Alive", "TE", "Trailer", "Proxy-Connection"),
  fc.constantFrom("Accept", "User-Agent", "Te-X", "Hostx", "Cookies", "X-Forwarded", "Trailers", "Keep-Alive2", "Connectionx"),
  fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,14}$/),
);
const fieldValue = fc.oneof(fc.constantFrom("keep-alive", "", " a=b; BALLAST_web=s1 ", "10.0.0.1", "x\ty"), fc.stringMatching(/^[ -~]{0,12}$/));
const forwardable = fc
  .record({
    url: fc.oneof(fc.constantFrom("/", "/a?b=c"), fc.stringMatching(/^\/[A-Za-z0-9._~%?=&/-]{0,10}$/)),
    lines: fc.array(fc.record({ name: fieldName, sep: fc.constantFrom(": ", ":", ":\t", " :"), value: fieldValue }), { maxLength: 9 }),
    forwarded: fc.subarray([...FORWARDABLE]),
  })
  .map(({ url, lines, forwarded }) => ({ head: `GET ${url} HTTP/1.1` + lines.map((l) => `\r\n${l.name}${l.sep}${l.value}`).join(""), forwarded }));

describe("the upstream head built from the client's text", () => {
  const ctx = (forwarded: readonly string[]): ForwardContext => ({ clientIp: "192.0.2.7", localIp: "127.0.0.1", listenerProtocol: "http", listenerPort: 8080, forwarded, underscores: false });

  test("sends the fields, in the order, that the field-by-field path sends, and refuses what it refuses", () => {
    let compared = 0;
    let exact = 0;
    fc.assert(
      fc.property(forwardable, ({ head, forwarded }) => {
        const fast = parseFastRequest(head, 8192);
        if (!fast?.plain) return;
        compared++;
        const raw = fieldsOf(fast);
        const ref = requestHeaders(raw, false, ctx(forwarded));
        const got = forwardHead(fast, fast.url, ctx(forwarded));
        expect(got.ok).toBe(ref.ok);
        if (!got.ok || !ref.ok) return;
        expect(fieldsSent(got.head)).toEqual(fieldsSent(requestLines("GET", fast.url, ref.headers)));
        expect(got.hasHost).toBe(ref.hasHost);
        // The Cookie fields collected are the request's own.
        const cookies: string[] = [];
        for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === "cookie") cookies.push("cookie", raw[i + 1]!);
        expect(got.cookies).toEqual(cookies);
        // Written the usual way (`Name: value`), every byte is the same.
        if (!/:(?! \S)|\s\r\n|\s$/.test(head.slice(head.indexOf("\r\n") + 2))) {
          exact++;
          expect(got.head).toBe(requestLines("GET", fast.url, ref.headers));
        }
      }),
      { numRuns: 8_000, seed: 20261123 },
    );
    expect(compared).toBeGreaterThan(2000);
    expect(exact).toBeGreaterThan(500);
  });

  test("forwards the common browser request's lines as written, Host after them, X-Forwarded-For appended", () => {
    const head =
      "GET /app.js?v=2 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11)\r\nAccept: */*\r\nConnection: keep-alive\r\n" +
      "Cookie: s=1; BALLAST_web=abc\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nSec-Fetch-Mode: no-cors";
    const fast = parseFastRequest(head, 8192)!;
    const got = forwardHead(fast, fast.url, ctx(["X-Forwarded-Proto"]));
    expect(got).toEqual({
      ok: true,
      head:
        "GET /app.js?v=2 HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (X11)\r\nAccept: */*\r\nCookie: s=1; BALLAST_web=abc\r\nSec-Fetch-Mode: no-cors\r\n" +
        "host: www.example.com\r\nx-forwarded-for: 10.0.0.1, 192.0.2.7\r\nx-forwarded-proto: http\r\n",
      hasHost: true,
      clientIp: "192.0.2.7",
      cookies: ["cookie", "s=1; BALLAST_web=abc"],
    });
    expect(forwardHead(parseFastRequest("GET / HTTP/1.1\r\nHost: a\r\nhost: b", 8192)!, "/", ctx([]))).toEqual({ ok: false, reason: "more than one Host header" });
  });
});
