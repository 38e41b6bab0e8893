import { request, type Dispatcher } from "undici";
import { afterEach, describe, expect, test } from "vitest";
import { ServicePicker } from "../../../../dataplane/engine/core/service-picker";
import { startOrigin, type Origin } from "../../../helpers/origin";
import { Harness, eventually, key, snapshotOf } from "./harness";

/** Sends `total` GETs with `concurrency` in flight; returns how many each origin name answered. */
async function spread(url: string, dispatcher: Dispatcher, total: number, concurrency = 16): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      const res = await request(url, { dispatcher });
      const body = await res.body.text();
      counts[body] = (counts[body] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
}

describe("scheduling over real sockets", () => {
  let h: Harness;
  const origins: Origin[] = [];
  afterEach(async () => {
    await h?.close();
    await Promise.all(origins.splice(0).map((o) => o.close()));
  });
  const start = async (...names: string[]) => {
    const os = await Promise.all(names.map((n) => startOrigin(n)));
    origins.push(...os);
    return os;
  };

  test("wrr with weights 1:3 sends 25% ± 3% of 10,000 requests to the lighter server", async () => {
    const [a, b] = await start("a", "b");
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: a!.port, weight: 1 }, { port: b!.port, weight: 3 }] }));
    const counts = await spread(h.url("/"), h.agent({ connections: 16 }), 10_000);
    expect((counts.a ?? 0) + (counts.b ?? 0)).toBe(10_000);
    expect(Math.abs((counts.a ?? 0) / 10_000 - 0.25)).toBeLessThanOrEqual(0.03);
  }, 120_000);

  test("wlc sends new requests to the server with fewer in flight", async () => {
    const [a, b] = await start("a", "b");
    h = new Harness();
    await h.engine.apply(snapshotOf({ service: { scheduler: "wlc" }, servers: [{ port: a!.port }, { port: b!.port }] }));
    const agent = h.agent({ connections: 32 });
    // Four held requests: two per server (ties are broken round robin).
    const held = Array.from({ length: 4 }, () => request(h.url("/hold"), { dispatcher: agent }).then((r) => r.body.text()));
    expect(await eventually(() => a!.inFlight === 2 && b!.inFlight === 2)).toBe(true);
    b!.release();
    expect(await eventually(() => b!.inFlight === 0)).toBe(true);
    expect(await eventually(() => h.engine.stats().web?.[key(b!.port)]?.activeRequests === 0)).toBe(true);
    // a still holds 2: every new request goes to b while that lasts.
    const counts = await spread(h.url("/"), agent, 20, 1);
    expect(counts).toEqual({ b: 20 });
    expect(h.engine.stats().web?.[key(a!.port)]?.activeRequests).toBe(2);
    a!.release();
    await Promise.all(held);
  });

  test("source-ip keeps each client address on one server, the one every replica computes, and spreads clients", async () => {
    const [a, b, c] = await start("a", "b", "c");
    h = new Harness();
    const snapshot = snapshotOf({ service: { scheduler: "source-ip" }, servers: [{ port: a!.port }, { port: b!.port }, { port: c!.port }] });
    await h.engine.apply(snapshot);
    const reference = new ServicePicker(snapshot.services.web!, { now: () => 0 });
    const byPort: Record<number, string> = { [a!.port]: "a", [b!.port]: "b", [c!.port]: "c" };
    const home: Record<string, string> = {};
    for (let x = 1; x <= 24; x++) {
      const ip = `127.0.0.${x}`;
      const agent = h.agent({ localAddress: ip, connections: 2 });
      const counts = await spread(h.url("/"), agent, 5, 2);
      expect(Object.keys(counts)).toHaveLength(1); // all 5 on one server
      home[ip] = Object.keys(counts)[0]!;
      expect(origins.map((o) => o.requests.at(-1)?.headers["x-forwarded-for"])).toContain(ip);
      expect(home[ip]).toBe(byPort[reference.pick(ip)!.port]);
    }
    expect(new Set(Object.values(home)).size).toBe(3);
    // Removing b moves only b's clients.
    await h.engine.apply(snapshotOf({ service: { scheduler: "source-ip" }, servers: [{ port: a!.port }, { port: c!.port }] }));
    for (let x = 1; x <= 24; x++) {
      const ip = `127.0.0.${x}`;
      const counts = await spread(h.url("/"), h.agent({ localAddress: ip }), 2, 1);
      const now = Object.keys(counts)[0]!;
      if (home[ip] !== "b") expect(now).toBe(home[ip]);
      else expect(now).not.toBe("b");
    }
  });

  test("availability group: all traffic to the primary, the secondary while the primary is unhealthy, and back", async () => {
    const [p, s] = await start("p", "s");
    h = new Harness();
    await h.engine.apply(snapshotOf({ availability: true, servers: [{ port: s!.port, role: "secondary" }, { port: p!.port, role: "primary" }] }));
    expect(await spread(h.url("/"), h.agent(), 20, 4)).toEqual({ p: 20 });
    h.engine.setHealth({ web: { [key(p!.port)]: { status: "unhealthy" } } });
    expect(await spread(h.url("/"), h.agent(), 20, 4)).toEqual({ s: 20 });
    h.engine.setHealth({ web: { [key(p!.port)]: { status: "healthy" } } });
    expect(await spread(h.url("/"), h.agent(), 20, 4)).toEqual({ p: 20 });
  });
});
