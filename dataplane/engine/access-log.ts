import { randomUUID } from "node:crypto";
import type { ListenerSnapshot } from "../config/snapshot";
import type { AccessSink } from "../log";

/**
 * The access log of one process: one line per HTTP request and per TCP connection (at its close),
 * `"msg":"access"`, written through the process's pino output (log.ts). The keys and the
 * termination states are a contract (docs/access-log.md); what a line says is decided by the
 * proxies, which build its object only once `sampled` said the line will be written.
 */

/**
 * How a request or connection ended, in words, each anchored on one of HAProxy's termination
 * states (docs/access-log.md has the table).
 */
export type Termination =
  | "normal"
  | "client_closed"
  | "server_closed"
  | "server_timeout"
  | "idle_timeout"
  | "connect_failed"
  | "no_server"
  | "no_service"
  | "bad_request"
  | "client_timeout"
  | "bad_response"
  | "drained"
  | "shutdown";

/** One HTTP request's line. Durations in ms, -1 for a phase that did not happen. */
export interface HttpAccessLine {
  listener: string;
  client: string;
  method: string;
  host: string;
  path: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  service: string;
  server: string;
  connectMs: number;
  firstByteMs: number;
  totalMs: number;
  retries: number;
  termination: Termination;
  requestId: string;
}

/** One TCP/TLS connection's line: no method, host, path, status or request id. */
export type TcpAccessLine = Omit<HttpAccessLine, "method" | "host" | "path" | "status" | "requestId">;

export class AccessLog {
  constructor(private readonly sink: AccessSink | undefined) {}

  /** Whether this request or connection of `listener` is logged: its switch, then its sample rate. */
  sampled(listener: ListenerSnapshot): boolean {
    const settings = listener.accessLog;
    if (this.sink === undefined || !settings?.enabled) return false;
    return settings.sampleRate >= 1 || Math.random() < settings.sampleRate;
  }

  write(line: HttpAccessLine | TcpAccessLine): void {
    this.sink?.write(line);
  }
}

/** A request id for a request that came without `X-Request-Id`: forwarded upstream and logged. */
export function newRequestId(): string {
  return randomUUID();
}

/** `addr:port` as lines show endpoints, IPv6 in brackets. */
export function endpoint(ip: string, port: number | undefined): string {
  return ip.includes(":") ? `[${ip}]:${port ?? 0}` : `${ip}:${port ?? 0}`;
}

/** The path as logged: without its query string unless the listener keeps it. */
export function loggedPath(path: string, includeQuery: boolean): string {
  if (includeQuery) return path;
  const q = path.indexOf("?");
  return q < 0 ? path : path.slice(0, q);
}

/** Whole milliseconds between two monotonic readings, -1 when the phase did not happen. */
export function spanMs(from: number, to: number): number {
  return from < 0 || to < 0 ? -1 : Math.round(to - from);
}
