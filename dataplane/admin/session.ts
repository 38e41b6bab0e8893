import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/**
 * The status page's login session: a cookie that proves its holder typed the admin token, without
 * being the token. Its value is `<expiry>.<mac>`, where `expiry` is the epoch second it stops being
 * valid and `mac` is HMAC-SHA256 over it under a key derived from the admin token.
 *
 * Why this shape:
 * - The token never sits in the browser's cookie jar, so a leaked cookie (a browser profile copied,
 *   a proxy log) cannot be replayed against `/v1` and expires on its own.
 * - It holds no server-side state, so it is valid on every replica that shares the token and
 *   survives a restart; rotating the token ends every session at once.
 * The price of statelessness: logging out clears the browser's cookie but cannot revoke a copy of
 * it before its expiry (`SESSION_SECONDS`).
 *
 * The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it, which
 * is what keeps the login and logout forms free of CSRF) and Path=/. It is not `Secure`: the admin
 * address is plain HTTP on a private address; behind TLS, a proxy may add the flag.
 */

export const SESSION_COOKIE = "ballast_session";
/** A session lasts 12 hours: one on-call shift. */
export const SESSION_SECONDS = 12 * 60 * 60;

export class Sessions {
  private readonly key: Buffer;

  constructor(
    token: string,
    private readonly now: () => number = Date.now,
  ) {
    // A key of its own, so the MAC is never a value computed directly from the bearer token.
    this.key = createHmac("sha256", token).update("ballast status page session v1").digest();
  }

  /** A new session's cookie value. */
  issue(): string {
    const expiry = Math.floor(this.now() / 1000) + SESSION_SECONDS;
    return `${expiry}.${this.mac(expiry)}`;
  }

  /** Whether the request's `Cookie` header carries a valid, unexpired session. */
  valid(cookieHeader: string | undefined): boolean {
    const value = cookieValue(cookieHeader, SESSION_COOKIE);
    const match = value === undefined ? null : /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (!match) return false;
    const expiry = Number(match[1]);
    if (expiry * 1000 <= this.now()) return false;
    return timingSafeEqual(digest(match[2]!), digest(this.mac(expiry)));
  }

  /** `Set-Cookie` for a new session. */
  setCookie(): string {
    return `${SESSION_COOKIE}=${this.issue()}; Max-Age=${SESSION_SECONDS}; Path=/; HttpOnly; SameSite=Strict`;
  }

  private mac(expiry: number): string {
    return createHmac("sha256", this.key).update(String(expiry)).digest("base64url");
  }
}

/** `Set-Cookie` that removes the session cookie (logout). */
export const CLEAR_SESSION_COOKIE = `${SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict`;

/** The value of cookie `name` in a `Cookie` header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
