import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Bearer-token check for `/v1`. Both sides are hashed with SHA-256 first, so the comparison runs
 * in constant time over equal-length digests whatever the length of what the client sent
 * (`timingSafeEqual` alone throws on different lengths, which would leak the token's length).
 */
export function bearerAuth(token: string): (authorization: string | undefined) => boolean {
  const expected = digest(token);
  return (authorization) => {
    const match = /^Bearer +(\S+) *$/i.exec(authorization ?? "");
    return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), expected);
  };
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/** The header every 401 carries (RFC 6750). */
export const WWW_AUTHENTICATE = { "www-authenticate": 'Bearer realm="ballast"' } as const;

/** Constant-time check of a token typed into the status page's login form (same hashing as above). */
export function tokenMatches(token: string): (candidate: string) => boolean {
  const expected = digest(token);
  return (candidate) => timingSafeEqual(digest(candidate), expected);
}
