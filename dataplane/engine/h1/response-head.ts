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
