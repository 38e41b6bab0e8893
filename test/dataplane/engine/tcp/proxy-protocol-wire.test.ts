import { randomBytes } from "node:crypto";
import * as net from "node:net";
import { networkInterfaces } from "node:os";
import * as tls from "node:tls";
import { afterEach, describe, expect, test } from "vitest";
import type { Snapshot } from "../../../../dataplane/config/snapshot";
import { TcpProxy } from "../../../../dataplane/engine/tcp/tcp-proxy";
import { silentLogger } from "../../../../dataplane/log";
import { Metrics } from "../../../../dataplane/metrics";
import { Resources, connect, listenerOf, readBytes, selfSignedCert, sha256, startBackend, startFront, tcpSnapshot, waitUntil } from "../../../helpers/tcp";

/**
 * PROXY protocol through a real TcpProxy: a receiver that parses the header independently checks
 * the signature, lengths, family, addresses and ports, and that the payload follows intact.
 */

const res = new Resources();
afterEach(() => res.closeAll());

const hasIpv6Loopback = Object.values(networkInterfaces())
  .flat()
  .some((i) => i?.family === "IPv6" && i.address === "::1");

async function setup(version: "v1" | "v2", host: string, tlsOptions?: tls.TlsOptions) {
  const backend = res.add(await startBackend({ host, proxyProtocol: true }));
  const metrics = new Metrics();
  const proxy = new TcpProxy({ log: silentLogger(), metrics, now: Date.now });
  res.add({ close: () => proxy.close(0) });
  const snapshot: Snapshot = tcpSnapshot(1, {
    services: { svc: { proxyProtocol: version, servers: [{ address: host, port: backend.port }] } },
    listeners: [{ name: "front", port: 10000, service: "svc", protocol: tlsOptions ? "tls" : "tcp" }],
  });
  proxy.apply(snapshot);
  const front = res.add(await startFront(proxy, () => listenerOf(snapshot, "front"), { host, ...(tlsOptions ? { tlsOptions } : {}) }));
  return { backend, front, metrics };
}

/** Sends `payload`, reads it back through the echoing receiver, and returns both hashes. */
async function roundTrip(socket: net.Socket, payload: Buffer): Promise<void> {
  socket.write(payload);
  const echoed = await readBytes(socket, payload.length, 20_000);
  const a = sha256();
  a.update(payload);
  const b = sha256();
  b.update(echoed);
  expect(b.digest()).toBe(a.digest());
}

const families = [
  { host: "127.0.0.1", family: "TCP4", run: true },
  { host: "::1", family: "TCP6", run: hasIpv6Loopback },
] as const;

describe("TcpProxy with proxyProtocol", () => {
  for (const version of ["v1", "v2"] as const) {
    for (const { host, family, run } of families) {
      test.runIf(run)(`sends a ${version} ${family} header naming the client before any payload (${host})`, async () => {
        const { backend, front, metrics } = await setup(version, host);
        const client = res.socket(await connect(front.port, host));
        // The first bytes go out at once, racing the proxy's connect to the server.
        const payload = Buffer.concat([Buffer.from("hello after the header\r\n"), randomBytes(256 * 1024)]);
        await roundTrip(client, payload);
        expect(backend.headerErrors).toEqual([]);
        expect(backend.connections).toHaveLength(1);
        const h = backend.connections[0]!.header!;
        expect(h).toMatchObject({
          version: version === "v1" ? 1 : 2,
          command: "PROXY",
          family,
          source: client.localAddress,
          sourcePort: client.localPort,
          destination: host,
          destinationPort: front.port,
        });
        expect(h.length).toBe(
          version === "v1"
            ? Buffer.byteLength(`PROXY ${family} ${client.localAddress} ${host} ${client.localPort} ${front.port}\r\n`)
            : family === "TCP4"
              ? 16 + 12
              : 16 + 36,
        );
        expect(backend.connections[0]!.bytes).toBe(payload.length);
        client.end();
        await waitUntil(() => metrics.dump().families.ballast_tcp_bytes_in_total !== undefined, 5_000, "byte counters");
        // The header is not counted as payload.
        expect(metrics.dump().families.ballast_tcp_bytes_in_total!.series[0]![1]).toBe(payload.length);
      });
    }
  }

  const cert = selfSignedCert();
  for (const version of ["v1", "v2"] as const) {
    test.runIf(cert !== undefined)(`a tls listener sends a ${version} header with the client's TCP addresses`, async () => {
      const { backend, front } = await setup(version, "127.0.0.1", { key: cert!.key, cert: cert!.cert });
      const client = res.socket(
        await new Promise<tls.TLSSocket>((resolve, reject) => {
          const s = tls.connect({ port: front.port, host: "127.0.0.1", rejectUnauthorized: false }, () => resolve(s));
          s.once("error", reject);
        }),
      );
      await roundTrip(client, randomBytes(64 * 1024));
      const h = backend.connections[0]!.header!;
      expect(h).toMatchObject({
        family: "TCP4",
        source: "127.0.0.1",
        sourcePort: client.localPort,
        destination: "127.0.0.1",
        destinationPort: front.port,
      });
    });
  }

  test("each connection gets its own header, and a v2 receiver sees exactly one", async () => {
    const { backend, front } = await setup("v2", "127.0.0.1");
    const clients = await Promise.all([0, 1, 2].map(async () => res.socket(await connect(front.port))));
    await Promise.all(clients.map((c, i) => roundTrip(c, Buffer.from(`client-${i}`))));
    expect(backend.connections.map((c) => c.header!.sourcePort).sort()).toEqual(clients.map((c) => c.localPort).sort());
    // A second header in the payload would have been echoed back and failed the round trip.
    expect(backend.headerErrors).toEqual([]);
  });
});
