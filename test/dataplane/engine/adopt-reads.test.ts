import net from "node:net";
import tls from "node:tls";
import { afterEach, describe, expect, test } from "vitest";
import { adoptReads } from "../../../dataplane/engine/adopt-reads";
import { selfSignedCertificate } from "./http/harness";

/**
 * adoptReads relies on net.Socket's internal `onread` fields. These tests pin that the Node this
 * project runs on takes the fast path (a Node that moved the fields fails here, loudly, instead of
 * silently losing the speed), and that the socket then behaves as a connecting socket with `onread`.
 */

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

/** A server whose accepted sockets go to `onSocket`, and a connected client. */
async function pair(onSocket: (s: net.Socket) => void): Promise<net.Socket> {
  const server = net.createServer(onSocket);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
  cleanup.push(() => {
    client.destroy();
    server.close();
  });
  await new Promise((r) => client.once("connect", r));
  return client;
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

describe("adoptReads", () => {
  test("an accepted socket reads into the given buffers; pause and resume stop and restart reading; the end is an 'end' event", async () => {
    const buffers = [Buffer.alloc(8), Buffer.alloc(8)];
    let turn = 0;
    const got: string[] = [];
    const seen = new Set<Buffer>();
    let dataEvents = 0;
    let ended = false;
    let adopted: boolean | undefined;
    let server: net.Socket | undefined;
    const client = await pair((s) => {
      server = s;
      adopted = adoptReads(s, {
        buffer: () => buffers[turn++ % 2]!,
        callback: (n, buf) => {
          seen.add(buf as Buffer);
          got.push(Buffer.from(buf.subarray(0, n)).toString());
          return true;
        },
      });
      s.on("data", () => dataEvents++);
      s.on("end", () => (ended = true));
    });
    await until(() => adopted !== undefined);
    expect(adopted).toBe(true);
    client.write("hello, world");
    await until(() => got.join("") === "hello, world");
    // Reads of at most 8 bytes, into the two buffers handed out in turn.
    expect(got.every((g) => g.length <= 8)).toBe(true);
    expect([...seen].every((b) => buffers.includes(b))).toBe(true);
    server!.pause();
    client.write("later");
    await new Promise((r) => setTimeout(r, 100));
    expect(got.join("")).toBe("hello, world");
    server!.resume();
    await until(() => got.join("") === "hello, worldlater");
    client.end();
    await until(() => ended);
    expect(dataEvents).toBe(0);
  });

  test("a TLS socket, and a socket that has read already, are left alone and keep their 'data' events", async () => {
    const cert = selfSignedCertificate();
    const server = tls.createServer({ key: cert.privateKey, cert: cert.chain }, (s) => {
      results.push(adoptReads(s, { buffer: () => Buffer.alloc(8), callback: () => true }));
      s.on("data", (d: Buffer) => s.write(d));
    });
    const results: boolean[] = [];
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const client = tls.connect({ port: (server.address() as net.AddressInfo).port, host: "127.0.0.1", rejectUnauthorized: false });
    cleanup.push(() => {
      client.destroy();
      server.close();
    });
    client.write("echo");
    const echoed = await new Promise<string>((r) => client.once("data", (d: Buffer) => r(d.toString())));
    expect(echoed).toBe("echo");
    expect(results).toEqual([false]);

    let late: boolean | undefined;
    const plain = await pair((s) => {
      s.once("readable", () => {
        // Bytes already in the stream's buffer: too late to change where reads go.
        late = adoptReads(s, { buffer: () => Buffer.alloc(8), callback: () => true });
        const d = s.read() as Buffer;
        s.write(d);
      });
    });
    plain.write("ping");
    const back = await new Promise<string>((r) => plain.once("data", (d: Buffer) => r(d.toString())));
    expect(back).toBe("ping");
    expect(late).toBe(false);
  });
});
