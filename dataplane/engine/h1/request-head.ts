/**
 * A fast path for the common request: an HTTP/1.1 request without a body, its whole head in one
 * read. Such a head is parsed here in JavaScript; anything else (a body, HTTP/1.0, an upgrade, an
 * expectation, an absolute or asterisk target, anything unusual in the head, a head split across
 * reads or larger than half the header limit) returns undefined and the connection hands the same
 * bytes to strict llhttp, which decides. Taking an llhttp parser and running it cost about 10% of a
 * worker's CPU per proxied request (bench/profile.mjs, docs/benchmarks.md).
 *
 * The check is stricter than llhttp, never looser: what is parsed here llhttp would accept with the
 * same method, target, headers (names as sent, values without surrounding whitespace) and
 * keep-alive, which test/dataplane/engine/h1/request-head.test.ts checks against llhttp itself.
 */

import { splitFields } from "./parser";

export interface FastRequest {
  readonly method: string;
  readonly url: string;
  /** Flat `[name, value, …]` in the client's order and case. */
  readonly raw: string[];
  readonly keepAlive: boolean;
}

/** Methods taken here; a request with any other goes to llhttp. */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);
/** Origin-form targets of RFC 3986 characters only (no fragment, no space, nothing above 0x7e). */
const ORIGIN_FORM = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/;
/** A field value: visible ASCII, space and tab only. */
const VALUE = /^[\t\x20-\x7e]*$/;

/**
 * Parses `head` (the bytes before the empty line, latin1, at most `maxHead` long) or returns
 * undefined. A head with a Content-Length, Transfer-Encoding, Upgrade or Expect header is left to
 * llhttp, so a request parsed here never has a body.
 */
export function parseFastRequest(head: string, maxHead: number): FastRequest | undefined {
  if (head.length > maxHead) return undefined;
  let eol = head.indexOf("\r\n");
  if (eol === -1) eol = head.length;
  const sp1 = head.indexOf(" ");
  if (sp1 <= 0 || sp1 > 7) return undefined;
  const method = head.slice(0, sp1);
  if (!METHODS.has(method)) return undefined;
  const sp2 = head.indexOf(" ", sp1 + 1);
  if (sp2 === -1 || sp2 > eol || eol - sp2 !== 9 || head.slice(sp2 + 1, eol) !== "HTTP/1.1") return undefined;
  const url = head.slice(sp1 + 1, sp2);
  if (!ORIGIN_FORM.test(url)) return undefined;
  const raw = splitFields(head, eol + 2);
  if (!raw) return undefined;
  let keepAlive = true;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // A CR or LF left inside a line is a bare one: llhttp's to judge.
    if (!VALUE.test(raw[i + 1]!)) return undefined;
    const value = (raw[i + 1] = trimOws(raw[i + 1]!));
    switch (name.length) {
      case 6:
        if (name.toLowerCase() === "expect") return undefined;
        break;
      case 7:
        if (name.toLowerCase() === "upgrade") return undefined;
        break;
      case 10:
        if (name.toLowerCase() === "connection") {
          for (const t of value.split(",")) {
            const token = trimOws(t).toLowerCase();
            if (token === "close") keepAlive = false;
            else if (token === "upgrade") return undefined;
          }
        }
        break;
      case 14:
        if (name.toLowerCase() === "content-length") return undefined;
        break;
      case 17:
        if (name.toLowerCase() === "transfer-encoding") return undefined;
        break;
    }
  }
  return { method, url, raw, keepAlive };
}

/** Strips spaces and tabs at both ends (RFC 9110 OWS). */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}
