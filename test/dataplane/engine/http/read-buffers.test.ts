import { createHash } from "node:crypto";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { request } from "undici";
import { afterEach, describe, expect, test } from "vitest";
import { upstreamReadBuffers } from "../../../../dataplane/engine/read-buffers";
import { Harness, snapshotOf } from "./harness";

/**
 * HTTP upstream connections read into the process's shared buffer and into reused own buffers
 * (ReadBuffers). A body chunk written to a client that cannot take it at once must not be
 * overwritten by the next read: bodies of many sizes, sized and chunked, to fast and slow readers at
 * once, must arrive byte-exact.
 */

/** Deterministic bytes for `size` and `seed` (an xorshift stream), so both ends can hash them. */
function bytes(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("HttpProxy: upstream read buffers", () => {
  let h: Harness;
  let origin: http.Server;
  const sockets: net.Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await h?.close();
    origin?.closeAllConnections();
    await new Promise((r) => origin?.close(r));
  });

  /** Bytes the origin has written of the current /spaced body. */
  let spacedWritten = 0;

  /**
   * /<size>/<seed>[/chunked|/spaced]: the bytes, sized (one write), chunked (writes of up to 7000
   * bytes at once), or spaced (sized, 1000 bytes per turn of the event loop).
   */
  async function setup() {
    origin = http.createServer((req, res) => {
      const [, size, seed, mode] = (req.url ?? "").split("/");
      const body = bytes(Number(size), Number(seed));
      if (mode === "spaced") {
        // Pieces of 1000 bytes, one per turn of the event loop: the proxy reads them one by one.
        spacedWritten = 0;
        res.setHeader("content-length", body.length);
        const step = () => {
          if (spacedWritten >= body.length) return void res.end();
          const piece = body.subarray(spacedWritten, spacedWritten + 1000);
          spacedWritten += piece.length;
          if (res.write(piece)) setImmediate(step);
          else res.once("drain", step);
        };
        return step();
      }
      if (mode !== "chunked") {
        res.setHeader("content-length", body.length);
        res.end(body);
        return;
      }
      let at = 0;
      const next = () => {
        while (at < body.length) {
          const piece = body.subarray(at, at + 7000);
          at += piece.length;
          if (!res.write(piece)) return void res.once("drain", next);
        }
        res.end();
      };
      next();
    });
    await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: (origin.address() as AddressInfo).port }] }));
  }

  test("bodies of many sizes, sized and chunked, to fast and slow clients at once: every byte intact", async () => {
    await setup();
    const before = upstreamReadBuffers.stats();
    const sizes = [0, 1, 64, 4000, 16 * 1024, 65536, 65537, 200_000, 1_000_000, 3_000_000];
    const agent = h.agent({ connections: 16, pipelining: 1 });
    const jobs: Promise<void>[] = [];
    let seed = 1;
    for (const size of sizes)
      for (const mode of ["", "/chunked"])
        for (const slow of [false, true]) {
          const s = seed++;
          jobs.push(
            (async () => {
              const res = await request(h.url(`/${size}/${s}${mode}`), { dispatcher: agent });
              expect(res.statusCode).toBe(200);
              const hash = createHash("sha256");
              let got = 0;
              let since = 0;
              for await (const chunk of res.body as AsyncIterable<Buffer>) {
                hash.update(chunk);
                got += chunk.length;
                since += chunk.length;
                // A slow reader: the proxy's writes to it are left pending in between.
                if (slow && since >= 128 * 1024) {
                  since = 0;
                  await new Promise((r) => setTimeout(r, 5));
                }
              }
              expect(got).toBe(size);
              expect(hash.digest("hex")).toBe(sha(bytes(size, s)));
            })(),
          );
        }
    await Promise.all(jobs);
    await agent.close();
    const after = upstreamReadBuffers.stats();
    // The large bodies were read into own buffers.
    expect(after.allocated).toBeGreaterThan(before.allocated);
  });

  /**
   * GET `path` over a raw socket (the response is sized); reads nothing until `ready` holds
   * (bounded), then reads the body, napping `napMs` after every MiB, and hashes it.
   */
  async function rawGet(path: string, opts: { ready?: () => boolean; napMs?: number } = {}): Promise<{ size: number; hash: string }> {
    const socket = net.connect(h.port(), "127.0.0.1");
    sockets.push(socket);
    socket.pause();
    socket.write(`GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
    if (opts.ready) {
      for (let i = 0; i < 500 && !opts.ready(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(opts.ready()).toBe(true);
    }
    return new Promise((resolve, reject) => {
      const hash = createHash("sha256");
      let head: Buffer | undefined = Buffer.alloc(0);
      let size = 0;
      let sinceNap = 0;
      socket.on("data", (d: Buffer) => {
        if (head) {
          head = Buffer.concat([head, d]);
          const end = head.indexOf("\r\n\r\n");
          if (end < 0) return;
          if (!head.subarray(0, 12).toString().startsWith("HTTP/1.1 200")) reject(new Error(head.toString("latin1", 0, end)));
          d = head.subarray(end + 4);
          head = undefined;
        }
        hash.update(d);
        size += d.length;
        sinceNap += d.length;
        if (opts.napMs && sinceNap >= 1024 * 1024) {
          sinceNap = 0;
          socket.pause();
          setTimeout(() => socket.resume(), opts.napMs);
        }
      });
      socket.once("end", () => resolve({ size, hash: hash.digest("hex") }));
      socket.once("error", reject);
      socket.resume();
    });
  }

  test("a large body to a slow client: writes left pending keep their own buffers", async () => {
    await setup();
    const before = upstreamReadBuffers.stats();
    const size = 32 * 1024 * 1024;
    const got = await rawGet(`/${size}/7`, { napMs: 15 });
    expect(got.size).toBe(size);
    expect(got.hash).toBe(sha(bytes(size, 7)));
    const after = upstreamReadBuffers.stats();
    expect(after.allocated).toBeGreaterThan(before.allocated);
    expect(after.givenToWrites).toBeGreaterThan(before.givenToWrites);
  });

  test("small reads (shared buffer) waiting for a stalled client are copied: other traffic meanwhile does not overwrite them", async () => {
    await setup();
    const size = 8_000_000;
    // Once the origin's writes stop progressing, everything in between is full and writes wait.
    let last = -1;
    let still = 0;
    const got = rawGet(`/${size}/8/spaced`, {
      ready: () => {
        still = spacedWritten === last ? still + 1 : 0;
        last = spacedWritten;
        return still >= 10;
      },
    });
    // Meanwhile other responses are read through the shared buffer.
    for (let i = 0; i < 20; i++) {
      const res = await request(h.url(`/${3000 + i}/${100 + i}`), { dispatcher: h.agent() });
      const body = Buffer.from(await res.body.arrayBuffer());
      expect(sha(body)).toBe(sha(bytes(3000 + i, 100 + i)));
    }
    const r = await got;
    expect(r.size).toBe(size);
    expect(r.hash).toBe(sha(bytes(size, 8)));
  });
});
