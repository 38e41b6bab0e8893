import net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { llhttpMethodNames, methodName } from "../../../../dataplane/engine/http/h1/method-names";
import { Harness, exchange, snapshotOf } from "./harness";

/**
 * Every request method llhttp parses reaches the server under its own name, on whichever parser
 * binding runs (CI runs this file on both). Node's method table stops before llhttp's newest
 * methods (QUERY); a request must never be forwarded as another method.
 */

/** An origin that records each request line as sent and answers 200 with no body. */
async function lineOrigin(): Promise<{ port: number; lines: string[]; close(): Promise<void> }> {
  const lines: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    let buf = "";
    s.on("data", (d) => {
      buf += d.toString("latin1");
      let end: number;
      while ((end = buf.indexOf("\r\n\r\n")) !== -1) {
        lines.push(buf.slice(0, buf.indexOf("\r\n")));
        buf = buf.slice(end + 4);
        s.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
      }
    });
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    lines,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe("request methods", () => {
  let h: Harness | undefined;
  let o: Awaited<ReturnType<typeof lineOrigin>> | undefined;
  afterEach(async () => {
    await h?.close();
    await o?.close();
  });

  test("a method number the binding's table lacks is named from llhttp's own table", () => {
    const names = llhttpMethodNames();
    expect(names[1]).toBe("GET");
    expect(names[46]).toBe("QUERY");
    expect(methodName([], 46)).toBe("QUERY");
    expect(methodName(["DELETE", "GET"], 1)).toBe("GET");
    expect(methodName([], 1000)).toBeUndefined();
  });

  test("every method llhttp parses, CONNECT aside, is forwarded under its own name", async () => {
    o = await lineOrigin();
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: o.port }] }));
    const methods = llhttpMethodNames().filter((m) => m !== undefined && m !== "CONNECT");
    expect(methods).toContain("QUERY");
    const answered: string[] = [];
    for (const m of methods) {
      const r = await exchange(h.port(), [`${m} /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
      answered.push(`${m} ${r.text.slice(0, 12)}`);
    }
    expect(answered).toEqual(methods.map((m) => `${m} HTTP/1.1 200`));
    expect(o.lines).toEqual(methods.map((m) => `${m} /x HTTP/1.1`));
  });
});
