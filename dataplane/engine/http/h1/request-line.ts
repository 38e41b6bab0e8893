/**
 * The request line, judged before llhttp sees it. llhttp in strict mode still accepts runs of
 * spaces between the parts of the line (`GET  / HTTP/1.1`) and answers an HTTP/0.9 request
 * (`GET /` and nothing more) by waiting for headers that never come; it also takes `HTTP/2.0`
 * (the HTTP/2 connection preface's version) as a version. RFC 9112 §3 allows exactly one space
 * between method, target and version, and this balancer speaks HTTP/1.0 and HTTP/1.1 only
 * (docs/traffic.md, "The front door").
 */

/** What a request line gets: nothing (fine), or the status and message of the refusal. */
export type LineVerdict = undefined | { readonly status: 400 | 505; readonly message: string };

const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
/** method SP request-target SP HTTP-version, the target without spaces or control characters. */
const LINE = new RegExp(`^${TOKEN} [\\x21-\\x7e\\x80-\\xff]+ HTTP/(\\d)\\.(\\d)$`);
/** method SP request-target: an HTTP/0.9 simple request. */
const SIMPLE = new RegExp(`^${TOKEN} [\\x21-\\x7e\\x80-\\xff]+$`);

/** Judges one request line (without its CRLF). */
export function checkRequestLine(line: string): LineVerdict {
  const m = LINE.exec(line);
  if (m) {
    if (m[1] === "1" && (m[2] === "1" || m[2] === "0")) return undefined;
    return { status: 505, message: `HTTP version not supported: only HTTP/1.0 and HTTP/1.1 are served` };
  }
  if (SIMPLE.test(line)) return { status: 400, message: "bad request: HTTP/0.9 requests are not supported" };
  return { status: 400, message: "bad request: malformed request line" };
}

/** Verdict for a version llhttp parsed (a request whose line was not judged here). */
export function checkVersion(major: number, minor: number): LineVerdict {
  if (major === 1 && (minor === 1 || minor === 0)) return undefined;
  if (major === 0) return { status: 400, message: "bad request: HTTP/0.9 requests are not supported" };
  return { status: 505, message: `HTTP version not supported: only HTTP/1.0 and HTTP/1.1 are served` };
}

/**
 * Finds the request line of a message that starts at `start` in `buf`, skipping the empty lines
 * RFC 9112 §2.2 lets a client send before it. `line` is its text, or undefined when it does not end
 * within `buf` (it continues in a later read); `lineStart` is where it starts, and `end` where the
 * next line starts.
 */
export function requestLineAt(buf: Buffer, start: number, maxLength: number): { line: string | undefined; lineStart: number; end: number } {
  let pos = start;
  for (;;) {
    const lf = buf.indexOf(0x0a, pos);
    if (lf === -1 || lf - pos > maxLength) return { line: undefined, lineStart: pos, end: buf.length };
    const cr = lf > pos && buf[lf - 1] === 0x0d;
    // An empty line before the request line is skipped (a bare LF too: llhttp's to judge).
    if (lf === pos || (cr && lf === pos + 1)) {
      pos = lf + 1;
      continue;
    }
    return { line: buf.toString("latin1", pos, cr ? lf - 1 : lf), lineStart: pos, end: lf + 1 };
  }
}
