import { randomBytes } from "node:crypto";
import * as net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { ReadBuffers } from "../../../../dataplane/engine/read-buffers";
import type { TcpProxy } from "../../../../dataplane/engine/tcp/tcp-proxy";
import { Resources, connect, proxyToServer, sha256 } from "../../../helpers/tcp";

/**
 * The server → client direction reads into reused buffers (ReadBuffers): one shared buffer for
 * small reads, own buffers for transfers, handed over to a write the kernel did not take at once.
 * A mistake there corrupts bytes silently (a buffer overwritten while a write still points at it),
 * so every test here compares hashes at both ends, with many connections at once, mixing small and
 * bulk replies, fast and slow readers.
 */

const res = new Resources();
afterEach(() => res.closeAll());

const proxyTo = (onServerSocket: (s: net.Socket) => void) => proxyToServer(res, onServerSocket);

/**
 * The server side: on each line "<count> <size> [spaced]" from the client, writes `count` random
 * chunks of `size` bytes; "end" ends. What it sent is hashed into `sent` (per connection, in order).
 */
function replier(sent: Map<number, ReturnType<typeof sha256>>) {
  let next = 0;
  return (s: net.Socket) => {
    const id = next++;
    const h = sha256();
    sent.set(id, h);
    let pending = "";
    s.on("data", async (d: Buffer) => {
      pending += d.toString("latin1");
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line === "end") {
          s.end();
          return;
        }
        const [count, size, spaced] = line.split(" ").map(Number) as [number, number, number | undefined];
        for (let i = 0; i < count; i++) {
          const chunk = randomBytes(size);
          h.update(chunk);
          if (!s.write(chunk)) await new Promise((r) => s.once("drain", r));
          // "spaced": one chunk per turn of the event loop, so that the proxy reads them one by one.
          else if (spaced) await new Promise((r) => setImmediate(r));
        }
      }
    });
  };
}

/** Reads until end; `slow` pauses 5 ms after every 256 KiB. `count` is the bytes so far. */
function drain(socket: net.Socket, slow: boolean): Promise<{ bytes: number; hash: string }> & { count(): number } {
  const h = sha256();
  let bytes = 0;
  let since = 0;
  const done = new Promise<{ bytes: number; hash: string }>((resolve, reject) => {
    socket.on("data", (d: Buffer) => {
      h.update(d);
      bytes += d.length;
      since += d.length;
      if (slow && since >= 256 * 1024) {
        since = 0;
        socket.pause();
        setTimeout(() => socket.resume(), 5);
      }
    });
    socket.once("end", () => {
      socket.end();
      resolve({ bytes, hash: h.digest() });
    });
    socket.once("error", reject);
  });
  return Object.assign(done, { count: () => bytes });
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

/** Waits (bounded) until the proxy holds no connection. */
async function allClosed(proxy: TcpProxy): Promise<void> {
  for (let i = 0; i < 400 && proxy.stats().svc; i++) await new Promise((r) => setTimeout(r, 5));
  expect(proxy.stats()).toEqual({});
}

/**
 * With every connection closed, each own buffer ever allocated is free again or went with a
 * pending write (none is dropped while fewer than MAX_FREE are out).
 */
function expectNoneLost({ allocated, givenToWrites, free }: { allocated: number; givenToWrites: number; free: number }): void {
  if (allocated - givenToWrites <= ReadBuffers.MAX_FREE) expect(free).toBe(allocated - givenToWrites);
  else expect(free).toBe(ReadBuffers.MAX_FREE);
}

describe("TCP read buffers", () => {
  test("16 connections, small and bulk replies, fast and slow readers: every byte intact", async () => {
    const sent = new Map<number, ReturnType<typeof sha256>>();
    const { proxy, front } = await proxyTo(replier(sent));
    // Per connection: a chatty phase (small replies on the shared buffer), a bulk phase (own
    // buffers; pending writes with slow readers), and chatty again (back to the shared buffer).
    const script = ["200 100", "3 70000", "64 65536", "100 1", "16 16384", "1 5000000", "50 333", "end"];
    const runs = Array.from({ length: 16 }, async (_, i) => {
      const client = res.socket(await connect(front.port));
      const got = drain(client, i % 2 === 1);
      for (const line of script) client.write(`${line}\n`);
      return got;
    });
    const results = await Promise.all(runs);
    const expected = script.filter((l) => l !== "end").reduce((n, l) => n + l.split(" ").map(Number).reduce((a, b) => a * b), 0);
    const hashes = new Set([...sent.values()].map((h) => h.digest()));
    for (const r of results) {
      expect(r.bytes).toBe(expected);
      expect(hashes.has(r.hash)).toBe(true);
    }
    expect(sent.size).toBe(16);
    await allClosed(proxy);
    const stats = proxy.readBufferStats();
    // The bulk phases used own buffers.
    expect(stats.allocated).toBeGreaterThan(stats.givenToWrites);
    expectNoneLost(stats);
  });

  test("small replies to a reader that stops: reads on the shared buffer are copied before they wait in a write", async () => {
    const TOTAL = 12_000_000;
    const sent = new Map<number, ReturnType<typeof sha256>>();
    const { proxy, front } = await proxyTo(replier(sent));
    const client = res.socket(await connect(front.port));
    client.pause();
    client.write(`${TOTAL / 1000} 1000 1\nend\n`);
    // Wait until the kernel's buffers are full and the proxy has stopped reading from the server.
    let last = -1;
    await until(() => {
      const b = proxy.buffered().toClients;
      const still = b > 0 && b === last;
      last = b;
      return still;
    });
    expect(proxy.readBufferStats().allocated).toBe(0);
    const got = drain(client, false);
    client.resume();
    const r = await got;
    expect(r.bytes).toBe(TOTAL);
    expect(r.hash).toBe(sent.get(0)!.digest());
  });

  test("a reader that stops: the write the kernel could not take keeps its buffer, and no byte is lost", async () => {
    const TOTAL = 32 * 1024 * 1024;
    const sent = new Map<number, ReturnType<typeof sha256>>();
    const { proxy, front } = await proxyTo(replier(sent));
    const client = res.socket(await connect(front.port));
    client.pause();
    client.write(`${TOTAL / 65536} 65536\nend\n`);
    // Not reading: the kernel's buffers toward the client fill up and a write stays pending.
    await until(() => proxy.readBufferStats().givenToWrites > 0);
    const got = drain(client, false);
    client.resume();
    const r = await got;
    expect(r.bytes).toBe(TOTAL);
    expect(r.hash).toBe(sent.get(0)!.digest());
    await allClosed(proxy);
    expectNoneLost(proxy.readBufferStats());
  });

  test("a bulk download to a reader that keeps up reuses a few buffers instead of one per read", async () => {
    const TOTAL = 64 * 1024 * 1024;
    const sent = new Map<number, ReturnType<typeof sha256>>();
    const { proxy, front } = await proxyTo(replier(sent));
    const client = res.socket(await connect(front.port));
    const got = drain(client, false);
    client.write(`${TOTAL / 65536} 65536\nend\n`);
    const r = await got;
    expect(r.bytes).toBe(TOTAL);
    expect(r.hash).toBe(sent.get(0)!.digest());
    await allClosed(proxy);
    const stats = proxy.readBufferStats();
    expectNoneLost(stats);
    // 64 MiB is at least 1024 reads of 64 KiB; Node alone allocates a buffer for each.
    expect(stats.allocated).toBeLessThan(1024 / 4);
    expect(stats.allocated).toBeLessThanOrEqual(stats.givenToWrites + 1);
  });

  test("an idle connection holds no own buffer; a closed one gives its own buffer back", async () => {
    const sent = new Map<number, ReturnType<typeof sha256>>();
    const { proxy, front } = await proxyTo(replier(sent));
    const client = res.socket(await connect(front.port));
    const got = drain(client, false);
    const BULK = ReadBuffers.BYTES * 4;
    client.write(`1 ${BULK}\n`);
    await until(() => got.count() === BULK);
    // A reply of 10 bytes is one short read: after it the connection is back on the shared buffer.
    client.write(`1 10\n`);
    await until(() => got.count() === BULK + 10);
    const idle = proxy.readBufferStats();
    expect(idle.allocated).toBeGreaterThan(0);
    expectNoneLost(idle);
    client.write("end\n");
    await got;
    await allClosed(proxy);
    expectNoneLost(proxy.readBufferStats());
  });

  /**
   * The server side for uploads: hashes what arrives; at the client's FIN answers "<bytes> <hash>"
   * and ends. `slow` pauses 5 ms after every 256 KiB; `stall` waits that long before reading at all.
   */
  function sink(opts: { slow?: (id: number) => boolean; stall?: number } = {}) {
    let next = 0;
    return (s: net.Socket) => {
      const id = next++;
      const h = sha256();
      let bytes = 0;
      let since = 0;
      s.pause();
      s.on("data", (d: Buffer) => {
        h.update(d);
        bytes += d.length;
        since += d.length;
        if (opts.slow?.(id) && since >= 256 * 1024) {
          since = 0;
          s.pause();
          setTimeout(() => s.resume(), 5);
        }
      });
      s.once("end", () => s.end(`${bytes} ${h.digest()}`));
      setTimeout(() => s.resume(), opts.stall ?? 0);
    };
  }

  /** Writes `chunks` (hashing them), ends, and reads the server's answer. */
  async function upload(port: number, chunks: Buffer[]): Promise<{ sent: string; answer: string }> {
    const client = res.socket(await connect(port));
    const h = sha256();
    let answer = "";
    client.on("data", (d: Buffer) => (answer += d.toString("latin1")));
    const ended = new Promise<void>((resolve, reject) => {
      client.once("end", () => resolve());
      client.once("error", reject);
    });
    for (const c of chunks) {
      h.update(c);
      if (!client.write(c)) await new Promise((r) => client.once("drain", r));
    }
    client.end();
    await ended;
    return { sent: h.digest(), answer };
  }

  test("uploads: 16 connections, small and bulk writes, fast and slow servers: every byte intact, through the read buffers", async () => {
    const { proxy, front } = await proxyTo(sink({ slow: (id) => id % 2 === 1 }));
    // The first bytes are written at once, before the proxy has connected to the server.
    const runs = Array.from({ length: 16 }, (_, i) => {
      const chunks = [randomBytes(100), ...Array.from({ length: 40 }, () => randomBytes(1 + ((i * 7919) % 200_000))), randomBytes(3_000_000), randomBytes(7)];
      const total = chunks.reduce((n, c) => n + c.length, 0);
      return upload(front.port, chunks).then((r) => ({ ...r, total }));
    });
    for (const r of await Promise.all(runs)) expect(r.answer).toBe(`${r.total} ${r.sent}`);
    await allClosed(proxy);
    const stats = proxy.readBufferStats();
    // The uploads read through the relay: bulk reads took own buffers (the replies are tiny, so
    // nothing else could have). With stream.pipe none would have been allocated.
    expect(stats.allocated).toBeGreaterThan(0);
    expectNoneLost(stats);
  });

  test("uploads to servers that do not read: clients are held back with at most a few reads in the proxy, and nothing is lost", async () => {
    // Two at once, one in 64 KiB writes (own buffers), one in 1,000-byte writes (reads on the shared
    // buffer that wait in a pending write while the other connection reads into it).
    const TOTAL = 16 * 1024 * 1024;
    const { proxy, front } = await proxyTo(sink({ stall: 800 }));
    const big = Array.from({ length: TOTAL / 65536 }, () => randomBytes(65536));
    const small = Array.from({ length: TOTAL / 1024 }, () => randomBytes(1024));
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, proxy.buffered().toServers)), 5);
    try {
      const [a, b] = await Promise.all([upload(front.port, big), upload(front.port, small)]);
      expect(a.answer).toBe(`${TOTAL} ${a.sent}`);
      expect(b.answer).toBe(`${TOTAL} ${b.sent}`);
    } finally {
      clearInterval(watch);
    }
    // The kernel's buffers took what they could; the proxy itself kept at most a few 64 KiB reads.
    expect(most).toBeLessThanOrEqual(4 * ReadBuffers.BYTES);
    await allClosed(proxy);
    expectNoneLost(proxy.readBufferStats());
  });

  test("a relay without a target keeps the reads that still come (copied), writes them first, then resumes the reader", () => {
    const buffers = new ReadBuffers();
    const relay = buffers.relay();
    let resumed = 0;
    relay.attach({ resume: () => resumed++ } as unknown as net.Socket);
    const shared = relay.onread.buffer();
    shared.write("early bytes", "latin1");
    // No server yet: the read is kept and reading stops.
    expect(relay.onread.callback(11, shared)).toBe(false);
    shared.write("overwritten", "latin1"); // the next read of any connection reuses the buffer
    const written: string[] = [];
    const to = { destroyed: false, writableLength: 0, on: () => to, write: (b: Buffer) => (written.push(b.toString("latin1")), true) };
    relay.target(to as unknown as net.Socket);
    expect(written).toEqual(["early bytes"]);
    expect(resumed).toBe(1);
    shared.write("later", "latin1");
    expect(relay.onread.callback(5, shared)).toBe(true);
    expect(written).toEqual(["early bytes", "later"]);
  });
});
