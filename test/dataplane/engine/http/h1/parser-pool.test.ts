import net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { parserStats } from "../../../../../dataplane/engine/http/h1/parser";
import { startOrigin, type Origin } from "../../../../helpers/origin";
import { Harness, eventually, snapshotOf } from "../harness";

/** Sends `data` on `s` and resolves with the response once its body is complete (chunked or Content-Length). */
function exchange(s: net.Socket, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const onData = (d: Buffer) => {
      out += d.toString("latin1");
      const end = out.indexOf("\r\n\r\n");
      const m = /content-length: (\d+)/i.exec(out.slice(0, end));
      if (end !== -1 && ((m && out.length >= end + 4 + Number(m[1])) || out.endsWith("\r\n0\r\n\r\n"))) {
        s.off("data", onData);
        resolve(out);
      }
    };
    s.on("data", onData);
    s.once("error", reject);
    s.write(data);
  });
}

function open(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
}

describe("HTTP parsers: held only while a request is parsed", () => {
  let h: Harness;
  let a: Origin;
  const sockets: net.Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await h?.close();
    await a?.close();
  });

  test("200 idle keep-alive clients hold no parser; a half-sent head holds one until it completes", async () => {
    a = await startOrigin("a");
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: a.port }] }));
    const before = parserStats().inUse;
    for (let i = 0; i < 200; i++) {
      const s = await open(h.port());
      sockets.push(s);
      const res = await exchange(s, "GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
      expect(res.startsWith("HTTP/1.1 200 ")).toBe(true);
    }
    // All 200 connections are open and idle; only the upstream connection (one, reused) holds a
    // response parser. One parser per client connection would make this 200 or more.
    expect(sockets.every((s) => !s.destroyed)).toBe(true);
    expect(parserStats().inUse - before).toBeLessThanOrEqual(2);

    // A head cut in the middle keeps its parser (the bytes so far are in it) ...
    const half = sockets[0]!;
    const done = exchange(half, "GET /y HTTP/1.1\r\nHo");
    const held = parserStats().inUse;
    expect(await eventually(() => parserStats().inUse === held + 1, 3000)).toBe(true);
    // ... and the rest completes the same request, after which the parser is given back.
    half.write("st: t\r\n\r\n");
    expect((await done).startsWith("HTTP/1.1 200 ")).toBe(true);
    expect(await eventually(() => parserStats().inUse === held, 3000)).toBe(true);
    expect(a.requests.filter((r) => r.url === "/y")).toHaveLength(1);
  });
});
