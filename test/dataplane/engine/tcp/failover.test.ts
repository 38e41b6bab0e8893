import type * as net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { TcpProxy } from "../../../../dataplane/engine/tcp/tcp-proxy";
import { silentLogger } from "../../../../dataplane/log";
import { Metrics } from "../../../../dataplane/metrics";
import { Resources, connect, listenerOf, readBytes, startBackend, startFront, tcpSnapshot, whenClosed } from "../../../helpers/tcp";

/**
 * Availability groups through the TcpProxy. The HealthManager is not part of this test: the health
 * table it would push is set directly with `setHealth`, as the primary does over IPC.
 */

const res = new Resources();
afterEach(() => res.closeAll());

async function alive(c: net.Socket, token = "ok"): Promise<void> {
  c.write(token);
  expect((await readBytes(c, token.length, 5_000)).toString()).toBe(token);
}

describe("TcpProxy availability failover", () => {
  test("traffic goes to the primary, to the secondary while the primary is down, and back; open connections survive", async () => {
    const primary = res.add(await startBackend({ mode: "greet", name: "p" }));
    const secondary = res.add(await startBackend({ mode: "greet", name: "s" }));
    const proxy = new TcpProxy({ log: silentLogger(), metrics: new Metrics(), now: Date.now });
    res.add({ close: () => proxy.close(0) });
    const snapshot = tcpSnapshot(1, {
      services: {
        svc: {
          availability: true,
          healthCheckInterval: 5,
          servers: [
            { address: primary.host, port: primary.port, role: "primary" },
            { address: secondary.host, port: secondary.port, role: "secondary" },
          ],
        },
      },
      listeners: [{ name: "front", port: 10000, service: "svc" }],
    });
    proxy.apply(snapshot);
    proxy.setHealth({ svc: { [primary.key]: { status: "healthy" } } });
    const front = res.add(await startFront(proxy, () => listenerOf(snapshot, "front")));
    const open = async () => {
      const c = res.socket(await connect(front.port));
      return { c, name: (await readBytes(c, 2)).toString().trim() };
    };

    const early = await open();
    expect(early.name).toBe("p");
    for (let i = 0; i < 3; i++) expect((await open()).name).toBe("p");

    // The primary's listener dies; the health checker would report it unhealthy.
    await primary.stopListening();
    proxy.setHealth({ svc: { [primary.key]: { status: "unhealthy" } } });
    const during = await open();
    expect(during.name).toBe("s");
    for (let i = 0; i < 3; i++) expect((await open()).name).toBe("s");
    // The connection made before the failover was not killed.
    await alive(early.c);

    // The primary comes back on its port: new traffic returns to it once it is healthy again, and the
    // secondary's connections keep running.
    const restarted = res.add(await startBackend({ mode: "greet", name: "P", port: primary.port }));
    expect((await open()).name).toBe("s");
    proxy.setHealth({ svc: { [restarted.key]: { status: "healthy" } } });
    for (let i = 0; i < 3; i++) expect((await open()).name).toBe("P");
    await alive(during.c);
  });

  test("a primary that is merely unchecked (no health result yet) takes the traffic", async () => {
    const primary = res.add(await startBackend({ mode: "greet", name: "p" }));
    const secondary = res.add(await startBackend({ mode: "greet", name: "s" }));
    const proxy = new TcpProxy({ log: silentLogger(), metrics: new Metrics(), now: Date.now });
    res.add({ close: () => proxy.close(0) });
    const snapshot = tcpSnapshot(1, {
      services: {
        svc: {
          availability: true,
          servers: [
            { address: secondary.host, port: secondary.port, role: "secondary" },
            { address: primary.host, port: primary.port, role: "primary" },
          ],
        },
      },
      listeners: [{ name: "front", port: 10000, service: "svc" }],
    });
    proxy.apply(snapshot);
    const front = res.add(await startFront(proxy, () => listenerOf(snapshot, "front")));
    const c = res.socket(await connect(front.port));
    expect((await readBytes(c, 2)).toString()).toBe("p\n");
    // When the primary refuses before health has caught up, the client falls through to the secondary.
    await primary.stopListening();
    const late = res.socket(await connect(front.port));
    expect((await readBytes(late, 2)).toString()).toBe("s\n");
  });
});
