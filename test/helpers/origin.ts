import { createHash } from "node:crypto";
import http from "node:http";
import type net from "node:net";
import type { AddressInfo } from "node:net";
import { freePort } from "./ports";

/**
 * Origin servers for traffic tests: each answers with its own name, records what it received, and
 * can be killed and restarted on the same port. Routes beyond the default:
 *
 * - `/slow?ms=N`     answers after N ms (bounded to 30 s).
 * - `/hold`          answers only when the test calls `release()` (bounded to 30 s).
 * - `/upload`        drains the request body and answers with the byte count (never buffers it).
 * - `/stream`        sends a first chunk at once, the rest when `release()` is called.
 * - `/health`        answers `healthStatus` (default 200).
 * - `/headers`       answers the received headers as JSON.
 * - WebSocket upgrade on any path: echoes text frames back (unmasked, as a server must).
 */

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  remoteAddress: string;
}

export interface Origin {
  readonly name: string;
  readonly port: number;
  readonly address: string;
  readonly requests: RecordedRequest[];
  /** Requests being handled now. */
  readonly inFlight: number;
  /** Bytes received by `/upload` so far (all requests). */
  readonly uploaded: number;
  healthStatus: number;
  /** Completes every `/hold` and `/stream` request waiting now. */
  release(): void;
  /** Stops listening and destroys every open connection (a crash). */
  kill(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export async function startOrigin(name: string, opts: { port?: number; host?: string } = {}): Promise<Origin> {
  const host = opts.host ?? "127.0.0.1";
  const sockets = new Set<net.Socket>();
  const waiting = new Set<() => void>();
  let inFlight = 0;
  let uploaded = 0;
  const state = {
    requests: [] as RecordedRequest[],
    healthStatus: 200,
  };

  const hold = (res: http.ServerResponse, then: () => void) => {
    const t = setTimeout(fire, 30_000);
    function fire() {
      clearTimeout(t);
      waiting.delete(fire);
      then();
    }
    waiting.add(fire);
    res.once("close", () => {
      clearTimeout(t);
      waiting.delete(fire);
    });
  };

  const server = http.createServer((req, res) => {
    inFlight++;
    res.once("close", () => inFlight--);
    state.requests.push({
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      remoteAddress: req.socket.remoteAddress ?? "",
    });
    const url = new URL(req.url ?? "/", "http://origin");
    // Sized like most servers' small answers, so the data plane's response fast paths are the ones
    // tested; `/stream` answers chunked.
    const reply = (status: number, body: string) => {
      res.writeHead(status, { "content-type": "text/plain", "x-origin": name, "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    switch (url.pathname) {
      case "/slow": {
        const ms = Math.min(30_000, Number(url.searchParams.get("ms") ?? 1000));
        req.resume();
        const t = setTimeout(() => reply(200, name), ms);
        res.once("close", () => clearTimeout(t));
        return;
      }
      case "/hold":
        req.resume();
        hold(res, () => reply(200, name));
        return;
      case "/upload": {
        let n = 0;
        req.on("data", (chunk: Buffer) => {
          n += chunk.length;
          uploaded += chunk.length;
        });
        req.on("end", () => reply(200, String(n)));
        return;
      }
      case "/stream":
        req.resume();
        res.writeHead(200, { "content-type": "text/plain", "x-origin": name });
        res.write(`first chunk from ${name}\n`);
        hold(res, () => res.end("last chunk\n"));
        return;
      case "/health":
        req.resume();
        reply(state.healthStatus, name);
        return;
      case "/headers": {
        req.resume();
        const json = JSON.stringify(req.headers);
        res.writeHead(200, { "content-type": "application/json", "x-origin": name, "content-length": Buffer.byteLength(json) });
        res.end(json);
        return;
      }
      default:
        req.resume();
        reply(200, name);
    }
  });
  server.keepAliveTimeout = 30_000;
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket) => {
    state.requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, rawHeaders: req.rawHeaders, remoteAddress: socket.remoteAddress ?? "" });
    const key = req.headers["sec-websocket-key"];
    if (typeof key !== "string") return socket.destroy();
    const accept = createHash("sha1").update(key + WS_GUID).digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-Origin: ${name}\r\n\r\n`);
    echoFrames(socket);
  });

  // Not 0: an ephemeral port can be taken by some outgoing connection while the origin is killed.
  let port = opts.port ?? (await freePort());
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host }, () => {
        server.off("error", reject);
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  await listen();

  const kill = async () => {
    if (!server.listening) return;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    await closed;
  };

  return {
    name,
    get port() {
      return port;
    },
    address: host,
    get requests() {
      return state.requests;
    },
    get inFlight() {
      return inFlight;
    },
    get uploaded() {
      return uploaded;
    },
    get healthStatus() {
      return state.healthStatus;
    },
    set healthStatus(v: number) {
      state.healthStatus = v;
    },
    release() {
      for (const fire of [...waiting]) fire();
    },
    kill,
    restart: listen,
    close: kill,
  };
}

/** A minimal WebSocket echo: unmasks client text/binary frames and sends them back unmasked. */
function echoFrames(socket: net.Socket): void {
  let buf = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0]! & 0x0f;
      const masked = (buf[1]! & 0x80) !== 0;
      let len = buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        return void socket.destroy(); // not needed by the tests
      }
      const maskOff = off;
      if (masked) off += 4;
      if (buf.length < off + len) return;
      const payload = Buffer.from(buf.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) payload[i]! ^= buf[maskOff + (i % 4)]!;
      buf = buf.subarray(off + len);
      if (opcode === 0x8) {
        socket.end(Buffer.from([0x88, 0]));
        return;
      }
      const header = len < 126 ? Buffer.from([0x80 | opcode, len]) : Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff]);
      socket.write(Buffer.concat([header, payload]));
    }
  });
  socket.on("error", () => socket.destroy());
}
