import { randomBytes } from "node:crypto";
import * as net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { Resources, connect, proxyToServer, sha256 } from "../../../helpers/tcp";

/**
 * 64 MB through the proxy to a reader much slower than the writer: the proxy must pause the fast
 * side instead of buffering, so what it holds in socket buffers stays around the high-water marks,
 * and every byte must arrive intact (sha256 at both ends).
 */

const res = new Resources();
afterEach(() => res.closeAll());

const TOTAL = 64 * 1024 * 1024;
const CHUNK = 64 * 1024;
/** The proxy may hold a few high-water marks per direction; 1 MB is far above that (about 128 KB was measured) and far below 64 MB. */
const BUFFER_BOUND = 1024 * 1024;

/** Writes TOTAL random bytes honouring backpressure, then ends; resolves with their hash. */
async function produce(socket: net.Socket): Promise<string> {
  const h = sha256();
  for (let sent = 0; sent < TOTAL; sent += CHUNK) {
    const chunk = randomBytes(CHUNK);
    h.update(chunk);
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onClose = () => reject(new Error(`closed after ${sent} bytes`));
        socket.once("close", onClose);
        socket.once("drain", () => {
          socket.off("close", onClose);
          resolve();
        });
      });
    }
  }
  socket.end();
  return h.digest();
}

/** Reads everything, pausing 15 ms after every MiB (a slow reader), and resolves with count and hash. */
function consumeSlowly(socket: net.Socket): Promise<{ bytes: number; hash: string }> {
  return new Promise((resolve, reject) => {
    const h = sha256();
    let bytes = 0;
    let sinceNap = 0;
    socket.on("data", (d: Buffer) => {
      h.update(d);
      bytes += d.length;
      sinceNap += d.length;
      if (sinceNap >= 1024 * 1024) {
        sinceNap = 0;
        socket.pause();
        setTimeout(() => socket.resume(), 15);
      }
    });
    socket.once("end", () => resolve({ bytes, hash: h.digest() }));
    socket.once("error", reject);
  });
}

async function setup(onServerSocket: (s: net.Socket) => void) {
  const { proxy, front } = await proxyToServer(res, onServerSocket);
  let maxBuffered = 0;
  const sampler = setInterval(() => {
    const b = proxy.buffered();
    maxBuffered = Math.max(maxBuffered, b.toServers + b.toClients);
  }, 5);
  res.add(() => clearInterval(sampler));
  return { front, maxBuffered: () => maxBuffered };
}

describe("TcpProxy backpressure", () => {
  test("a fast client and a slow server: bounded buffering, intact bytes", async () => {
    let received: Promise<{ bytes: number; hash: string }> | undefined;
    const { front, maxBuffered } = await setup((s) => {
      received = consumeSlowly(s);
      received.then(() => s.end(), () => {});
    });
    const client = res.socket(await connect(front.port));
    client.on("data", () => {});
    const sent = await produce(client);
    for (let i = 0; i < 500 && !received; i++) await new Promise((r) => setTimeout(r, 10));
    const got = await received!;
    expect(got.bytes).toBe(TOTAL);
    expect(got.hash).toBe(sent);
    expect(maxBuffered()).toBeGreaterThan(0);
    expect(maxBuffered()).toBeLessThan(BUFFER_BOUND);
  });

  test("a fast server and a slow client: bounded buffering, intact bytes", async () => {
    let sent: Promise<string> | undefined;
    const { front, maxBuffered } = await setup((s) => {
      sent = produce(s);
      sent.catch(() => {});
    });
    const client = res.socket(await connect(front.port));
    const got = await consumeSlowly(client);
    client.end();
    expect(got.bytes).toBe(TOTAL);
    expect(got.hash).toBe(await sent!);
    expect(maxBuffered()).toBeLessThan(BUFFER_BOUND);
  });
});
