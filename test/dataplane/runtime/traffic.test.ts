import type http from "node:http";
import net from "node:net";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { startOrigin, type Origin } from "../../helpers/origin";
import {
  admin,
  childPids,
  connectionOwners,
  connectionsOnEveryWorker,
  freeTcpPorts,
  holdPort,
  httpRequest,
  keepAliveAgent,
  runLoad,
  startRuntime,
  stopRuntime,
  sumOf,
  waitFor,
  waitForWorkers,
  type RuntimeDataplane,
} from "../../helpers/runtime-harness";

/**
 * The runtime through the real process: traffic spread over two worker processes with the
 * weights held, per-server status and metrics summed over the workers, a taken port refused
 * without disturbing anything, and the in-process variant (BALLAST_WORKERS=0).
 */

const dataplanes: RuntimeDataplane[] = [];
const origins: Origin[] = [];
const agents: http.Agent[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) a.destroy();
  await Promise.all(dataplanes.splice(0).map((dp) => stopRuntime(dp)));
  await Promise.all(origins.splice(0).map((o) => o.close()));
  for (const c of cleanups.splice(0)) await c();
});

async function origin(name: string): Promise<Origin> {
  const o = await startOrigin(name);
  origins.push(o);
  return o;
}

async function dataplane(workers: number): Promise<RuntimeDataplane> {
  const dp = await startRuntime(workers);
  dataplanes.push(dp);
  return dp;
}

function agent(): http.Agent {
  const a = keepAliveAgent();
  agents.push(a);
  return a;
}

/** Inodes of the sockets listening on `port` (127.0.0.1 or any address) held by `pids`. */
function listeningInodes(pids: number[], port: number): Set<string> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const listening = new Set<string>();
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // local address, state 0A (LISTEN), inode
    if (f[1]?.endsWith(`:${hex}`) && f[3] === "0A") listening.add(f[9]!);
  }
  const held = new Set<string>();
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && listening.has(m[1]!)) held.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  }
  return held;
}

/** group `pool` of the origins with their weights, http service `web`, http listener `front`. */
async function configure(dp: RuntimeDataplane, servers: [Origin, number][], port: number): Promise<void> {
  const api = admin(dp);
  await api.create("server-groups", {
    name: "pool",
    type: "virtual",
    servers: servers.map(([o, weight]) => ({ address: "127.0.0.1", port: o.port, weight })),
  });
  await api.create("backend-services", { name: "web", protocol: "http", port: 80, serverGroup: "pool" });
  await api.create("listeners", { name: "front", protocol: "http", port, backendService: "web" });
}

/** Two workers, both up, serving `servers` on a free port through `configure`. */
async function twoWorkers(servers: [Origin, number][]): Promise<{ dp: RuntimeDataplane; workers: number[]; port: number }> {
  const dp = await dataplane(2);
  const workers = await waitForWorkers(dp, 2);
  const [port] = await freeTcpPorts(1);
  await configure(dp, servers, port!);
  return { dp, workers, port: port! };
}

describe("runtime: traffic through worker processes", () => {
  it(
    "spreads ~2,000 keep-alive requests over both workers at wrr 1:3; status and metrics sum over the workers",
    async () => {
      const [a, b] = [await origin("a"), await origin("b")];
      const { dp, workers, port } = await twoWorkers([
        [a, 1],
        [b, 3],
      ]);
      const api = admin(dp);

      // Open keep-alive connections until both workers hold some (the kernel picks the worker).
      const opened = await connectionsOnEveryWorker(port, workers, { min: 8, onAgent: (x) => agents.push(x) });
      const conns = opened.agents;
      const warmup = opened.responses.length;
      const byBody = new Map<string, number>();
      for (const r of opened.responses) {
        expect(r.status, r.error ?? r.body).toBe(200);
        byBody.set(r.body, (byBody.get(r.body) ?? 0) + 1);
      }
      expect(new Set(opened.owners.values()), "workers that accepted a client connection").toEqual(new Set(workers));

      const load = await runLoad({ port, agents: conns, total: 2000 - warmup, maxMs: 90_000 });
      expect(load.failures).toEqual([]);
      for (const [body, n] of load.byBody) byBody.set(body, (byBody.get(body) ?? 0) + n);
      const total = warmup + load.sent;
      expect(total).toBe(2000);
      expect((byBody.get("a") ?? 0) + (byBody.get("b") ?? 0)).toBe(total);
      const shareA = (byBody.get("a") ?? 0) / total;
      expect(shareA).toBeGreaterThan(0.21);
      expect(shareA).toBeLessThan(0.29);
      // Both workers still carried the load's connections at the end.
      const after = connectionOwners(workers, port, [...load.localPorts]);
      expect(new Set([...after.values()].filter((p) => p !== undefined)).size).toBe(2);
      // the origins agree with what the clients saw
      expect(a.requests.length).toBe(byBody.get("a"));
      expect(b.requests.length).toBe(byBody.get("b"));

      // (a request's end is counted by the worker a moment after the client has the last byte)
      const status = await waitFor("no request in flight", async () => {
        const s = await api.status("web");
        return s.every((x) => x.activeRequests === 0) ? s : undefined;
      });
      expect(status.map((s) => s.port).sort()).toEqual([a.port, b.port].sort());
      for (const s of status) {
        expect(s).toMatchObject({ address: "127.0.0.1", health: "unchecked", lastCheck: null, activeRequests: 0 });
        expect(s.weight).toBe(s.port === a.port ? 1 : 3);
        expect(s.effectiveWeight).toBe(s.weight);
        expect(typeof s.activeConnections).toBe("number");
      }

      // Per-server counters, summed over both workers (counted when a response ends: poll briefly).
      const counted = await waitFor("request counters to reach the number sent", async () => {
        const m = await api.metrics();
        const n = sumOf(m, "ballast_http_requests_total", { listener: "front", service: "web" });
        return n === total ? m : undefined;
      });
      expect(sumOf(counted, "ballast_http_requests_total", { server: `127.0.0.1:${a.port}`, code: "200" })).toBe(byBody.get("a"));
      expect(sumOf(counted, "ballast_http_requests_total", { server: `127.0.0.1:${b.port}`, code: "200" })).toBe(byBody.get("b"));
      expect(sumOf(counted, "ballast_http_requests_total", { code: "200" })).toBe(total);
    },
    180_000,
  );

  it(
    "a burst of 64 connections is spread over both workers (each binds the port with SO_REUSEPORT), each taking at least a quarter",
    async () => {
      const a = await origin("a");
      const { dp, workers, port } = await twoWorkers([[a, 1]]);
      // Every worker has its own listening socket on the port (one shared socket would be one inode).
      expect(listeningInodes(workers, port).size).toBe(2);

      // 64 connections opened at once, each answered once (so a worker has accepted it), then held.
      const sockets: net.Socket[] = [];
      cleanups.push(async () => sockets.forEach((s) => s.destroy()));
      const answered = Array.from({ length: 64 }, () => {
        const s = net.connect(port, "127.0.0.1");
        sockets.push(s);
        s.on("error", () => {});
        return new Promise<number>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error("no answer within 10 s")), 10_000);
          s.once("connect", () => s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
          s.once("data", () => {
            clearTimeout(t);
            resolve(s.localPort!);
          });
        });
      });
      const owners = connectionOwners(workers, port, await Promise.all(answered));
      const counts = workers.map((w) => [...owners.values()].filter((o) => o === w).length);
      expect(counts.reduce((x, y) => x + y)).toBe(64);
      // By a hash of the addresses, each worker's share is binomial(64, ½): under 16 once in 40,000.
      for (const n of counts) expect(n, `connections per worker: ${counts.join(" + ")}`).toBeGreaterThanOrEqual(16);
    },
    60_000,
  );

  it(
    "refuses a listener on a taken port (409 port_unavailable), changes nothing, keeps serving; the same create succeeds once the port is free",
    async () => {
      const a = await origin("a");
      const { dp, workers, port } = await twoWorkers([[a, 1]]);
      const api = admin(dp);

      const taken = await holdPort(0);
      cleanups.push(() => taken.close());
      const everything = async () =>
        Promise.all(["listeners", "backend-services", "server-groups", "health-checks"].map(async (k) => (await api.call("GET", `/v1/${k}`)).body));
      const before = await everything();
      const create = { name: "second", protocol: "http", port: taken.port, backendService: "web" };

      // Twice: a refused change must leave the workers able to refuse (and accept) again.
      for (let i = 0; i < 2; i++) {
        const refused = await api.call("POST", "/v1/listeners", create);
        expect(refused.status).toBe(409);
        expect(refused.body.error.code).toBe("port_unavailable");
        expect(JSON.stringify(refused.body.error)).toContain(String(taken.port));
        expect(await everything()).toEqual(before);
        expect((await api.call("GET", "/v1/listeners/second")).status).toBe(404);
        // the existing listener serves on fresh connections (each may reach either worker)
        for (let j = 0; j < 20; j++) {
          const r = await httpRequest(port);
          expect(r.status, r.error ?? r.body).toBe(200);
          expect(r.body).toBe("a");
        }
      }

      await taken.close();
      const created = await api.call("POST", "/v1/listeners", create);
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      for (let j = 0; j < 20; j++) {
        for (const p of [port, taken.port]) {
          const r = await httpRequest(p);
          expect(r.status, `port ${p}: ${r.error ?? r.body}`).toBe(200);
          expect(r.body).toBe("a");
        }
      }
      expect(((await api.call("GET", "/v1/listeners")).body.items as { name: string }[]).map((l) => l.name).sort()).toEqual(["front", "second"]);
      // No worker crashed or was replaced on the way (node:cluster used to kill both on a retry).
      expect(childPids(dp.pid)).toEqual(workers);
      expect(dp.output()).not.toContain("worker exited");
    },
    120_000,
  );

  it(
    "BALLAST_WORKERS=0 serves in the primary process itself",
    async () => {
      const [a, b] = [await origin("a"), await origin("b")];
      const dp = await dataplane(0);
      expect(childPids(dp.pid)).toEqual([]);
      const [port] = await freeTcpPorts(1);
      await configure(dp, [
        [a, 1],
        [b, 1],
      ], port!);
      const load = await runLoad({ port: port!, agents: [agent(), agent(), agent()], total: 60, maxMs: 30_000 });
      expect(load.failures).toEqual([]);
      expect(load.byBody.get("a")).toBe(30);
      expect(load.byBody.get("b")).toBe(30);
      // the listener is the primary's own socket
      const owners = connectionOwners([dp.pid], port!, [...load.localPorts]);
      expect([...owners.values()].filter((p) => p === dp.pid).length).toBeGreaterThan(0);
      expect(childPids(dp.pid)).toEqual([]);
      const api = admin(dp);
      expect((await api.status("web")).map((s) => s.health)).toEqual(["unchecked", "unchecked"]);
      const m = await waitFor("counters", async () => {
        const s = await api.metrics();
        return sumOf(s, "ballast_http_requests_total", { code: "200" }) === 60 ? s : undefined;
      });
      expect(sumOf(m, "ballast_http_requests_total", { server: `127.0.0.1:${a.port}` })).toBe(30);
    },
    90_000,
  );
});
