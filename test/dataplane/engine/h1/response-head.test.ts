import { describe, expect, test } from "vitest";
import { parseFastHead } from "../../../../dataplane/engine/h1/response-head";

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
