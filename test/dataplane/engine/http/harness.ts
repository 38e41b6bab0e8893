import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { Agent, request, type Dispatcher } from "undici";
import { buildSnapshot, serverKey, type Snapshot } from "../../../../dataplane/config/snapshot";
import type { Clock } from "../../../../dataplane/clock";
import { Engine } from "../../../../dataplane/engine/engine";
import type { HttpLimits } from "../../../../dataplane/engine/http/limits";
import { silentLogger, type Logger } from "../../../../dataplane/log";
import {
  BackendService,
  HealthCheck,
  ServerGroup,
  type BackendServiceInput,
  type Certificate,
  type HealthCheckInput,
  type Listener,
  type ServerGroupInput,
} from "../../../../model";

/**
 * Builds snapshots for Engine tests and runs one Engine on 127.0.0.1. Listeners use port 0 (the
 * model refuses it; `buildSnapshot` does not validate), so tests never collide on ports; the
 * engine reports the bound port.
 */

export interface ListenerCfg {
  name?: string;
  protocol?: "http" | "https";
  service?: string;
  certificate?: Certificate;
  accessLog?: { enabled?: boolean; sampleRate?: number; includeQuery?: boolean };
  underscoresInHeaders?: boolean;
}

export interface Cfg {
  listeners?: ListenerCfg[];
  /** Service fields besides name/protocol/port (serverGroup defaults to "g"). */
  service?: Partial<BackendServiceInput> & Record<string, unknown>;
  services?: (Partial<BackendServiceInput> & { name: string } & Record<string, unknown>)[];
  /** Servers of group "g" (virtual unless `availability`). */
  servers?: { address?: string; port: number; weight?: number; role?: "primary" | "secondary" }[];
  groups?: ServerGroupInput[];
  availability?: boolean;
  check?: Partial<HealthCheckInput> & { protocol: "HTTP" | "TCP" };
}

let generation = 0;

export function snapshotOf(cfg: Cfg): Snapshot {
  const services = (cfg.services ?? [{ name: "web", ...cfg.service }]).map((s) =>
    BackendService.parse({ protocol: "http", port: 80, serverGroup: "g", ...s }),
  );
  const groups = (
    cfg.groups ?? [
      cfg.availability
        ? { name: "g", type: "availability", servers: (cfg.servers ?? []).map((s) => ({ address: "127.0.0.1", ...s })) }
        : { name: "g", type: "virtual", servers: (cfg.servers ?? []).map((s) => ({ address: "127.0.0.1", ...s })) },
    ]
  ).map((g) => ServerGroup.parse(g));
  const listeners = (cfg.listeners ?? [{}]).map(
    (l, i) =>
      ({
        name: l.name ?? (i === 0 ? "l1" : `l${i + 1}`),
        protocol: l.protocol ?? "http",
        port: 0,
        backendService: l.service ?? services[0]!.name,
        ...(l.certificate ? { certificate: l.certificate } : {}),
        ...(l.accessLog ? { accessLog: { enabled: true, sampleRate: 1, includeQuery: false, ...l.accessLog } } : {}),
        ...(l.underscoresInHeaders !== undefined ? { underscoresInHeaders: l.underscoresInHeaders } : {}),
      }) as Listener,
  );
  const checks = cfg.check ? [HealthCheck.parse({ name: "hc", backendService: services[0]!.name, ...cfg.check })] : [];
  return buildSnapshot({ listeners, backendServices: services, serverGroups: groups, healthChecks: checks }, ++generation);
}

export const key = (port: number, address = "127.0.0.1") => serverKey(address, port);

export interface HarnessOptions {
  http?: Partial<HttpLimits>;
  clock?: Clock;
  /** Default: a silent logger (no access lines either). */
  log?: Logger;
}

export class Harness {
  readonly engine: Engine;
  private readonly agents: Dispatcher[] = [];

  constructor(opts: HarnessOptions = {}) {
    this.engine = new Engine({ log: opts.log ?? silentLogger(), host: "127.0.0.1", ...(opts.http ? { http: opts.http } : {}), ...(opts.clock ? { clock: opts.clock } : {}) });
  }

  port(listener = "l1"): number {
    const p = this.engine.listeningPort(listener);
    if (p === undefined) throw new Error(`listener ${listener} is not open`);
    return p;
  }

  url(pathname = "/", listener = "l1", scheme = "http"): string {
    return `${scheme}://127.0.0.1:${this.port(listener)}${pathname}`;
  }

  /** A keep-alive client; closed with the harness. */
  agent(opts: Agent.Options = {}): Agent {
    const a = new Agent({ connections: 16, pipelining: 1, ...opts });
    this.agents.push(a);
    return a;
  }

  /** GET with a fresh default agent; returns status, headers and the whole (small) body. */
  async get(pathname = "/", opts: { headers?: Record<string, string>; dispatcher?: Dispatcher; listener?: string } = {}) {
    const res = await request(this.url(pathname, opts.listener), {
      dispatcher: opts.dispatcher ?? this.agent(),
      headers: opts.headers,
    });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  }

  async close(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.destroy().catch(() => {})));
    await this.engine.close(0);
  }
}

/** A throwaway self-signed certificate for 127.0.0.1 / localhost (openssl is in the image). */
export function selfSignedCertificate(): Certificate {
  const dir = mkdtempSync(path.join(tmpdir(), "ballast-cert-"));
  try {
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")],
      { stdio: "ignore" },
    );
    return { chain: readFileSync(path.join(dir, "cert.pem"), "utf8"), privateKey: readFileSync(path.join(dir, "key.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls `cond` every 20 ms until true or `timeoutMs` passes; returns whether it became true. */
export async function eventually(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Sends `data` (or each of `parts`, one write each, a turn of the event loop apart) and returns
 * what came back and whether the balancer closed the connection. The client never closes first:
 * `closed` false means the balancer still held the connection when `guardMs` ran out.
 */
export function exchange(port: number, data: string | Buffer | (string | Buffer)[], guardMs = 5000): Promise<{ text: string; closed: boolean }> {
  const parts = Array.isArray(data) ? data : [data];
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    let text = "";
    const t = setTimeout(() => {
      s.destroy();
      resolve({ text, closed: false });
    }, guardMs);
    s.on("data", (d) => (text += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(t);
      resolve({ text, closed: true });
    });
    s.on("connect", async () => {
      for (const [i, p] of parts.entries()) {
        if (!s.writable) break;
        if (i > 0) await new Promise((r) => setTimeout(r, 20));
        s.write(p);
      }
    });
  });
}

/** Sends raw bytes and returns everything the proxy answers until it closes or 3 s pass. */
export function rawRequest(port: number, data: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    let out = "";
    const t = setTimeout(() => s.destroy(), timeoutMs);
    s.on("data", (d) => {
      out += d.toString("latin1");
      // A complete response with a Content-Length: stop there (the connection may stay open).
      const end = out.indexOf("\r\n\r\n");
      const m = /content-length: (\d+)/i.exec(out.slice(0, end));
      if (end !== -1 && m && out.length >= end + 4 + Number(m[1])) s.end();
    });
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(t);
      resolve(out);
    });
    s.write(data);
  });
}
