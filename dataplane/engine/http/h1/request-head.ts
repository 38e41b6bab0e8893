/**
 * A fast path for the common request: an HTTP/1.1 request without a body, its whole head in one
 * read. Such a head is parsed here in JavaScript; anything else (a body, HTTP/1.0, an upgrade, an
 * expectation, an absolute or asterisk target, anything unusual in the head, a head split across
 * reads or larger than half the header limit) returns undefined and the connection hands the same
 * bytes to strict llhttp, which decides. Taking an llhttp parser and running it for every request
 * was a large share of the proxy's CPU (docs/benchmarks.md).
 *
 * The check is stricter than llhttp, never looser: what is parsed here llhttp would accept with the
 * same method, target, headers (names as sent, values without surrounding whitespace) and
 * keep-alive, which test/dataplane/engine/http/h1/request-head.test.ts checks against llhttp itself.
 */

import { splitFields } from "./parser";

export interface FastRequest {
  readonly method: string;
  readonly url: string;
  /** The whole head as read (latin1), without the empty line that ends it. */
  readonly head: string;
  /** Where the first field line starts in `head` (`head.length` when there is none). */
  readonly fieldsAt: number;
  /**
   * The field lines the proxy must look at, as `[lineStart, kind, …]` in order: Host, the
   * hop-by-hop headers, `X-Forwarded-*`, Cookie and names with `_`. Every other line is forwarded
   * as written.
   */
  readonly marks: number[];
  readonly keepAlive: boolean;
  /**
   * Whether `Connection` names nothing but `keep-alive`. Otherwise it may name further headers to
   * drop (or `close`, which names one too), and the proxy builds the upstream head field by field.
   */
  readonly plain: boolean;
}

/** What a marked line of `FastRequest.marks` is. */
export const enum Mark {
  Host = 1,
  /** connection, keep-alive, proxy-connection, te, trailer: never forwarded. */
  HopByHop = 2,
  /** A name starting `x-forwarded-`. */
  Forwarded = 3,
  Cookie = 4,
  /** A name with `_` (dropped unless the listener's `underscoresInHeaders`). */
  Underscore = 5,
}

/** Methods taken here; a request with any other goes to llhttp. */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);
/** Origin-form targets of RFC 3986 characters only (no fragment, no space, nothing above 0x7e). */
const ORIGIN_FORM = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/;
/**
 * Field lines from `lastIndex` to the end: a token name, a colon, a value of visible ASCII, space
 * and tab. So no line has an empty or non-token name, an obs-fold, a control character or a bare
 * CR or LF: llhttp's to judge.
 */
const FIELDS = /(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e]*(?:\r\n|$))*$/y;

/**
 * Parses `head` (the bytes before the empty line, latin1, at most `maxHead` long) or returns
 * undefined. A head with a Content-Length, Transfer-Encoding, Upgrade or Expect header is left to
 * llhttp, so a request parsed here never has a body. One regex validates all field lines; the loop
 * then reads only each line's name length and first letter, and the few names that matter.
 */
export function parseFastRequest(head: string, maxHead: number, maxLines = 100): FastRequest | undefined {
  if (head.length > maxHead) return undefined;
  let eol = head.indexOf("\r\n");
  if (eol === -1) eol = head.length;
  const sp1 = head.indexOf(" ");
  if (sp1 <= 0 || sp1 > 7) return undefined;
  const method = head.slice(0, sp1);
  if (!METHODS.has(method)) return undefined;
  const sp2 = head.indexOf(" ", sp1 + 1);
  if (sp2 === -1 || sp2 > eol || eol - sp2 !== 9 || !head.startsWith("HTTP/1.1", sp2 + 1)) return undefined;
  const url = head.slice(sp1 + 1, sp2);
  if (!ORIGIN_FORM.test(url)) return undefined;
  const fieldsAt = eol < head.length ? eol + 2 : head.length;
  FIELDS.lastIndex = fieldsAt;
  if (!FIELDS.test(head)) return undefined;
  const marks: number[] = [];
  let keepAlive = true;
  let plain = true;
  let pos = fieldsAt;
  let lines = 0;
  // The next `_` at or after `pos`: found once per head and moved forward only, since `_` is
  // common in values (cookies) and rare in names.
  let underscore = head.indexOf("_", fieldsAt);
  while (pos < head.length) {
    // Too many lines: llhttp's path refuses the request (431).
    if (++lines > maxLines) return undefined;
    const colon = head.indexOf(":", pos);
    let next = head.indexOf("\r\n", colon);
    if (next === -1) next = head.length;
    const first = head.charCodeAt(pos) | 0x20;
    let kind = 0;
    if (first === 0x78) {
      if (colon - pos > 12 && named(head, pos, "x-forwarded-")) kind = Mark.Forwarded;
    } else switch (colon - pos) {
      case 2:
        if (first === 0x74 && named(head, pos, "te")) kind = Mark.HopByHop;
        break;
      case 4:
        if (first === 0x68 && named(head, pos, "host")) kind = Mark.Host;
        break;
      case 6:
        if (first === 0x63 && named(head, pos, "cookie")) kind = Mark.Cookie;
        else if (first === 0x65 && named(head, pos, "expect")) return undefined;
        break;
      case 7:
        if (first === 0x75 && named(head, pos, "upgrade")) return undefined;
        if (first === 0x74 && named(head, pos, "trailer")) kind = Mark.HopByHop;
        break;
      case 10:
        if (first === 0x6b && named(head, pos, "keep-alive")) kind = Mark.HopByHop;
        else if (first === 0x63 && named(head, pos, "connection")) {
          kind = Mark.HopByHop;
          for (const t of head.slice(colon + 1, next).split(",")) {
            const token = trimOws(t).toLowerCase();
            if (token === "upgrade") return undefined;
            if (token === "close") keepAlive = false;
            if (token !== "keep-alive" && token !== "") plain = false;
          }
        }
        break;
      case 14:
        if (first === 0x63 && named(head, pos, "content-length")) return undefined;
        break;
      case 16:
        if (first === 0x70 && named(head, pos, "proxy-connection")) kind = Mark.HopByHop;
        break;
      case 17:
        if (first === 0x74 && named(head, pos, "transfer-encoding")) return undefined;
        break;
    }
    if (underscore !== -1 && underscore < pos) underscore = head.indexOf("_", pos);
    if (underscore !== -1 && underscore < colon) kind = Mark.Underscore;
    if (kind !== 0) marks.push(pos, kind);
    pos = next + 2;
  }
  return { method, url, head, fieldsAt, marks, keepAlive, plain };
}

/**
 * Whether `head` has `lower` at `pos`, ASCII case-insensitively. Only for names that passed
 * `FIELDS`: among token characters, `| 0x20` maps only A–Z onto the lower-case letters and nothing
 * onto `-`.
 */
function named(head: string, pos: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) if ((head.charCodeAt(pos + i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/** The field lines of a parsed head as a flat `[name, value, …]` list, values without surrounding OWS. */
export function fieldsOf(req: FastRequest): string[] {
  // The head passed FIELDS, so every line splits.
  const raw = splitFields(req.head, req.fieldsAt)!;
  for (let i = 1; i < raw.length; i += 2) raw[i] = trimOws(raw[i]!);
  return raw;
}

/** Strips spaces and tabs at both ends (RFC 9110 OWS). */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}
