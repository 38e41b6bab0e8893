/**
 * The request target as sent upstream (docs/traffic.md, "The front door"). An origin-form target
 * (`/path?query`) passes as it is. An absolute-form one (`http://host:port/path?query`, what a
 * client sends to a proxy) is rewritten to origin-form, and its authority becomes the Host header
 * (RFC 9112 §3.2.2: the target's authority replaces Host), as nginx, HAProxy and Envoy do; servers
 * behind the balancer then see one form only, and routing by Host cannot be fooled by a target that
 * names another host.
 */

export interface RequestTarget {
  /** Origin-form: `/path?query`. */
  readonly path: string;
  /** The authority of an absolute-form target (`host[:port]`), to be sent as Host. */
  readonly authority: string | undefined;
}

/**
 * `scheme://authority[path-abempty][?query]`, scheme http or https. A fragment is no part of a
 * request target; userinfo (`user@host`) is refused too (RFC 9110 §4.2.4 forbids it in http URIs).
 */
const ABSOLUTE = /^https?:\/\/([^/?#]*)([/?][^#]*)?$/i;
/** host (reg-name of unreserved, sub-delims and %-escapes, or an IP literal in brackets), then an optional port. */
const AUTHORITY = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$|^\[[0-9A-Fa-f:.]+\]$/;

/** The target to forward, or undefined when the target is malformed (answered 400). */
export function requestTarget(url: string | undefined): RequestTarget | undefined {
  if (!url) return undefined;
  if (url.startsWith("/")) return { path: url, authority: undefined };
  const m = ABSOLUTE.exec(url);
  if (!m) return undefined;
  const authority = m[1]!;
  const colon = authority.lastIndexOf(":");
  const bracket = authority.lastIndexOf("]");
  const hasPort = colon > bracket;
  const host = hasPort ? authority.slice(0, colon) : authority;
  if (hasPort) {
    const port = authority.slice(colon + 1);
    // An empty port is allowed by RFC 3986 (`host:`); a port beyond 65535 names nothing.
    if (!/^[0-9]{0,5}$/.test(port) || Number(port) > 65535) return undefined;
  }
  if (!AUTHORITY.test(host)) return undefined;
  const rest = m[2] ?? "";
  return { path: rest.startsWith("/") ? rest : `/${rest}`, authority };
}
