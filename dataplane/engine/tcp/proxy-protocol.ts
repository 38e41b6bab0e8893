import { isIPv4, isIPv6 } from "node:net";

/**
 * PROXY protocol headers, versions 1 (text) and 2 (binary), as specified in haproxy's
 * `doc/proxy-protocol.txt` ("The PROXY protocol", W. Tarreau). The balancer is the sender: it writes
 * one header as the very first bytes of a connection to a server, describing the client's TCP
 * connection (source = the client, destination = the balancer address the client reached).
 *
 * Pure functions only; the proxy decides when to send. Only the TCP over IPv4/IPv6 forms are built
 * (the balancer never relays UNIX or UDP), plus the "unknown" forms for a connection whose
 * addresses are no longer available.
 */

/** One end of a TCP connection, as Node reports it (`remoteAddress`, `remotePort`, ...). */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** The 12-byte v2 signature, `\r\n\r\n\0\r\nQUIT\n` (spec §2.2). */
export const V2_SIGNATURE: Buffer = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** v2 version (high nibble 2) and command (low nibble: 0 LOCAL, 1 PROXY). */
const V2_PROXY = 0x21;
const V2_LOCAL = 0x20;
/** v2 address family (high nibble: 1 AF_INET, 2 AF_INET6) and transport (low nibble: 1 STREAM). */
const V2_TCP4 = 0x11;
const V2_TCP6 = 0x21;
/** Length of the v2 address block: 2×4 address bytes + 2×2 port bytes, or 2×16 + 2×2. */
const V2_LEN_TCP4 = 12;
const V2_LEN_TCP6 = 36;

interface Parsed {
  family: 4 | 6;
  /** 4 or 16 network-order bytes. */
  bytes: Buffer;
}

/** Parses a dotted-quad IPv4 literal into 4 bytes (the caller has checked it with `isIPv4`). */
function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split(".").map((part) => Number(part)));
}

/** Parses an IPv6 literal (`::` compression, an optional dotted IPv4 tail) into 16 bytes. */
function ipv6Bytes(address: string): Buffer {
  const out = Buffer.alloc(16);
  let text = address;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  const last = text.slice(lastColon + 1);
  if (last.includes(".")) {
    const v4 = ipv4Bytes(last);
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    text = text.slice(0, lastColon + 1) + "0";
  }
  const [head, rest] = text.includes("::") ? text.split("::", 2) : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  let front = groups(head);
  let back = rest === undefined ? [] : groups(rest);
  if (tail.length) {
    // The dotted tail was replaced by one placeholder group "0"; it stands for two groups.
    if (rest === undefined) front = [...front.slice(0, -1), ...tail];
    else back = [...back.slice(0, -1), ...tail];
  }
  const words = rest === undefined ? front : [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** True for ::ffff:a.b.c.d, which is an IPv4 client seen through a dual-stack socket. */
function isV4Mapped(bytes: Buffer): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/**
 * Resolves an address to its family and bytes. IPv4-mapped IPv6 addresses become IPv4 (the client
 * really is an IPv4 client); an IPv6 zone (`fe80::1%eth0`) and brackets are dropped.
 */
function parseAddress(address: string): Parsed {
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (isIPv4(bare)) return { family: 4, bytes: ipv4Bytes(bare) };
  if (!isIPv6(bare)) throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
  const bytes = ipv6Bytes(bare.toLowerCase());
  if (isV4Mapped(bytes)) return { family: 4, bytes: bytes.subarray(12) };
  return { family: 6, bytes };
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`not a TCP port: ${port}`);
  return port;
}

/** IPv4 bytes as the IPv4-mapped IPv6 address, for a connection whose two ends differ in family. */
function mapToV6(p: Parsed): Parsed {
  if (p.family === 6) return p;
  const bytes = Buffer.alloc(16);
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  p.bytes.copy(bytes, 12);
  return { family: 6, bytes };
}

/** Both ends in one family: IPv4 when both are IPv4 (or mapped), else both as IPv6. */
function resolvePair(src: Endpoint, dst: Endpoint): [Parsed, Parsed] {
  const s = parseAddress(src.address);
  const d = parseAddress(dst.address);
  checkPort(src.port);
  checkPort(dst.port);
  if (s.family === d.family) return [s, d];
  return [mapToV6(s), mapToV6(d)];
}

/** RFC 5952 text of 16 IPv6 bytes: lowercase hex, no leading zeros, the longest zero run (≥ 2) as `::`. */
function formatIpv6(bytes: Buffer): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(bytes.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

function formatAddress(p: Parsed): string {
  return p.family === 4 ? [...p.bytes].join(".") : formatIpv6(p.bytes);
}

/**
 * The v1 header: `PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n` (spec §2.1), at most 107 bytes.
 * Throws `TypeError` when an address is not an IP literal or a port is out of range.
 */
export function encodeV1(src: Endpoint, dst: Endpoint): Buffer {
  const [s, d] = resolvePair(src, dst);
  const proto = s.family === 4 ? "TCP4" : "TCP6";
  return Buffer.from(`PROXY ${proto} ${formatAddress(s)} ${formatAddress(d)} ${src.port} ${dst.port}\r\n`, "ascii");
}

/** The v1 header for a connection whose addresses are unknown: `PROXY UNKNOWN\r\n`. */
export function encodeV1Unknown(): Buffer {
  return Buffer.from("PROXY UNKNOWN\r\n", "ascii");
}

/**
 * The v2 header (spec §2.2): the signature, 0x21 (version 2, PROXY), 0x11 (TCP over IPv4) or
 * 0x21 (TCP over IPv6), the big-endian length of the address block (12 or 36), then source address,
 * destination address, source port, destination port, all in network byte order. No TLVs.
 * Throws `TypeError` when an address is not an IP literal or a port is out of range.
 */
export function encodeV2(src: Endpoint, dst: Endpoint): Buffer {
  const [s, d] = resolvePair(src, dst);
  const v4 = s.family === 4;
  const len = v4 ? V2_LEN_TCP4 : V2_LEN_TCP6;
  const out = Buffer.alloc(16 + len);
  V2_SIGNATURE.copy(out, 0);
  out[12] = V2_PROXY;
  out[13] = v4 ? V2_TCP4 : V2_TCP6;
  out.writeUInt16BE(len, 14);
  s.bytes.copy(out, 16);
  d.bytes.copy(out, 16 + s.bytes.length);
  out.writeUInt16BE(src.port, 16 + 2 * s.bytes.length);
  out.writeUInt16BE(dst.port, 18 + 2 * s.bytes.length);
  return out;
}

/** The v2 LOCAL header (no address block): the receiver uses the connection's own addresses. */
export function encodeV2Local(): Buffer {
  const out = Buffer.alloc(16);
  V2_SIGNATURE.copy(out, 0);
  out[12] = V2_LOCAL;
  out[13] = 0x00;
  out.writeUInt16BE(0, 14);
  return out;
}

/**
 * The header a service configured with `proxyProtocol` sends for a client connection, falling back
 * to the "unknown" forms (v1 `UNKNOWN`, v2 `LOCAL`) when the addresses are missing or not IPs.
 */
export function encodeHeader(version: "v1" | "v2", src: Partial<Endpoint>, dst: Partial<Endpoint>): Buffer {
  if (src.address !== undefined && src.port !== undefined && dst.address !== undefined && dst.port !== undefined) {
    try {
      const s = { address: src.address, port: src.port };
      const d = { address: dst.address, port: dst.port };
      return version === "v1" ? encodeV1(s, d) : encodeV2(s, d);
    } catch {
      // fall through to the unknown form
    }
  }
  return version === "v1" ? encodeV1Unknown() : encodeV2Local();
}
