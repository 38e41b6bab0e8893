import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { METHODS, REQUEST, createParser, freeParser } from "../../../../dataplane/engine/h1/parser";
import { parseFastRequest } from "../../../../dataplane/engine/h1/request-head";

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
        expect(fast.raw).toEqual(ref.raw);
        expect(fast.keepAlive).toBe(ref.keepAlive);
      }),
      { numRuns: 20_000, seed: 20261122 },
    );
    // The generator must reach the fast path often, or the comparison above proves little.
    expect(taken).toBeGreaterThan(1000);
  });

  test("takes the requests a busy balancer sees", () => {
    const r = parseFastRequest("GET /api/items?id=7 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: wrk\r\nCookie: a=b; c=d\r\nConnection: keep-alive", 8192);
    expect(r).toEqual({
      method: "GET",
      url: "/api/items?id=7",
      raw: ["Host", "example.com", "User-Agent", "wrk", "Cookie", "a=b; c=d", "Connection", "keep-alive"],
      keepAlive: true,
    });
    expect(parseFastRequest("DELETE /x HTTP/1.1\r\nHost: h\r\nConnection: close", 8192)?.keepAlive).toBe(false);
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
