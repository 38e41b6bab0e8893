/**
 * Cookie insertion (docs/traffic.md, "Cookie insertion"). The balancer names the chosen server in a cookie:
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

/**
 * The value of `name` in one Cookie header: `name=value` pairs separated by `;`, with optional
 * spaces or tabs around names, `=` and values, and a value optionally in double quotes. Scans in
 * place: no substring is made until the pair is found (this runs on every request of a service
 * with cookie persistence).
 */
function cookieIn(header: string, name: string): string | undefined {
  const n = header.length;
  let i = 0;
  while (i < n) {
    while (i < n && isOws(header.charCodeAt(i))) i++;
    let end = header.indexOf(";", i);
    if (end === -1) end = n;
    if (header.startsWith(name, i)) {
      let j = i + name.length;
      while (j < end && isOws(header.charCodeAt(j))) j++;
      if (j < end && header.charCodeAt(j) === 61 /* = */) {
        let value = header.slice(j + 1, end).trim();
        if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
        return value;
      }
    }
    i = end + 1;
  }
  return undefined;
}

/** Space or horizontal tab: the only whitespace a header value that passed the parser can hold. */
function isOws(code: number): boolean {
  return code === 32 || code === 9;
}

export function setCookieValue(service: string, serverId: string, cookieTimeout: number, secure: boolean): string {
  let v = `${cookieName(service)}=${serverId}`;
  if (cookieTimeout > 0) v += `; Max-Age=${cookieTimeout}`;
  v += "; Path=/; HttpOnly";
  if (secure) v += "; Secure";
  return v;
}
