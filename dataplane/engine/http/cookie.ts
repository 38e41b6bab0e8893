/**
 * Cookie insertion (SPEC §3). The balancer names the chosen server in a cookie:
 *
 *     Set-Cookie: BALLAST_<service>=<server id>; Max-Age=<cookieTimeout>; Path=/; HttpOnly[; Secure]
 *
 * The id is `ServerSnapshot.id`, an opaque hash of (service, address, port), so the cookie reveals
 * no address and any worker or replica with the same configuration honours it (stateless).
 * `Max-Age` is omitted for cookieTimeout 0 (a browser-session cookie); `Secure` is added on https
 * listeners. Service names are `a-z0-9-`, valid in a cookie name as they are.
 */

export function cookieName(service: string): string {
  return `BALLAST_${service}`;
}

/** The value of cookie `name` in the request's Cookie header(s) (flat raw header pairs), if present. */
export function readCookie(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length !== 6 || n.toLowerCase() !== "cookie") continue;
    const v = cookieIn(raw[i + 1]!, name);
    if (v !== undefined) return v;
  }
  return undefined;
}

function cookieIn(header: string, name: string): string | undefined {
  let from = 0;
  while (from < header.length) {
    const end = header.indexOf(";", from);
    const part = header.slice(from, end === -1 ? undefined : end);
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) {
      let value = part.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value;
    }
    if (end === -1) break;
    from = end + 1;
  }
  return undefined;
}

export function setCookieValue(service: string, serverId: string, cookieTimeout: number, secure: boolean): string {
  let v = `${cookieName(service)}=${serverId}`;
  if (cookieTimeout > 0) v += `; Max-Age=${cookieTimeout}`;
  v += "; Path=/; HttpOnly";
  if (secure) v += "; Secure";
  return v;
}
