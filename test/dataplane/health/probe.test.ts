import net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { hostHeader, probeHttp, probeTcp } from "../../../dataplane/health/probe";
import { HealthCheck } from "../../../model";
import { hangGuard } from "../../helpers/hang-guard";
import { startOrigin, type Origin } from "../../helpers/origin";

const http = (extra: object = {}) => HealthCheck.parse({ name: "hc", backendService: "web", protocol: "HTTP", path: "/health", ...extra });
const tcp = HealthCheck.parse({ name: "hc", backendService: "web", protocol: "TCP" });

describe("health probes", () => {
  let origin: Origin | undefined;
  const servers: net.Server[] = [];
  afterEach(async () => {
    await origin?.close();
    origin = undefined;
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  test("HTTP: GET path with the health-check User-Agent and the server's Host", async () => {
    origin = await startOrigin("o1");
    const r = await probeHttp({ address: "127.0.0.1", port: origin.port }, http(), AbortSignal.timeout(5000));
    expect(r).toEqual({ ok: true, reason: "ok" });
    const req = origin.requests.at(-1)!;
    expect(req.method).toBe("GET");
    expect(req.url).toBe("/health");
    expect(req.headers["user-agent"]).toBe("ballast-health-check");
    expect(req.headers.host).toBe(`127.0.0.1:${origin.port}`);
  });

  test("HTTP: passes only on the configured status classes", async () => {
    origin = await startOrigin("o1");
    const target = { address: "127.0.0.1", port: origin.port };
    origin.healthStatus = 404;
    expect((await probeHttp(target, http(), AbortSignal.timeout(5000))).reason).toBe("status 404 not in 2xx,3xx");
    expect((await probeHttp(target, http({ statusCodes: ["4xx"] }), AbortSignal.timeout(5000))).ok).toBe(true);
    origin.healthStatus = 302;
    expect((await probeHttp(target, http(), AbortSignal.timeout(5000))).ok).toBe(true);
    origin.healthStatus = 500;
    expect((await probeHttp(target, http({ statusCodes: ["2xx", "3xx", "4xx"] }), AbortSignal.timeout(5000))).ok).toBe(false);
  });

  test("HTTP and TCP: a refused connection fails with a clear reason", async () => {
    origin = await startOrigin("o1");
    const port = origin.port;
    await origin.kill();
    expect(await probeHttp({ address: "127.0.0.1", port }, http(), AbortSignal.timeout(5000))).toEqual({ ok: false, reason: "connection refused" });
    expect(await probeTcp({ address: "127.0.0.1", port }, tcp, AbortSignal.timeout(5000))).toEqual({ ok: false, reason: "connection refused" });
    await origin.restart();
    expect(await probeTcp({ address: "127.0.0.1", port }, tcp, AbortSignal.timeout(5000))).toEqual({ ok: true, reason: "ok" });
  });

  test("HTTP: a server that accepts but never answers is cut at the deadline", async () => {
    let closedByProbe = false;
    const silent = net.createServer((s) => s.on("error", () => {}).on("close", () => (closedByProbe = true)).resume());
    servers.push(silent);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as net.AddressInfo).port;
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("timeout after 2s")), 200);
    const r = await hangGuard(probeHttp({ address: "127.0.0.1", port }, http(), ac.signal), "a probe aborted at its deadline");
    expect(r).toEqual({ ok: false, reason: "timeout after 2s" });
    // Cut, not abandoned: the probe closed its connection.
    await hangGuard(
      (async () => {
        for (let i = 0; i < 1_000 && !closedByProbe; i++) await new Promise((r) => setTimeout(r, 10));
      })(),
      "the probe's connection to close",
    );
    expect(closedByProbe).toBe(true);
  });

  test("Host header: port omitted for 80, IPv6 bracketed", () => {
    expect(hostHeader("10.0.0.1", 80)).toBe("10.0.0.1");
    expect(hostHeader("10.0.0.1", 8080)).toBe("10.0.0.1:8080");
    expect(hostHeader("::1", 8080)).toBe("[::1]:8080");
    expect(hostHeader("api.internal", 80)).toBe("api.internal");
  });
});
