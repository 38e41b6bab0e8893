import net from "node:net";
import { request } from "undici";
import { afterEach, describe, expect, test } from "vitest";
import { buildSnapshot } from "../../../../dataplane/config/snapshot";
import { ListenError } from "../../../../dataplane/runtime/traffic-runtime";
import { BackendService, ServerGroup, type Listener } from "../../../../model";
import { hangGuard } from "../../../helpers/hang-guard";
import { startOrigin, type Origin } from "../../../helpers/origin";
import { Harness, eventually, key, selfSignedCertificate, snapshotOf } from "./harness";

describe("Engine", () => {
  let h: Harness;
  const origins: Origin[] = [];
  const servers: net.Server[] = [];
  afterEach(async () => {
    await h?.close();
    await Promise.all(origins.splice(0).map((o) => o.close()));
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });
  const start = async (...names: string[]) => {
    const os = await Promise.all(names.map((n) => startOrigin(n)));
    origins.push(...os);
    return os as Origin[];
  };

  async function busyPort(): Promise<number> {
    const s = net.createServer();
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    return (s.address() as net.AddressInfo).port;
  }

  function withListenerOn(port: number, base: ReturnType<typeof snapshotOf>) {
    return { ...base, generation: base.generation + 1, listeners: [...base.listeners, { name: "fixed", protocol: "http" as const, port, service: "web" }] };
  }

  test("a port that cannot be bound rejects with ListenError and leaves the previous listeners serving", async () => {
    const [a, b] = await start("a", "b");
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: a!.port }] }));
    const port = h.port();
    const taken = await busyPort();
    const next = withListenerOn(taken, snapshotOf({ listeners: [{}, { name: "l2" }], servers: [{ port: b!.port }] }));
    const err = await h.engine.apply(next).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ListenError);
    expect(err).toMatchObject({ code: "listen_failed", listener: "fixed", port: taken });
    expect(h.port()).toBe(port);
    expect(h.engine.listeningPort("l2")).toBeUndefined(); // the new listener bound before the failure is closed
    expect((await h.get("/")).body).toBe("a"); // and the previous configuration still serves
  });

  test("a listener whose service changes switches to it; removed listeners stop accepting", async () => {
    const [a, b] = await start("a", "b");
    const objects = (service: string, listeners: string[]) => ({
      listeners: listeners.map((name) => ({ name, protocol: "http", port: 0, backendService: service }) as Listener),
      backendServices: [
        BackendService.parse({ name: "one", protocol: "http", port: 80, serverGroup: "ga" }),
        BackendService.parse({ name: "two", protocol: "http", port: 80, serverGroup: "gb" }),
      ],
      serverGroups: [
        ServerGroup.parse({ name: "ga", type: "virtual", servers: [{ address: "127.0.0.1", port: a!.port }] }),
        ServerGroup.parse({ name: "gb", type: "virtual", servers: [{ address: "127.0.0.1", port: b!.port }] }),
      ],
      healthChecks: [],
    });
    h = new Harness();
    await h.engine.apply(buildSnapshot(objects("one", ["l1", "l2"]), 1));
    const port = h.port();
    const port2 = h.port("l2");
    expect((await h.get("/")).body).toBe("a");
    await h.engine.apply(buildSnapshot(objects("two", ["l1"]), 2));
    expect(h.port()).toBe(port); // same socket
    expect((await h.get("/")).body).toBe("b");
    expect(h.engine.listeningPort("l2")).toBeUndefined();
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port2, "127.0.0.1");
      s.on("connect", () => (s.destroy(), resolve(false)));
      s.on("error", () => resolve(true));
    });
    expect(refused).toBe(true);
  });

  test("a removed listener lets its in-flight request finish", async () => {
    const [a] = await start("a");
    h = new Harness();
    await h.engine.apply(snapshotOf({ listeners: [{}, { name: "l2" }], servers: [{ port: a!.port }] }));
    const slow = h.get("/slow?ms=500", { listener: "l2" });
    expect(await eventually(() => a!.inFlight === 1)).toBe(true);
    await h.engine.apply(snapshotOf({ listeners: [{}], servers: [{ port: a!.port }] }));
    expect(await slow).toMatchObject({ status: 200, body: "a" });
  });

  test("https listeners terminate TLS with the configured certificate", async () => {
    const [a] = await start("a");
    h = new Harness();
    await h.engine.apply(
      snapshotOf({ listeners: [{ protocol: "https", certificate: selfSignedCertificate() }], servers: [{ port: a!.port }], service: { forwardedHeaders: ["X-Forwarded-Proto"] } }),
    );
    const res = await request(h.url("/", "l1", "https"), { dispatcher: h.agent({ connect: { rejectUnauthorized: false } }) });
    expect(await res.body.text()).toBe("a");
    expect(a!.requests.at(-1)!.headers["x-forwarded-proto"]).toBe("https");
  });

  test("tcp listeners hand connections to the TCP proxy", async () => {
    const echo = net.createServer((s) => s.pipe(s));
    servers.push(echo);
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    const port = (echo.address() as net.AddressInfo).port;
    const snapshot = buildSnapshot(
      {
        listeners: [{ name: "t1", protocol: "tcp", port: 0, backendService: "raw" } as Listener],
        backendServices: [BackendService.parse({ name: "raw", protocol: "tcp", port, serverGroup: "g" })],
        serverGroups: [ServerGroup.parse({ name: "g", type: "virtual", servers: [{ address: "127.0.0.1" }] })],
        healthChecks: [],
      },
      1,
    );
    h = new Harness();
    await h.engine.apply(snapshot);
    const got = await new Promise<string>((resolve) => {
      const s = net.connect(h.port("t1"), "127.0.0.1", () => s.write("ping"));
      s.on("data", (d) => (s.destroy(), resolve(d.toString())));
      s.on("error", () => resolve("error"));
    });
    expect(got).toBe("ping");
  });

  test("stats count requests in flight per server; metrics count answered requests", async () => {
    const [a] = await start("a");
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: a!.port }] }));
    const held = [h.get("/hold"), h.get("/hold")];
    expect(await eventually(() => h.engine.stats().web?.[key(a!.port)]?.activeRequests === 2)).toBe(true);
    expect(h.engine.stats().web?.[key(a!.port)]?.activeConnections).toBe(2);
    a!.release();
    await Promise.all(held);
    await h.get("/");
    const text = h.engine.metrics.render();
    expect(text).toContain(`ballast_http_requests_total{code="200",listener="l1",server="127.0.0.1:${a!.port}",service="web"} 3`);
    expect(text).toMatch(/ballast_http_request_duration_seconds_count\{listener="l1",service="web"\} 3/);
    expect(text).toContain(`ballast_http_active_requests{server="127.0.0.1:${a!.port}",service="web"} 0`);
  });

  test("close(grace) stops accepting, lets in-flight requests finish, then closes", async () => {
    const [a] = await start("a");
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: a!.port }] }));
    const port = h.port();
    const slow = h.get("/slow?ms=300");
    expect(await eventually(() => a!.inFlight === 1)).toBe(true);
    const closing = h.engine.close(5000);
    expect(await slow).toMatchObject({ status: 200, body: "a" });
    await closing;
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.on("connect", () => (s.destroy(), resolve(false)));
      s.on("error", () => resolve(true));
    });
    expect(refused).toBe(true);
  });

  test("close(grace) aborts what is still running after the grace period", async () => {
    const [a] = await start("a");
    h = new Harness();
    await h.engine.apply(snapshotOf({ servers: [{ port: a!.port }] }));
    const held = request(h.url("/hold"), { dispatcher: h.agent() }).then(
      (r) => r.statusCode,
      () => -1,
    );
    expect(await eventually(() => a!.inFlight === 1)).toBe(true);
    let settled = false;
    void held.then(() => (settled = true));
    const t0 = Date.now();
    // /hold never answers: close returns only because the grace period ended and it aborted the request.
    await hangGuard(h.engine.close(300), "engine.close(300) with a request that never ends");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect([503, -1]).toContain(await hangGuard(held, "the held request"));
    expect(settled).toBe(true);
    expect(await eventually(() => a!.inFlight === 0)).toBe(true); // the upstream request was aborted too
  });
});
