/**
 * Header handling between client and server (RFC 9110 §7.6.1): hop-by-hop headers are dropped in
 * both directions, together with every header the `Connection` header names. The proxy then
 * frames each side itself: a request sent upstream carries Content-Length or (a chunked body, whose
 * length is unknown) `Transfer-Encoding: chunked`, never both.
 */

import { Mark, trimOws, type FastRequest } from "./h1/request-head";

/** Hop-by-hop headers of RFC 9110 §7.6.1, plus the non-standard `proxy-connection`. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Headers never forwarded upstream besides hop-by-hop ones: `expect` (the proxy already answered
 * `100 Continue` to the client and streams the body), `content-length` (re-added once by
 * `requestHeaders`) and `host` (re-added once).
 */
const NOT_FORWARDED: ReadonlySet<string> = new Set(["expect", "content-length", "host"]);

const NONE: ReadonlySet<string> = new Set();

/** Lower-cased names listed in every `Connection` header of a raw header list. */
export function connectionTokens(raw: readonly string[]): ReadonlySet<string> {
  let out: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length !== 10 || n.toLowerCase() !== "connection") continue;
    out ??= new Set<string>();
    for (const t of raw[i + 1]!.split(",")) {
      const token = t.trim().toLowerCase();
      if (token) out.add(token);
    }
  }
  return out ?? NONE;
}

/** Lower-cased `forwardedHeaders` of a service, computed once per (frozen) list. */
const replacedCache = new WeakMap<readonly string[], ReadonlySet<string>>();
function replacedBy(forwarded: readonly string[]): ReadonlySet<string> {
  if (forwarded.length === 0) return NONE;
  let set = replacedCache.get(forwarded);
  if (!set) replacedCache.set(forwarded, (set = new Set(forwarded.map((h) => h.toLowerCase()))));
  return set;
}

export interface ForwardContext {
  /** The client's address (IPv4-mapped IPv6 unwrapped). */
  readonly clientIp: string;
  /** Local address the client connected to. */
  readonly localIp: string;
  readonly listenerProtocol: "http" | "https";
  readonly listenerPort: number;
  /** The service's `forwardedHeaders`. */
  readonly forwarded: readonly string[];
  /** The listener's `underscoresInHeaders`: forward header names with `_` (else they are dropped). */
  readonly underscores: boolean;
}

export type RequestHeaderResult = { ok: true; headers: string[]; hasHost: boolean; clientIp: string } | { ok: false; reason: string };

/**
 * The header list to send upstream, as a flat `[name, value, …]` array in the client's order and
 * case. Rejects (400) what an intermediary must not forward: more than one Host, or more than one
 * Content-Length (Node's parser refuses conflicting ones; identical repeats are refused here too).
 */
export function requestHeaders(
  raw: readonly string[],
  chunked: boolean,
  ctx: ForwardContext,
  extraConnectionHeaders?: readonly string[],
  /** An absolute-form target's authority: it replaces the client's Host (RFC 9112 §3.2.2). */
  authority?: string,
): RequestHeaderResult {
  const dropped = connectionTokens(raw);
  const out: string[] = [];
  let host: string | undefined;
  let contentLength: string | undefined;
  let xff: string | undefined;
  const replaced = replacedBy(ctx.forwarded);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    // CGI, WSGI and Rack servers read `_` as `-`: `Transfer_Encoding` would pass for framing,
    // `X_Forwarded_For` for the address the balancer sets. Dropped as nginx does by default.
    if (!ctx.underscores && name.includes("_")) continue;
    const lower = name.toLowerCase();
    if (lower === "host") {
      if (host !== undefined) return { ok: false, reason: "more than one Host header" };
      host = value;
      continue;
    }
    if (lower === "content-length") {
      if (contentLength !== undefined) return { ok: false, reason: "more than one Content-Length header" };
      contentLength = value;
      continue;
    }
    // Framing and Host above are never droppable through Connection (that would desync the hop).
    if (HOP_BY_HOP.has(lower) || NOT_FORWARDED.has(lower) || dropped.has(lower) || replaced.has(lower)) continue;
    if (lower === "x-forwarded-for") {
      xff = xff === undefined ? value : `${xff}, ${value}`;
      continue;
    }
    out.push(name, value);
  }
  if (authority !== undefined) host = authority;
  if (host !== undefined) out.push("host", host);
  // A body framed by Transfer-Encoding is re-framed chunked; one framed by Content-Length keeps it.
  // The client could not send both: the parser rejects that.
  if (chunked) out.push("transfer-encoding", "chunked");
  else if (contentLength !== undefined) out.push("content-length", contentLength);
  addForwarded(out, ctx, host, xff);
  if (extraConnectionHeaders) out.push(...extraConnectionHeaders);
  return { ok: true, headers: out, hasHost: host !== undefined, clientIp: ctx.clientIp };
}

/** Appends X-Forwarded-For (the client's own appended) and the service's optional forwarded headers. */
function addForwarded(out: string[], ctx: ForwardContext, host: string | undefined, xff: string | undefined): void {
  out.push("x-forwarded-for", xff === undefined ? ctx.clientIp : `${xff}, ${ctx.clientIp}`);
  for (const h of ctx.forwarded) {
    switch (h) {
      case "X-Forwarded-Proto":
        out.push("x-forwarded-proto", ctx.listenerProtocol);
        break;
      case "X-Forwarded-Port":
        out.push("x-forwarded-port", String(ctx.listenerPort));
        break;
      case "X-Forwarded-LBIP":
        out.push("x-forwarded-lbip", ctx.localIp);
        break;
      case "X-Forwarded-Host":
        if (host !== undefined) out.push("x-forwarded-host", host);
        break;
    }
  }
}

export type ForwardedHead =
  | { ok: true; head: string; hasHost: boolean; clientIp: string; cookies: readonly string[] | undefined }
  | { ok: false; reason: string };

const NO_COOKIES: readonly string[] = Object.freeze([]);

/**
 * What `requestHeaders` and `requestLines` make of a head the fast path parsed (request-head.ts)
 * with `plain` set, built from slices of the client's text: only its marked lines are looked at,
 * every other line goes upstream as the client wrote it (whitespace around the value included,
 * which RFC 9110 makes no part of it). `cookies` holds the Cookie lines as a flat
 * `[name, value, …]` list, for `readCookie` (the request's other fields are not built at all).
 */
export function forwardHead(req: FastRequest, path: string, ctx: ForwardContext): ForwardedHead {
  const { head, marks } = req;
  let text = `${req.method} ${path} HTTP/1.1\r\n`;
  let from = req.fieldsAt;
  let host: string | undefined;
  let xff: string | undefined;
  let cookies: string[] | undefined;
  for (let i = 0; i < marks.length; i += 2) {
    const pos = marks[i]!;
    const colon = head.indexOf(":", pos);
    let next = head.indexOf("\r\n", colon);
    if (next === -1) next = head.length;
    const value = trimOws(head.slice(colon + 1, next));
    switch (marks[i + 1]) {
      case Mark.Host:
        if (host !== undefined) return { ok: false, reason: "more than one Host header" };
        host = value;
        break;
      case Mark.HopByHop:
        break;
      case Mark.Forwarded: {
        const lower = head.slice(pos, colon).toLowerCase();
        if (lower === "x-forwarded-for") xff = xff === undefined ? value : `${xff}, ${value}`;
        else if (!replacedBy(ctx.forwarded).has(lower)) continue;
        break;
      }
      case Mark.Cookie:
        (cookies ??= []).push("cookie", value);
        continue;
      case Mark.Underscore:
        if (ctx.underscores) continue;
        break;
    }
    // The line is not forwarded: send what precedes it.
    if (pos > from) text += head.slice(from, pos);
    from = next + 2;
  }
  if (from < head.length) text += `${head.slice(from)}\r\n`;
  if (host !== undefined) text += `host: ${host}\r\n`;
  const added: string[] = [];
  addForwarded(added, ctx, host, xff);
  for (let i = 0; i < added.length; i += 2) text += `${added[i]}: ${added[i + 1]}\r\n`;
  return { ok: true, head: text, hasHost: host !== undefined, clientIp: ctx.clientIp, cookies: cookies ?? NO_COOKIES };
}

/**
 * The server's response headers to send to the client, as a flat array: hop-by-hop headers and
 * those named in `Connection` removed; everything else (repeated Set-Cookie included) kept in order.
 */
export function responseHeaders(raw: readonly string[]): string[] {
  const dropped = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || (dropped !== NONE && dropped.has(lower))) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; other addresses unchanged. */
export function plainIp(address: string | undefined): string {
  if (!address) return "";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
