/**
 * A fast path for the common response: `HTTP/1.1`, a final status with a body, one valid
 * Content-Length, no Transfer-Encoding. Such a head is parsed here in JavaScript and its body is
 * forwarded as slices of the socket's reads (no copy per chunk, nothing for the garbage collector);
 * that is most of what a busy balancer sees. Anything else (HTTP/1.0, 1xx, 204, 304, chunked or
 * close-delimited bodies, anything unusual in the head) returns undefined and the connection hands
 * the same bytes to the strict llhttp parser, which decides.
 *
 * The check is conservative: a head with a control character, a lone CR or LF, an obs-fold line, a
 * header name that is not a token, or a repeated Content-Length is not parsed here.
 */

import { splitFields } from "./parser";

export interface FastHead {
  readonly status: number;
  readonly reason: string;
  /** Flat `[name, value, …]` in the server's order and case. */
  readonly raw: string[];
  readonly length: number;
  readonly keepAlive: boolean;
}

// Control characters other than HT, CR, LF; a CR not before LF; an LF not after CR.
const SUSPECT = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;
const DIGITS = /^\d{1,15}$/;

/** Parses `head` (the bytes before the empty line, latin1) or returns undefined. */
export function parseFastHead(head: string): FastHead | undefined {
  if (!head.startsWith("HTTP/1.1 ") || SUSPECT.test(head)) return undefined;
  const status = Number(head.slice(9, 12));
  if (!(status >= 200 && status <= 999) || status === 204 || status === 304) return undefined;
  let eol = head.indexOf("\r\n");
  if (eol === -1) eol = head.length;
  if (eol > 12 && head.charCodeAt(12) !== 32) return undefined;
  const reason = eol > 13 ? head.slice(13, eol) : "";
  const raw = splitFields(head, eol + 2);
  if (!raw) return undefined;
  let length = -1;
  let keepAlive = true;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = (raw[i + 1] = raw[i + 1]!.trim());
    switch (name.length) {
      case 14:
        if (name.toLowerCase() === "content-length") {
          if (length !== -1 || !DIGITS.test(value)) return undefined;
          length = Number(value);
        }
        break;
      case 17:
        if (name.toLowerCase() === "transfer-encoding") return undefined;
        break;
      case 10:
        if (name.toLowerCase() === "connection" && /(^|,)\s*close\s*(,|$)/i.test(value)) keepAlive = false;
        break;
    }
  }
  if (length === -1) return undefined;
  return { status, reason, raw, length, keepAlive };
}

/**
 * The commonest response of all, forwarded without being taken apart: a head that `parseFastHead`
 * would accept, whose reason phrase is not empty, and whose only hop-by-hop headers are standard ones
 * (`Connection` naming nothing but `keep-alive` or `close`). Such a head goes to the client as the
 * server wrote it, minus its hop-by-hop lines: no per-field strings, no array, no rebuilt head.
 * Splitting the head into fields and building it again was a tenth of the data plane's CPU per
 * proxied request (docs/benchmarks.md, change 33).
 *
 * The client gets the same fields as through `parseFastHead` and `responseHeaders` (checked by a
 * property test against them); only the whitespace around values is the server's.
 */
export interface PassHead {
  readonly status: number;
  /** The status line and the header lines to forward, each ending in CRLF (no empty line). */
  readonly text: string;
  readonly length: number;
  readonly keepAlive: boolean;
}

// The whole head at once: status line with a reason, then lines of a token, a colon and a value
// (visible characters, spaces, tabs and obs-text: no control character, no lone CR or LF).
const PASSABLE = /^HTTP\/1\.1 [2-9]\d\d [\x21-\x7e\x80-\xff][\t\x20-\x7e\x80-\xff]*(?:\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*)*$/;
// Header lines the proxy must look at: framing and hop-by-hop (RFC 9110 §7.6.1).
// A header named `close` is one more the general path drops when `Connection: close` names it.
const SPECIAL = /\r\n(?:(content-length)|(transfer-encoding|close)|(connection)|keep-alive|proxy-connection|te|trailer|upgrade):/gi;
const OWS_DIGITS = /^[ \t]*(\d{1,15})[ \t]*$/;
// A Connection value naming nothing but keep-alive and close (empty list elements allowed).
const CONNECTION_PLAIN = /^(?:[ \t]*(?:keep-alive|close)?[ \t]*,)*[ \t]*(?:keep-alive|close)?[ \t]*$/i;
const CLOSE = /(?:^|,)[ \t]*close[ \t]*(?:,|$)/i;

/** Scans `head` (the bytes before the empty line, latin1) or returns undefined. */
export function passHead(head: string): PassHead | undefined {
  if (!PASSABLE.test(head)) return undefined;
  const status = (head.charCodeAt(9) - 48) * 100 + (head.charCodeAt(10) - 48) * 10 + (head.charCodeAt(11) - 48);
  if (status === 204 || status === 304) return undefined;
  let length = -1;
  let keepAlive = true;
  let text = "";
  let from = 0; // start of the part of `head` not yet copied to `text`
  SPECIAL.lastIndex = 0;
  for (let m = SPECIAL.exec(head); m !== null; m = SPECIAL.exec(head)) {
    const line = m.index + 2;
    let eol = head.indexOf("\r\n", line);
    if (eol === -1) eol = head.length;
    const value = head.slice(line + m[0].length - 2, eol);
    if (m[1] !== undefined) {
      const digits = OWS_DIGITS.exec(value);
      if (length !== -1 || digits === null) return undefined;
      length = Number(digits[1]);
      continue; // kept
    }
    if (m[2] !== undefined) return undefined;
    if (m[3] !== undefined) {
      // One naming other headers: the general path drops those too.
      if (!CONNECTION_PLAIN.test(value)) return undefined;
      if (CLOSE.test(value)) keepAlive = false;
    }
    text += head.slice(from, line);
    from = eol + 2;
  }
  if (length === -1) return undefined;
  text = from === 0 ? head + "\r\n" : from < head.length ? text + head.slice(from) + "\r\n" : text;
  return { status, text, length, keepAlive };
}
