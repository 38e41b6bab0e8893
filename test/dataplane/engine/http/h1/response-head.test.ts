import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { responseHeaders } from "../../../../../dataplane/engine/http/headers";
import { splitFields } from "../../../../../dataplane/engine/http/h1/parser";
import { parseFastHead, passHead } from "../../../../../dataplane/engine/http/h1/response-head";

const head = (...lines: string[]) => lines.join("\r\n");

describe("parseFastHead: the JavaScript fast path for common responses", () => {
  test("parses an HTTP/1.1 response with one Content-Length, keeping header order and case", () => {
    const h = parseFastHead(head("HTTP/1.1 200 OK", "Server: nginx", "Content-Length: 64", "Set-Cookie: a=1", "set-cookie: b=2", "X-Empty:"));
    expect(h).toEqual({
      status: 200,
      reason: "OK",
      raw: ["Server", "nginx", "Content-Length", "64", "Set-Cookie", "a=1", "set-cookie", "b=2", "X-Empty", ""],
      length: 64,
      keepAlive: true,
    });
  });

  test("Connection: close is seen; an empty reason phrase is allowed", () => {
    expect(parseFastHead(head("HTTP/1.1 404 ", "Connection: keep-alive, close", "Content-Length: 0"))).toMatchObject({ status: 404, reason: "", keepAlive: false, length: 0 });
    expect(parseFastHead(head("HTTP/1.1 500", "Content-Length: 3"))).toMatchObject({ status: 500, reason: "" });
  });

  test.each([
    ["HTTP/1.0", head("HTTP/1.0 200 OK", "Content-Length: 1")],
    ["no Content-Length (chunked or close-delimited)", head("HTTP/1.1 200 OK", "Server: x")],
    ["Transfer-Encoding", head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Content-Length: 5")],
    ["two Content-Lengths", head("HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length: 5")],
    ["a Content-Length that is not a number", head("HTTP/1.1 200 OK", "Content-Length: 5, 5")],
    ["a negative Content-Length", head("HTTP/1.1 200 OK", "Content-Length: -1")],
    ["1xx", head("HTTP/1.1 103 Early Hints", "Content-Length: 0")],
    ["204", head("HTTP/1.1 204 No Content", "Content-Length: 0")],
    ["304", head("HTTP/1.1 304 Not Modified", "Content-Length: 10")],
    ["an obs-folded line", head("HTTP/1.1 200 OK", "X-A: 1", " folded", "Content-Length: 1")],
    ["a bare LF", "HTTP/1.1 200 OK\nContent-Length: 1"],
    ["a lone CR", head("HTTP/1.1 200 OK", "X-A: a\rb", "Content-Length: 1")],
    ["a control character", head("HTTP/1.1 200 OK", "X-A: a\x01b", "Content-Length: 1")],
    ["a header name with a space", head("HTTP/1.1 200 OK", "X A: b", "Content-Length: 1")],
    ["a line without a colon", head("HTTP/1.1 200 OK", "garbage", "Content-Length: 1")],
    ["a malformed status line", head("HTTP/1.1 2000 OK", "Content-Length: 1")],
  ])("leaves %s to llhttp (undefined)", (_name, h) => {
    expect(parseFastHead(h)).toBeUndefined();
  });
});

describe("passHead: a common response head forwarded as the server wrote it, minus its hop-by-hop lines", () => {
  test("an nginx head: Connection and Keep-Alive lines removed, everything else verbatim and in order", () => {
    const h = head(
      "HTTP/1.1 200 OK",
      "Server: nginx/1.22.1",
      "Date: Sun, 23 Nov 2026 04:29:53 GMT",
      "Content-Type: application/octet-stream",
      "Content-Length: 64",
      "Connection: keep-alive",
      "Keep-Alive: timeout=5",
      "Set-Cookie: a=1",
      "set-cookie:b=2  ",
    );
    expect(passHead(h)).toEqual({
      status: 200,
      text: "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 23 Nov 2026 04:29:53 GMT\r\nContent-Type: application/octet-stream\r\nContent-Length: 64\r\nSet-Cookie: a=1\r\nset-cookie:b=2  \r\n",
      length: 64,
      keepAlive: true,
    });
  });

  test("a hop-by-hop line first or last, Connection: close seen, nothing removed", () => {
    expect(passHead(head("HTTP/1.1 201 Created", "connection: Keep-Alive, close", "Content-Length: 0"))).toEqual({ status: 201, text: "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n", length: 0, keepAlive: false });
    expect(passHead(head("HTTP/1.1 200 OK", "Content-Length: 1", "TE: x"))).toMatchObject({ text: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n" });
    expect(passHead(head("HTTP/1.1 200 OK", "content-length:  7 "))).toMatchObject({ text: "HTTP/1.1 200 OK\r\ncontent-length:  7 \r\n", length: 7 });
  });

  test.each([
    ["an empty reason phrase", head("HTTP/1.1 200 ", "Content-Length: 1")],
    ["no reason phrase", head("HTTP/1.1 200", "Content-Length: 1")],
    ["a Connection header naming another header", head("HTTP/1.1 200 OK", "Connection: close, X-Hop", "X-Hop: 1", "Content-Length: 1")],
    ["a header named close", head("HTTP/1.1 200 OK", "Close: 1", "Connection: close", "Content-Length: 1")],
    ["Transfer-Encoding", head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked")],
    ["no Content-Length", head("HTTP/1.1 200 OK", "Server: x")],
    ["two Content-Lengths", head("HTTP/1.1 200 OK", "Content-Length: 1", "Content-Length: 1")],
    ["204", head("HTTP/1.1 204 No Content", "Content-Length: 0")],
    ["a control character", head("HTTP/1.1 200 OK", "X-A: a\x01b", "Content-Length: 1")],
  ])("leaves %s to the general path (undefined)", (_name, h) => {
    expect(passHead(h)).toBeUndefined();
  });

  /** Mostly what the pass-through takes (weight 6), sometimes what it must refuse (1). */
  const mostly = <T>(good: fc.Arbitrary<T>, odd: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 6 }, { arbitrary: odd, weight: 1 });
  const statusLine = mostly(
    fc.constantFrom("HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.1 500 x", "HTTP/1.1 299 \u00fcber"),
    fc.constantFrom("HTTP/1.1 200 ", "HTTP/1.1 200", "HTTP/1.0 200 OK", "HTTP/1.1 204 No Content", "HTTP/1.1 304 NM", "HTTP/1.1 103 EH", "HTTP/1.1 2000 OK", "HTTP/1.1 200  OK"),
  );
  const name = mostly(
    fc.oneof(
      fc.constantFrom("Content-Length", "content-length", "Connection", "CONNECTION", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade", "Set-Cookie", "Server", "X-Hop"),
      fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,10}$/),
    ),
    fc.constantFrom("Transfer-Encoding", "close", "Bad Name", "", " X-Fold", "Content-Length "),
  );
  const sep = fc.constantFrom(":", ": ", ":\t", ":  ");
  const value = mostly(
    fc.oneof(fc.constantFrom("close", "keep-alive", "Keep-Alive, close", " , close ,", "", "12", " 64 ", "x-hop", "a,,b", "timeout=5"), fc.stringMatching(/^[ -~]{0,16}$/)),
    fc.constantFrom("close, x-hop", "a\u0001b", "a\rb", "\u00a064", "\u00fc", "-1", "1, 1"),
  );
  const lengthLine = fc.constantFrom([], [{ name: "Content-Length", sep: ": ", value: "64" }]);
  const arbHead = fc
    .record({ statusLine, lines: fc.array(fc.record({ name, sep, value }), { maxLength: 7 }), length: lengthLine, at: fc.nat() })
    .map(({ statusLine, lines, length, at }) => {
      const all = [...lines];
      all.splice(at % (all.length + 1), 0, ...length);
      return [statusLine, ...all.map((l) => `${l.name}${l.sep}${l.value}`)].join("\r\n");
    });

  test("forwards exactly the fields the general path (parseFastHead, then responseHeaders) would, with the same status, length and keep-alive", () => {
    let taken = 0;
    fc.assert(
      fc.property(arbHead, (h) => {
        const pass = passHead(h);
        if (!pass) return;
        taken++;
        const fast = parseFastHead(h);
        expect(fast).toBeDefined();
        expect(pass).toMatchObject({ status: fast!.status, length: fast!.length, keepAlive: fast!.keepAlive });
        expect(fast!.reason).not.toBe("");
        expect(pass.text.endsWith("\r\n")).toBe(true);
        const text = pass.text.slice(0, -2);
        const eol = text.indexOf("\r\n");
        expect(eol === -1 ? text : text.slice(0, eol)).toBe(`HTTP/1.1 ${fast!.status} ${fast!.reason}`);
        const fields = eol === -1 ? [] : splitFields(text, eol + 2)!;
        for (let i = 1; i < fields.length; i += 2) fields[i] = fields[i]!.trim();
        expect(fields).toEqual(responseHeaders(fast!.raw));
      }),
      { numRuns: 3000 },
    );
    expect(taken).toBeGreaterThan(300); // the generator reaches the pass-through, not only its refusals
  });
});
