import { createHash } from "node:crypto";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { request } from "undici";
import { afterEach, describe, expect, test } from "vitest";
import { httpReadBuffers } from "../../../../dataplane/engine/read-buffers";
import { Harness, snapshotOf } from "./harness";

/**
 * The HTTP engine reads into the process's shared buffer and into reused own buffers (ReadBuffers):
 * upstream connections, and client connections through adoptReads. Bytes kept past a read (a write
 * the client cannot take at once, a held request body, what followed an upgrade head) must not be
 * overwritten by the next read: every test here compares hashes at both ends.
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

describe("HttpProxy: read buffers", () => {
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
      if (req.method === "POST") {
        // The hash of the request body, as received.
        const h = createHash("sha256");
        let n = 0;
        req.on("data", (d: Buffer) => {
          h.update(d);
          n += d.length;
        });
        req.on("end", () => res.end(`${n} ${h.digest("hex")}`));
        return;
      }
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
    // An upgrade is answered 101, then every byte is echoed back.
    origin.on("upgrade", (_req, socket: net.Socket, head: Buffer) => {
      socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n");
      if (head.length > 0) socket.write(head);
      socket.pipe(socket);
    });
    await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: (origin.address() as AddressInfo).port }] }));
  }

  test("bodies of many sizes, sized and chunked, to fast and slow clients at once: every byte intact", async () => {
    await setup();
    const before = httpReadBuffers.stats();
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
    const after = httpReadBuffers.stats();
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
    const before = httpReadBuffers.stats();
    const size = 32 * 1024 * 1024;
    const got = await rawGet(`/${size}/7`, { napMs: 15 });
    expect(got.size).toBe(size);
    expect(got.hash).toBe(sha(bytes(size, 7)));
    const after = httpReadBuffers.stats();
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

  test("request bodies of many sizes, sized and chunked, many at once: the origin receives every byte intact", async () => {
    await setup();
    const agent = h.agent({ connections: 8 });
    const sizes = [1, 100, 5000, 65536, 70000, 300_000, 2_000_000];
    const jobs = sizes.flatMap((size, i) =>
      [false, true].map(async (chunked) => {
        const body = bytes(size, 1000 + i);
        const res = await request(h.url("/hash"), {
          method: "POST",
          dispatcher: agent,
          // A stream of unknown length goes out chunked.
          body: chunked ? Readable.from([body.subarray(0, size >> 1), body.subarray(size >> 1)]) : body,
          headers: chunked ? {} : { "content-length": String(size) },
        });
        expect(await res.body.text()).toBe(`${size} ${sha(body)}`);
      }),
    );
    await Promise.all(jobs);
    await agent.close();
  });

  test("pipelined requests with bodies: a body held while the request before it is served stays intact", async () => {
    await setup();
    const bodies = [bytes(5000, 31), bytes(20_000, 32), bytes(700, 33)];
    const socket = net.connect(h.port(), "127.0.0.1");
    sockets.push(socket);
    let raw = "";
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => (raw += d));
    // One write: the second and third bodies arrive while the first request is served upstream,
    // whose response is read through the shared buffer in between.
    socket.write(
      Buffer.concat(
        bodies.flatMap((b, i) => [
          Buffer.from(`POST /hash HTTP/1.1\r\nHost: t\r\nContent-Length: ${b.length}\r\n${i === 2 ? "Connection: close\r\n" : ""}\r\n`),
          b,
        ]),
      ),
    );
    await new Promise((r) => socket.once("end", r));
    const answers = raw.split("HTTP/1.1 200").slice(1).map((r) => r.slice(r.indexOf("\r\n\r\n") + 4));
    expect(answers).toEqual(bodies.map((b) => `${b.length} ${sha(b)}`));
  });

  test("an upgraded connection carries 8 MB each way intact, including bytes sent right behind the head", async () => {
    await setup();
    const socket = net.connect(h.port(), "127.0.0.1");
    sockets.push(socket);
    const early = bytes(100_000, 41);
    const later = bytes(8 * 1024 * 1024, 42);
    const sent = createHash("sha256").update(early).update(later).digest("hex");
    const back = createHash("sha256");
    let head: Buffer | undefined = Buffer.alloc(0);
    let n = 0;
    const done = new Promise<void>((resolve, reject) => {
      socket.on("data", (d: Buffer) => {
        if (head) {
          head = Buffer.concat([head, d]);
          const end = head.indexOf("\r\n\r\n");
          if (end < 0) return;
          if (!head.toString("latin1", 0, 12).startsWith("HTTP/1.1 101")) reject(new Error(head.toString("latin1", 0, end)));
          d = head.subarray(end + 4);
          head = undefined;
        }
        back.update(d);
        n += d.length;
        if (n === early.length + later.length) resolve();
      });
      socket.once("error", reject);
    });
    // Other traffic all along: its reads go through the shared buffer while the tunnel connects
    // and while its writes wait.
    let stop = false;
    const agent = h.agent({ connections: 8 });
    const background = Array.from({ length: 8 }, async (_, i) => {
      for (let k = 0; k < 2000 && !stop; k++) {
        const res = await request(h.url(`/${60_000 + i}/${500 + i}`), { dispatcher: agent });
        const body = Buffer.from(await res.body.arrayBuffer());
        expect(body.length).toBe(60_000 + i);
      }
    });
    await new Promise((r) => setTimeout(r, 20));
    socket.write(Buffer.concat([Buffer.from("GET /ws HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n"), early]));
    for (let at = 0; at < later.length; at += 256 * 1024) {
      if (!socket.write(later.subarray(at, at + 256 * 1024))) await new Promise((r) => socket.once("drain", r));
    }
    await done;
    stop = true;
    await Promise.all(background);
    await agent.close();
    expect(back.digest("hex")).toBe(sent);
  });
});
