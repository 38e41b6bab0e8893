import { createHash } from "node:crypto";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import { buildSnapshot, type ListenerSnapshot, type Snapshot } from "../../dataplane/config/snapshot";
import { TcpProxy } from "../../dataplane/engine/tcp/tcp-proxy";
import { silentLogger } from "../../dataplane/log";
import { Metrics } from "../../dataplane/metrics";
import { BackendService, HealthCheck, Listener, ServerGroup } from "../../model";
import { freePort } from "./ports";

/**
 * Helpers for TCP/TLS proxy tests: an independent PROXY protocol parser, backends that speak it,
 * a front listener that hands sockets to a TcpProxy like the Engine does, clients, bounded waits,
 * snapshots built through the real model, and one place that closes everything after a test.
 */

// ---------------------------------------------------------------------------------------------
// PROXY protocol parser (written from haproxy's doc/proxy-protocol.txt, independently of the encoder)

export interface ProxyHeader {
  version: 1 | 2;
  /** v2 only: PROXY or LOCAL. v1 is always PROXY. */
  command: "PROXY" | "LOCAL";
  /** TCP4, TCP6 or UNKNOWN (v1 UNKNOWN, v2 AF_UNSPEC). */
  family: "TCP4" | "TCP6" | "UNKNOWN";
  source?: string;
  destination?: string;
  sourcePort?: number;
  destinationPort?: number;
  /** Bytes the header took; the payload starts right after. */
  length: number;
}

const SIG = Buffer.from("0d0a0d0a000d0a515549540a", "hex");

/** Canonical text of an IPv6 address, by WHATWG URL serialisation (compressed, lowercase). */
function canonicalIpv6(text: string): string {
  return new URL(`http://[${text}]/`).hostname.replace(/^\[|\]$/g, "");
}

function v1Port(token: string | undefined): number {
  if (!token || !/^(0|[1-9]\d{0,4})$/.test(token) || Number(token) > 65535) throw new Error(`v1: bad port ${JSON.stringify(token)}`);
  return Number(token);
}

/**
 * Parses a PROXY header at the start of `buf`. Returns undefined while more bytes are needed;
 * throws on anything the spec does not allow (the receiver would drop the connection).
 */
export function parseProxyHeader(buf: Buffer): ProxyHeader | undefined {
  if (buf.length === 0) return undefined;
  if (buf[0] === 0x50) {
    // v1: "PROXY " ... "\r\n", 107 bytes at most including CRLF.
    const prefix = Buffer.from("PROXY ");
    if (!buf.subarray(0, 6).equals(prefix.subarray(0, Math.min(6, buf.length)))) throw new Error("v1: no PROXY prefix");
    const end = buf.indexOf("\r\n");
    if (end < 0) {
      if (buf.length >= 107) throw new Error("v1: header longer than 107 bytes");
      return undefined;
    }
    if (end + 2 > 107) throw new Error("v1: header longer than 107 bytes");
    const line = buf.subarray(0, end).toString("latin1");
    const parts = line.split(" ");
    if (parts[1] === "UNKNOWN") return { version: 1, command: "PROXY", family: "UNKNOWN", length: end + 2 };
    if (parts.length !== 6) throw new Error(`v1: expected 6 fields, got ${parts.length}: ${JSON.stringify(line)}`);
    const [, proto, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
    const valid = proto === "TCP4" ? net.isIPv4 : proto === "TCP6" ? net.isIPv6 : undefined;
    if (!valid) throw new Error(`v1: bad protocol ${proto}`);
    if (!valid(src) || !valid(dst)) throw new Error(`v1: address not of family ${proto}: ${src} ${dst}`);
    return {
      version: 1,
      command: "PROXY",
      family: proto as "TCP4" | "TCP6",
      source: proto === "TCP6" ? canonicalIpv6(src) : src,
      destination: proto === "TCP6" ? canonicalIpv6(dst) : dst,
      sourcePort: v1Port(sport),
      destinationPort: v1Port(dport),
      length: end + 2,
    };
  }
  // v2: 12-byte signature, ver/cmd, fam/proto, 16-bit length, address block.
  const n = Math.min(buf.length, 12);
  if (!buf.subarray(0, n).equals(SIG.subarray(0, n))) throw new Error("neither a v1 nor a v2 header");
  if (buf.length < 16) return undefined;
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) throw new Error(`v2: version nibble ${verCmd >> 4}`);
  const cmd = verCmd & 0x0f;
  if (cmd !== 0 && cmd !== 1) throw new Error(`v2: command ${cmd}`);
  const fam = buf[13]!;
  const len = buf.readUInt16BE(14);
  if (buf.length < 16 + len) return undefined;
  const block = buf.subarray(16, 16 + len);
  const command = cmd === 0 ? "LOCAL" : "PROXY";
  if (fam === 0x11) {
    if (len < 12) throw new Error(`v2: TCP4 block of ${len} bytes`);
    return {
      version: 2,
      command,
      family: "TCP4",
      source: [...block.subarray(0, 4)].join("."),
      destination: [...block.subarray(4, 8)].join("."),
      sourcePort: block.readUInt16BE(8),
      destinationPort: block.readUInt16BE(10),
      length: 16 + len,
    };
  }
  if (fam === 0x21) {
    if (len < 36) throw new Error(`v2: TCP6 block of ${len} bytes`);
    const groups = (b: Buffer) => Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(":");
    return {
      version: 2,
      command,
      family: "TCP6",
      source: canonicalIpv6(groups(block.subarray(0, 16))),
      destination: canonicalIpv6(groups(block.subarray(16, 32))),
      sourcePort: block.readUInt16BE(32),
      destinationPort: block.readUInt16BE(34),
      length: 16 + len,
    };
  }
  if (fam === 0x00) return { version: 2, command, family: "UNKNOWN", length: 16 + len };
  throw new Error(`v2: unsupported family/protocol byte 0x${fam.toString(16)}`);
}

// ---------------------------------------------------------------------------------------------
// Cleanup

type Closeable = { close(): unknown } | (() => unknown);

/** Everything a test opened; `closeAll` in afterEach closes it in reverse order. */
export class Resources {
  private readonly items: Closeable[] = [];

  add<T extends Closeable>(item: T): T {
    this.items.push(item);
    return item;
  }

  socket(s: net.Socket): net.Socket {
    this.items.push(() => s.destroy());
    return s;
  }

  async closeAll(): Promise<void> {
    for (const item of this.items.splice(0).reverse()) {
      try {
        await (typeof item === "function" ? item() : item.close());
      } catch {
        // already closed
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Backends

export interface BackendConnection {
  socket: net.Socket;
  header: ProxyHeader | undefined;
  /** Payload bytes received after the header. */
  received: Buffer[];
  bytes: number;
  ended: boolean;
  closed: boolean;
  /** The first payload bytes, available once `received` is non-empty. */
  text(): string;
}

export interface BackendOptions {
  host?: string;
  /** Port to bind (e.g. to restart a backend on its old port); default: one from `freePort()`. */
  port?: number;
  /** Expect a PROXY header first (v1 or v2, detected); a malformed one destroys the connection. */
  proxyProtocol?: boolean;
  /** echo (default): send every payload byte back; sink: read and count; greet: write `name\n` then echo. */
  mode?: "echo" | "sink" | "greet";
  name?: string;
  /** Called for each connection once its header (if any) is parsed. */
  onConnection?: (conn: BackendConnection) => void;
}

export interface Backend {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** The server key the snapshot gives this backend. */
  readonly key: string;
  readonly connections: BackendConnection[];
  /** Connections whose PROXY header did not parse. */
  readonly headerErrors: Error[];
  /** Stops accepting (the listener is "killed"); open connections stay. */
  stopListening(): Promise<void>;
  /** Stops accepting and destroys every connection. */
  close(): Promise<void>;
}

export async function startBackend(opts: BackendOptions = {}): Promise<Backend> {
  const host = opts.host ?? "127.0.0.1";
  const mode = opts.mode ?? "echo";
  const name = opts.name ?? "backend";
  const connections: BackendConnection[] = [];
  const headerErrors: Error[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    const conn: BackendConnection = {
      socket,
      header: undefined,
      received: [],
      bytes: 0,
      ended: false,
      closed: false,
      text: () => Buffer.concat(conn.received).toString(),
    };
    socket.on("close", () => {
      conn.closed = true;
      sockets.delete(socket);
    });
    let pending: Buffer | undefined = opts.proxyProtocol ? Buffer.alloc(0) : undefined;
    const payload = (chunk: Buffer) => {
      if (chunk.length === 0) return;
      conn.bytes += chunk.length;
      if (mode !== "sink") {
        if (conn.received.length < 64) conn.received.push(chunk);
        if (!socket.write(chunk)) {
          socket.pause();
          socket.once("drain", () => socket.resume());
        }
      }
    };
    const ready = () => {
      connections.push(conn);
      if (mode === "greet") socket.write(`${name}\n`);
      opts.onConnection?.(conn);
    };
    if (!pending) ready();
    socket.on("data", (chunk: Buffer) => {
      if (!pending) return payload(chunk);
      pending = Buffer.concat([pending, chunk]);
      let header: ProxyHeader | undefined;
      try {
        header = parseProxyHeader(pending);
      } catch (err) {
        headerErrors.push(err as Error);
        socket.destroy();
        return;
      }
      if (!header) return;
      conn.header = header;
      const rest = pending.subarray(header.length);
      pending = undefined;
      ready();
      payload(rest);
    });
    socket.on("end", () => {
      conn.ended = true;
      socket.end();
    });
  });
  // Not 0: an ephemeral port can be taken by some outgoing connection before a restart binds it again.
  const port = opts.port ?? (await freePort());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const stopListening = () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  return {
    name,
    host,
    port,
    key: `${host}|${port}`,
    connections,
    headerErrors,
    stopListening: async () => {
      server.close();
      await Promise.resolve();
    },
    close: async () => {
      const closed = stopListening();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/**
 * A port whose accept queue is full, so new SYNs are dropped and connects hang: a child process
 * listens with backlog 1 and blocks its event loop; we fill the queue ourselves.
 */
export async function startBlackhole(res: Resources): Promise<{ port: number }> {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `const s=require("net").createServer();s.listen({port:0,host:"127.0.0.1",backlog:1},()=>{` +
        `require("fs").writeSync(1,s.address().port+"\\n");` +
        `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,60000);process.exit(0)})`,
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  res.add(() => child.kill("SIGKILL"));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("blackhole did not start")), 20_000);
    child.stdout!.once("data", (d: Buffer) => {
      clearTimeout(timer);
      resolve(Number(d.toString().trim()));
    });
  });
  // Fill the accept queue (Linux holds backlog+1): connects that complete stay queued; stop at the first that hangs.
  for (let i = 0; i < 16; i++) {
    const s = res.socket(net.connect({ port, host: "127.0.0.1" }));
    s.on("error", () => {});
    const ok = await new Promise<boolean>((r) => {
      const t = setTimeout(() => r(false), 300);
      s.once("connect", () => {
        clearTimeout(t);
        r(true);
      });
    });
    if (!ok) return { port };
  }
  throw new Error("could not fill the accept queue of the blackhole port");
}

/** A port on `host` that nothing listens on (bound then released). */
export async function closedPort(host = "127.0.0.1"): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, host, () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// ---------------------------------------------------------------------------------------------
// Front listeners (what the Engine does for tcp/tls listeners)

export interface Front {
  readonly port: number;
  readonly host: string;
  readonly listener: ListenerSnapshot;
  close(): Promise<void>;
}

/** A plain tcp (or tls, with `tlsOptions`) server on port 0 that hands each socket to `proxy`. */
export async function startFront(
  proxy: TcpProxy,
  listener: () => ListenerSnapshot,
  opts: { host?: string; tlsOptions?: tls.TlsOptions } = {},
): Promise<Front> {
  const host = opts.host ?? "127.0.0.1";
  const server = opts.tlsOptions
    ? tls.createServer(opts.tlsOptions, (socket) => proxy.handle(socket, listener()))
    : net.createServer((socket) => proxy.handle(socket, listener()));
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    host,
    get listener() {
      return listener();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A throwaway self-signed certificate for localhost (openssl), or undefined without openssl. */
export function selfSignedCert(): { key: string; cert: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), "ballast-tls-"));
  try {
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
        "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
      { stdio: "ignore", timeout: 20_000 },
    );
    return { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Clients and waits

export function connect(port: number, host = "127.0.0.1", options: Partial<net.NetConnectOpts> = {}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host, allowHalfOpen: true, ...options } as net.NetConnectOpts);
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

/** Resolves once `cond()` holds; rejects after `timeoutMs` (polling every `intervalMs`). */
export async function waitUntil(cond: () => boolean, timeoutMs = 10_000, what = "condition", intervalMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Reads from `socket` until `n` bytes arrived (bounded by `timeoutMs`). */
export function readBytes(socket: net.Socket, n: number, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => done(new Error(`read ${got} of ${n} bytes in ${timeoutMs} ms`)), timeoutMs);
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        socket.pause();
        const all = Buffer.concat(chunks);
        if (all.length > n) socket.unshift(all.subarray(n));
        done(undefined, all.subarray(0, n));
      }
    };
    const onClose = () => done(new Error(`socket closed after ${got} of ${n} bytes`));
    const done = (err?: Error, value?: Buffer) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.off("end", onClose);
      if (err) reject(err);
      else resolve(value!);
    };
    if (socket.readableEnded || socket.destroyed) return done(new Error(`socket already closed, 0 of ${n} bytes`));
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.once("end", onClose);
    socket.resume();
  });
}

/**
 * When the peer closed the connection (epoch ms): the first FIN (`end`) or close, and the error
 * code if it was reset. Bounded by `timeoutMs`. A FIN is answered with our own, so the socket closes.
 */
export function whenClosed(socket: net.Socket, timeoutMs = 10_000): Promise<{ at: number; error: string | undefined; reset: boolean }> {
  return new Promise((resolve, reject) => {
    let error: string | undefined;
    socket.on("error", (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.resume();
    const result = () => ({ at: Date.now(), error, reset: error === "ECONNRESET" });
    if (socket.destroyed || socket.readableEnded) return resolve(result());
    const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    const done = () => {
      clearTimeout(timer);
      socket.off("end", onEnd);
      socket.off("close", done);
      resolve(result());
    };
    const onEnd = () => {
      socket.end();
      done();
    };
    socket.once("end", onEnd);
    socket.once("close", done);
  });
}

export function sha256(): { update(b: Buffer): void; digest(): string } {
  const h = createHash("sha256");
  return { update: (b) => void h.update(b), digest: () => h.digest("hex") };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Snapshots through the real model

export interface TcpServiceSpec {
  servers: { address: string; port?: number; weight?: number; role?: "primary" | "secondary" }[];
  availability?: boolean;
  scheduler?: "wrr" | "wlc" | "source-ip";
  connectionDrainTimeout?: number;
  proxyProtocol?: "off" | "v1" | "v2";
  /** Source-IP persistence timeout in seconds; absent = off. */
  persistence?: number;
  /** A TCP health check (only to show that changing it is harmless). */
  healthCheckInterval?: number;
  /** Name of the group; default `<service>-group`. */
  group?: string;
}

export interface TcpSnapshotSpec {
  services: Record<string, TcpServiceSpec>;
  listeners?: { name: string; port: number; service: string; protocol?: "tcp" | "tls"; accessLog?: { enabled?: boolean; sampleRate?: number } }[];
}

const TEST_CERT = {
  chain: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
  privateKey: "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----",
};

/** A validated, frozen snapshot (model schemas + `buildSnapshot`), as the primary would send. */
export function tcpSnapshot(generation: number, spec: TcpSnapshotSpec): Snapshot {
  const groups = Object.entries(spec.services).map(([name, s]) =>
    ServerGroup.parse({ name: s.group ?? `${name}-group`, type: s.availability ? "availability" : "virtual", servers: s.servers }),
  );
  const services = Object.entries(spec.services).map(([name, s]) =>
    BackendService.parse({
      name,
      protocol: "tcp",
      port: 9,
      scheduler: s.scheduler ?? "wrr",
      serverGroup: s.group ?? `${name}-group`,
      connectionDrainTimeout: s.connectionDrainTimeout ?? 300,
      proxyProtocol: s.proxyProtocol ?? "off",
      ...(s.persistence !== undefined ? { sessionPersistence: { type: "source-ip", timeout: s.persistence } } : {}),
    }),
  );
  const checks = Object.entries(spec.services)
    .filter(([, s]) => s.healthCheckInterval !== undefined)
    .map(([name, s]) => HealthCheck.parse({ name: `${name}-hc`, backendService: name, protocol: "TCP", interval: s.healthCheckInterval }));
  const listeners = (spec.listeners ?? []).map((l) =>
    Listener.parse({
      name: l.name,
      protocol: l.protocol ?? "tcp",
      port: l.port,
      backendService: l.service,
      ...(l.protocol === "tls" ? { certificate: TEST_CERT } : {}),
      ...(l.accessLog ? { accessLog: l.accessLog } : {}),
    }),
  );
  // Groups that several services share would be listed twice; keep the first of each name.
  const uniqueGroups = [...new Map(groups.map((g) => [g.name, g])).values()];
  return buildSnapshot({ listeners, backendServices: services, serverGroups: uniqueGroups, healthChecks: checks }, generation);
}

/** The listener snapshot the Engine would pass for listener `name` of `snapshot`. */
export function listenerOf(snapshot: Snapshot, name: string): ListenerSnapshot {
  const l = snapshot.listeners.find((x) => x.name === name);
  if (!l) throw new Error(`no listener ${name}`);
  return l;
}

/**
 * A TcpProxy with one listener ("front") in front of one server on 127.0.0.1, whose accepted
 * sockets go to `onServerSocket` (allowHalfOpen, errors ignored). Everything closes through `res`.
 */
export async function proxyToServer(res: Resources, onServerSocket: (s: net.Socket) => void): Promise<{ proxy: TcpProxy; front: { port: number } }> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => {});
    onServerSocket(s);
  });
  const sockets = new Set<net.Socket>();
  server.on("connection", (s) => sockets.add(s));
  res.add(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const proxy = new TcpProxy({ log: silentLogger(), metrics: new Metrics(), now: Date.now });
  res.add({ close: () => proxy.close(0) });
  const snapshot = tcpSnapshot(1, {
    services: { svc: { servers: [{ address: "127.0.0.1", port }] } },
    listeners: [{ name: "front", port: 10000, service: "svc" }],
  });
  proxy.apply(snapshot);
  const front = res.add(await startFront(proxy, () => listenerOf(snapshot, "front")));
  return { proxy, front };
}
