import net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { startOrigin, type Origin } from "../../../helpers/origin";
import { Harness, rawRequest, snapshotOf } from "./harness";

describe("HttpProxy: forwarding", () => {
  let h: Harness;
  const origins: Origin[] = [];
  const extra: net.Server[] = [];
  afterEach(async () => {
    await h?.close();
    await Promise.all(origins.splice(0).map((o) => o.close()));
    for (const s of extra.splice(0)) await new Promise((r) => s.close(r));
  });
  const origin = async (name: string) => {
    const o = await startOrigin(name);
    origins.push(o);
    return o;
  };

  test("forwards a request and answers with the server's response", async () => {
    const a = await origin("a");
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: a.port }] }));
    const res = await h.get("/hello?x=1");
    expect(res).toMatchObject({ status: 200, body: "a" });
    expect(res.headers["x-origin"]).toBe("a");
    expect(a.requests.at(-1)).toMatchObject({ method: "GET", url: "/hello?x=1" });
  });

  test("sets X-Forwarded-For always, appending to the client's, and the configured X-Forwarded-* exactly", async () => {
    const a = await origin("a");
    h = new Harness();
    await h.engine.apply(
      snapshotOf({ servers: [{ port: a.port }], service: { forwardedHeaders: ["X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-LBIP", "X-Forwarded-Host"] } }),
    );
    await h.get("/", { headers: { "x-forwarded-for": "203.0.113.7, 198.51.100.1", host: "shop.example:8443", "x-forwarded-proto": "gopher" } });
    const got = a.requests.at(-1)!.headers;
    expect(got["x-forwarded-for"]).toBe("203.0.113.7, 198.51.100.1, 127.0.0.1");
    expect(got["x-forwarded-proto"]).toBe("http"); // the client's value is replaced, not trusted
    expect(got["x-forwarded-port"]).toBe(String(h.port()));
    expect(got["x-forwarded-lbip"]).toBe("127.0.0.1");
    expect(got["x-forwarded-host"]).toBe("shop.example:8443");
    expect(got.host).toBe("shop.example:8443"); // the original Host goes to the server unchanged
    await h.get("/");
    expect(a.requests.at(-1)!.headers["x-forwarded-for"]).toBe("127.0.0.1");
  });

  test("adds only X-Forwarded-For when the service lists no forwarded headers", async () => {
    const a = await origin("a");
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: a.port }] }));
    await h.get("/");
    const names = Object.keys(a.requests.at(-1)!.headers).filter((n) => n.startsWith("x-forwarded"));
    expect(names).toEqual(["x-forwarded-for"]);
  });

  test("strips hop-by-hop headers, and any named in Connection, in both directions", async () => {
    // A raw server so the response can carry hop-by-hop headers of our choosing.
    let seen = "";
    const raw = net.createServer((s) => {
      s.on("data", (d) => {
        seen += d.toString("latin1");
        if (!seen.includes("\r\n\r\n")) return;
        s.end(
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nKeep-Alive: timeout=5\r\n" +
            "Proxy-Connection: keep-alive\r\nTrailer: X-T\r\nUpgrade: h2c\r\nX-Kept: yes\r\n\r\nok",
        );
      });
    });
    extra.push(raw);
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: (raw.address() as net.AddressInfo).port }] }));
    const res = await rawRequest(
      h.port(),
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Client-Hop\r\nX-Client-Hop: 1\r\nKeep-Alive: 300\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nX-Kept: yes\r\n\r\n",
    );
    const up = seen.toLowerCase();
    for (const h of ["x-client-hop", "keep-alive:", "proxy-connection", "te:", "upgrade:"]) expect(up).not.toContain(`\r\n${h}`);
    expect(up).toContain("\r\nx-kept: yes");
    const down = res.toLowerCase();
    expect(down.startsWith("http/1.1 200")).toBe(true);
    // The proxy's own Connection/Keep-Alive for the client hop are fine; the server's are not.
    for (const h of ["x-secret-hop", "keep-alive: timeout=5", "proxy-connection", "trailer:", "upgrade:"]) expect(down).not.toContain(`\r\n${h}`);
    expect(down).toContain("\r\nx-kept: yes");
  });

  test("a common response head (only standard hop-by-hop headers) reaches the client verbatim, minus those lines", async () => {
    // The head the pass-through path (passHead) takes: the client gets the server's own lines, in
    // order, byte for byte, and none of its hop-by-hop ones.
    const head =
      "HTTP/1.1 200 Fine Thanks\r\nServer: raw\r\nkeep-alive: timeout=5\r\nX-Spaced:   a  b  \r\nSet-Cookie: a=1\r\nContent-Length: 2\r\n" +
      "Connection: keep-alive\r\nProxy-Connection: keep-alive\r\nset-cookie:b=2\r\nTE: x\r\nX-Last: z";
    const raw = net.createServer((s) => {
      let seen = "";
      s.on("data", (d) => {
        seen += d.toString("latin1");
        if (seen.includes("\r\n\r\n")) s.write(`${head}\r\n\r\nok`);
      });
    });
    extra.push(raw);
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: (raw.address() as net.AddressInfo).port }] }));
    const res = await rawRequest(h.port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(res).toBe(
      "HTTP/1.1 200 Fine Thanks\r\nServer: raw\r\nX-Spaced:   a  b  \r\nSet-Cookie: a=1\r\nContent-Length: 2\r\nset-cookie:b=2\r\nX-Last: z\r\n" +
        "Connection: close\r\n\r\nok",
    );
  });

  test("a chunked request goes upstream with Transfer-Encoding only, a sized one with Content-Length only", async () => {
    let heads: string[] = [];
    const raw = net.createServer((s) => {
      let buf = "";
      s.on("data", (d) => {
        buf += d.toString("latin1");
        const end = buf.indexOf("\r\n\r\n");
        if (end !== -1 && (buf.includes("0\r\n\r\n") || /content-length: 5/i.test(buf)) && buf.length > end + 4) {
          heads.push(buf.slice(0, end).toLowerCase());
          buf = "";
          s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
      });
    });
    extra.push(raw);
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: (raw.address() as net.AddressInfo).port }] }));
    await rawRequest(h.port(), "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    await rawRequest(h.port(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    expect(heads).toHaveLength(2);
    expect(heads[0]).toContain("transfer-encoding: chunked");
    expect(heads[0]).not.toContain("content-length");
    expect(heads[1]).toContain("content-length: 5");
    expect(heads[1]).not.toContain("transfer-encoding");
    heads = [];
  });

  test("503 with a short body when the service has no usable server", async () => {
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: 9, weight: 0 }] }));
    const res = await h.get("/");
    expect(res.status).toBe(503);
    expect(res.body).toBe("no healthy server for service web\n");
    expect(res.headers["content-type"]).toBe("text/plain; charset=utf-8");
  });

  test("a refused server is skipped: the request is retried on another, then 502 when none is left", async () => {
    const a = await origin("a");
    const dead = await origin("dead");
    const deadPort = dead.port;
    await dead.kill();
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: deadPort }, { port: a.port }] }));
    for (let i = 0; i < 6; i++) expect(await h.get("/")).toMatchObject({ status: 200, body: "a" });
    await a.kill();
    const res = await h.get("/");
    expect(res.status).toBe(502);
    expect(res.body).toBe("no server of service web could be reached\n");
  });

  test("504 when the server does not start answering within the upstream headers timeout", async () => {
    const a = await origin("a");
    h = new Harness({ http: { upstreamHeadersTimeoutMs: 300 } });
    await h.engine.apply(snapshotOf({ servers: [{ port: a.port }] }));
    const res = await h.get("/slow?ms=3000");
    expect(res.status).toBe(504);
    expect(res.body).toBe("a server of service web did not answer within 300 ms\n");
    expect((await h.get("/slow?ms=10")).status).toBe(200);
  });

  test("a server answering with broken framing gives 502, and that connection is not reused", async () => {
    let connections = 0;
    let n = 0;
    const raw = net.createServer((s) => {
      connections++;
      s.on("data", () => {
        n++;
        // First answer: conflicting framing. Then good answers.
        if (n === 1) s.write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd");
        else s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      });
      s.on("error", () => {});
    });
    extra.push(raw);
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: (raw.address() as net.AddressInfo).port }] }));
    const bad = await h.get("/");
    expect(bad.status).toBe(502);
    expect(bad.body).toBe("invalid response from a server of service web\n");
    expect(await h.get("/")).toMatchObject({ status: 200, body: "ok" });
    expect(connections).toBe(2);
  });
});
