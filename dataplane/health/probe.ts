import net from "node:net";
import type { HealthCheck } from "../../model";

/** `node:http` is loaded by the first HTTP check: its client is 0.5–1 MiB of RSS a process without one never needs. */
const loadHttp = () => require("node:http") as typeof import("node:http");

/**
 * One health probe of one server. HTTP: `GET <path>` with `User-Agent: ballast-health-check` and
 * the server's `Host`, passing when the status is in one of the configured classes; the body is
 * not read. TCP: passes when the connection is established. Every probe uses a fresh connection
 * (a pooled one would hide a server that stopped accepting) and is bounded by `signal`, which the
 * checker aborts after the check's timeout.
 */

export interface ProbeTarget {
  readonly address: string;
  /** The check's port, or the server's own port. */
  readonly port: number;
}

export interface ProbeResult {
  readonly ok: boolean;
  /** Why it failed (or "ok"). Short, for logs and the status endpoint. */
  readonly reason: string;
}

export type Probe = (target: ProbeTarget, check: HealthCheck, signal: AbortSignal) => Promise<ProbeResult>;

export const HEALTH_CHECK_USER_AGENT = "ballast-health-check";

/** `Host` header value for a server: address (IPv6 in brackets), with `:port` unless it is 80. */
export function hostHeader(address: string, port: number): string {
  const host = net.isIPv6(address) ? `[${address}]` : address;
  return port === 80 ? host : `${host}:${port}`;
}

function describeError(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) return String(signal.reason instanceof Error ? signal.reason.message : (signal.reason ?? "timeout"));
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
      return "connection reset";
    case "EHOSTUNREACH":
      return "host unreachable";
    case "ENOTFOUND":
      return "address not found";
    default:
      return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? err);
  }
}

export function probeTcp(target: ProbeTarget, _check: HealthCheck, signal: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve({ ok: false, reason: describeError(undefined, signal) });
    const socket = net.connect({ host: target.address, port: target.port });
    const done = (result: ProbeResult) => {
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = () => done({ ok: false, reason: describeError(undefined, signal) });
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => done({ ok: true, reason: "ok" }));
    socket.once("error", (err) => done({ ok: false, reason: describeError(err, signal) }));
  });
}

export function probeHttp(target: ProbeTarget, check: HealthCheck, signal: AbortSignal): Promise<ProbeResult> {
  const path = check.protocol === "HTTP" ? check.path : "/";
  const classes = check.protocol === "HTTP" ? check.statusCodes : ["2xx", "3xx"];
  return new Promise((resolve) => {
    if (signal.aborted) return resolve({ ok: false, reason: describeError(undefined, signal) });
    let settled = false;
    const req = loadHttp().request({
      host: target.address,
      port: target.port,
      method: "GET",
      path,
      agent: false,
      headers: { "user-agent": HEALTH_CHECK_USER_AGENT, host: hostHeader(target.address, target.port), connection: "close" },
    });
    let socket: net.Socket | undefined;
    req.once("socket", (s: net.Socket) => {
      socket = s;
      if (settled) s.destroy();
    });
    const done = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      // req.destroy() alone leaves a socket that is still connecting or idle open with agent: false.
      req.destroy();
      socket?.destroy();
      resolve(result);
    };
    const onAbort = () => done({ ok: false, reason: describeError(undefined, signal) });
    signal.addEventListener("abort", onAbort, { once: true });
    req.once("response", (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      const cls = `${Math.floor(status / 100)}xx`;
      done(classes.includes(cls as never) ? { ok: true, reason: "ok" } : { ok: false, reason: `status ${status} not in ${classes.join(",")}` });
    });
    req.once("error", (err) => done({ ok: false, reason: describeError(err, signal) }));
    req.end();
  });
}

/** The probe for a check's protocol. */
export const defaultProbe: Probe = (target, check, signal) =>
  check.protocol === "HTTP" ? probeHttp(target, check, signal) : probeTcp(target, check, signal);
