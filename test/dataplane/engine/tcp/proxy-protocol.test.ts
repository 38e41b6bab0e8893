import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { encodeHeader, encodeV1, encodeV2, encodeV2Local, V2_SIGNATURE } from "../../../../dataplane/engine/tcp/proxy-protocol";
import { parseProxyHeader } from "../../../helpers/tcp";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("encodeV1", () => {
  test("writes the TCP4 line byte for byte", () => {
    const h = encodeV1({ address: "192.0.2.1", port: 56324 }, { address: "198.51.100.7", port: 443 });
    expect(h).toEqual(Buffer.from("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n", "ascii"));
  });

  test("writes the TCP6 line with addresses in RFC 5952 form", () => {
    const h = encodeV1({ address: "2001:0DB8:0000:0000:0000:0000:0000:0001", port: 1 }, { address: "2001:db8::2", port: 65535 });
    expect(h.toString("ascii")).toBe("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n");
    expect(encodeV1({ address: "::1", port: 5 }, { address: "::1", port: 6 }).toString()).toBe("PROXY TCP6 ::1 ::1 5 6\r\n");
    expect(encodeV1({ address: "fe80::1%eth0", port: 5 }, { address: "1:0:0:2:0:0:0:3", port: 6 }).toString()).toBe(
      "PROXY TCP6 fe80::1 1:0:0:2::3 5 6\r\n",
    );
  });

  test("turns IPv4-mapped IPv6 clients into TCP4", () => {
    const h = encodeV1({ address: "::ffff:10.1.2.3", port: 40000 }, { address: "::FFFF:127.0.0.1", port: 8443 });
    expect(h.toString("ascii")).toBe("PROXY TCP4 10.1.2.3 127.0.0.1 40000 8443\r\n");
  });

  test("sends both ends as TCP6 when only one is IPv4", () => {
    const h = encodeV1({ address: "10.0.0.1", port: 1 }, { address: "2001:db8::1", port: 2 });
    expect(h.toString("ascii")).toBe("PROXY TCP6 ::ffff:a00:1 2001:db8::1 1 2\r\n");
  });

  test("stays within the 107-byte limit for the longest addresses", () => {
    const a = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe";
    const h = encodeV1({ address: a, port: 65535 }, { address: a, port: 65535 });
    expect(h.length).toBeLessThanOrEqual(107);
    expect(h.length).toBe(104);
  });

  test("refuses what is not an IP address or a port", () => {
    expect(() => encodeV1({ address: "example.com", port: 1 }, { address: "10.0.0.1", port: 2 })).toThrow(TypeError);
    expect(() => encodeV1({ address: "10.0.0.1", port: 65536 }, { address: "10.0.0.1", port: 2 })).toThrow(TypeError);
    expect(() => encodeV1({ address: "10.0.0.1", port: 1.5 }, { address: "10.0.0.1", port: 2 })).toThrow(TypeError);
  });
});

describe("encodeV2", () => {
  test("writes the TCP over IPv4 header byte for byte", () => {
    const h = encodeV2({ address: "192.0.2.1", port: 56324 }, { address: "198.51.100.7", port: 443 });
    const fields: [string, string][] = [
      ["0d0a0d0a000d0a515549540a", "signature"],
      ["21", "version 2, command PROXY"],
      ["11", "AF_INET, STREAM"],
      ["000c", "12 bytes follow"],
      ["c0000201", "192.0.2.1"],
      ["c6336407", "198.51.100.7"],
      ["dc04", "56324"],
      ["01bb", "443"],
    ];
    expect(h.toString("hex")).toBe(fields.map(([bytes]) => bytes).join(""));
    expect(h.length).toBe(28);
  });

  test("writes the TCP over IPv6 header byte for byte", () => {
    const h = encodeV2({ address: "2001:db8::1", port: 1 }, { address: "::1", port: 65535 });
    const expected = Buffer.concat([
      V2_SIGNATURE,
      Buffer.from([0x21, 0x21, 0x00, 0x24]),
      hex("20010db8000000000000000000000001"),
      hex("00000000000000000000000000000001"),
      hex("0001ffff"),
    ]);
    expect(h).toEqual(expected);
    expect(h.length).toBe(16 + 36);
  });

  test("starts with the 12-byte signature \\r\\n\\r\\n\\0\\r\\nQUIT\\n", () => {
    expect(V2_SIGNATURE).toEqual(Buffer.from("\r\n\r\n\0\r\nQUIT\n", "latin1"));
  });

  test("turns IPv4-mapped IPv6 clients into TCP over IPv4", () => {
    const h = encodeV2({ address: "::ffff:10.1.2.3", port: 40000 }, { address: "::ffff:127.0.0.1", port: 8443 });
    expect(h[13]).toBe(0x11);
    expect(h.readUInt16BE(14)).toBe(12);
    expect(h.subarray(16)).toEqual(hex("0a010203 7f000001 9c40 20fb"));
  });

  test("encodes embedded dotted IPv4 tails and hex-form mapped addresses", () => {
    expect(encodeV2({ address: "64:ff9b::192.0.2.33", port: 1 }, { address: "::1", port: 2 }).subarray(16, 32)).toEqual(
      hex("0064ff9b0000000000000000c0000221"),
    );
    expect(encodeV2({ address: "::ffff:a01:203", port: 1 }, { address: "10.0.0.1", port: 2 })[13]).toBe(0x11);
  });

  test("LOCAL header has no address block", () => {
    expect(encodeV2Local()).toEqual(Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]));
  });
});

describe("encodeHeader", () => {
  test("falls back to UNKNOWN (v1) and LOCAL (v2) when addresses are missing or not IPs", () => {
    expect(encodeHeader("v1", { address: undefined, port: 1 }, { address: "10.0.0.1", port: 2 }).toString()).toBe("PROXY UNKNOWN\r\n");
    expect(encodeHeader("v2", { address: "not-an-ip", port: 1 }, { address: "10.0.0.1", port: 2 })).toEqual(encodeV2Local());
    expect(encodeHeader("v2", { address: "10.0.0.2", port: 1 }, { address: "10.0.0.1", port: 2 })).toEqual(
      encodeV2({ address: "10.0.0.2", port: 1 }, { address: "10.0.0.1", port: 2 }),
    );
  });
});

describe("encoded headers read back by an independent parser", () => {
  const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
  const ipv6 = fc.ipV6();
  const port = fc.integer({ min: 0, max: 65535 });
  const canonical6 = (a: string) => new URL(`http://[${a}]/`).hostname.slice(1, -1);

  test("every IPv4 pair round-trips through v1 and v2, and the payload follows intact", () => {
    fc.assert(
      fc.property(ipv4, ipv4, port, port, fc.uint8Array({ maxLength: 64 }), (s, d, sp, dp, payload) => {
        for (const enc of [encodeV1, encodeV2]) {
          const buf = Buffer.concat([enc({ address: s, port: sp }, { address: d, port: dp }), payload]);
          const h = parseProxyHeader(buf)!;
          expect(h).toMatchObject({ family: "TCP4", command: "PROXY", source: s, destination: d, sourcePort: sp, destinationPort: dp });
          expect(buf.subarray(h.length)).toEqual(Buffer.from(payload));
        }
      }),
      { numRuns: 300 },
    );
  });

  test("every IPv6 pair round-trips through v1 and v2 (mapped IPv4 as TCP4)", () => {
    fc.assert(
      fc.property(ipv6, ipv6, port, port, (s, d, sp, dp) => {
        for (const enc of [encodeV1, encodeV2]) {
          const h = parseProxyHeader(enc({ address: s, port: sp }, { address: d, port: dp }))!;
          const mapped = (a: string) => /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(canonical6(a));
          if (mapped(s) && mapped(d)) {
            expect(h.family).toBe("TCP4");
            expect(h.source).toBe(canonical6(s).slice(7));
          } else {
            expect(h.family).toBe("TCP6");
            expect(h.source).toBe(canonical6(s));
            expect(h.destination).toBe(canonical6(d));
          }
          expect([h.sourcePort, h.destinationPort]).toEqual([sp, dp]);
        }
      }),
      { numRuns: 300 },
    );
  });

  test("the parser itself refuses a bad signature, version, family or v1 line", () => {
    const good = encodeV2({ address: "10.0.0.1", port: 1 }, { address: "10.0.0.2", port: 2 });
    const bad = (mutate: (b: Buffer) => void) => {
      const b = Buffer.from(good);
      mutate(b);
      return () => parseProxyHeader(b);
    };
    expect(bad((b) => (b[11] = 0x0b))).toThrow(/neither/);
    expect(bad((b) => (b[12] = 0x11))).toThrow(/version/);
    expect(bad((b) => (b[13] = 0x31))).toThrow(/family/);
    expect(bad((b) => b.writeUInt16BE(4, 14))).toThrow(/TCP4 block/);
    expect(() => parseProxyHeader(Buffer.from("PROXY TCP4 10.0.0.1 ::1 1 2\r\n"))).toThrow(/family/);
    expect(() => parseProxyHeader(Buffer.from("PROXY TCP4 10.0.0.1 10.0.0.2 01 2\r\n"))).toThrow(/port/);
    expect(parseProxyHeader(good.subarray(0, 20))).toBeUndefined();
    expect(parseProxyHeader(Buffer.from("PROXY TCP4 10.0"))).toBeUndefined();
  });
});
