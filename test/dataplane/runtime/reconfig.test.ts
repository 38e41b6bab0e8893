import { randomBytes } from "node:crypto";
import type http from "node:http";
import type net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startOrigin, type Origin } from "../../helpers/origin";
import {
  admin,
  freeTcpPorts,
  httpRequest,
  keepAliveAgent,
  runLoad,
  sleep,
  startRuntime,
  stopRuntime,
  waitForWorkers,
  type Admin,
  type RuntimeDataplane,
} from "../../helpers/runtime-harness";
import { connect, readBytes, startBackend, whenClosed, type Backend } from "../../helpers/tcp";

/**
 * Live reconfiguration under steady load, through the real process with two workers: keep-alive
 * HTTP requests and long-lived TCP echo streams keep running while 50 admin changes of every kind
 * are applied (weights, other servers added and removed, group swaps, health checks added, edited
 * and deleted, other listeners added and removed). Nothing that stays in the configuration may
 * notice: no failed request, no reset stream, every byte echoed intact.
 */

const dataplanes: RuntimeDataplane[] = [];
const closers: (() => Promise<unknown> | void)[] = [];

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) {
    try {
      await c();
    } catch {
      // already closed
    }
  }
  await Promise.all(dataplanes.splice(0).map((dp) => stopRuntime(dp)));
});

interface StreamResult {
  exchanges: number;
  bytes: number;
  mismatches: number;
  /** Why the stream broke before the test ended it, if it did. */
  failure?: string;
  reset: boolean;
  /** How the peer closed after our FIN. */
  closedCleanly: boolean;
}

/**
 * A long-lived TCP stream: writes 1–8 KiB of random bytes, reads them back, compares, pauses a
 * few ms, repeats until `stop()` (bounded in count and time); then half-closes and expects the
 * server's FIN in return.
 */
async function echoStream(port: number, stop: () => boolean, out: StreamResult): Promise<StreamResult> {
  const socket: net.Socket = await connect(port);
  closers.push(() => void socket.destroy());
  let error: string | undefined;
  socket.on("error", (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  const deadline = Date.now() + 240_000;
  try {
    while (!stop() && out.exchanges < 50_000 && Date.now() < deadline) {
      const chunk = randomBytes(1024 + Math.floor(Math.random() * 7 * 1024));
      socket.write(chunk);
      const back = await readBytes(socket, chunk.length, 20_000);
      if (!back.equals(chunk)) out.mismatches++;
      out.bytes += chunk.length;
      out.exchanges++;
      await sleep(5 + Math.floor(Math.random() * 10));
    }
  } catch (err) {
    out.failure = `${(err as Error).message}${error ? ` (${error})` : ""}`;
  }
  socket.end();
  try {
    const closed = await whenClosed(socket, 10_000);
    out.reset = closed.reset || error === "ECONNRESET";
    out.closedCleanly = !closed.error;
  } catch (err) {
    out.failure ??= (err as Error).message;
  }
  socket.destroy();
  return out;
}

type Weights = Map<number, number>;

describe("runtime: live reconfiguration", () => {
  it(
    "50 admin changes under HTTP load and TCP streams: zero failed requests, zero resets, every byte intact",
    async () => {
      // Servers that stay (a, b for http; t1, t2 for tcp) and others that come and go.
      const origin = async (name: string) => {
        const o = await startOrigin(name);
        closers.push(() => o.close());
        return o;
      };
      const backend = async (name: string) => {
        const t = await startBackend({ name, mode: "echo" });
        closers.push(() => t.close());
        return t;
      };
      const [a, b, x1, x2, x3] = await Promise.all(["a", "b", "x1", "x2", "x3"].map(origin)) as [Origin, Origin, Origin, Origin, Origin];
      const [t1, t2, u1, u2] = await Promise.all(["t1", "t2", "u1", "u2"].map(backend)) as [Backend, Backend, Backend, Backend];

      const dp = await startRuntime(2);
      dataplanes.push(dp);
      const workers = await waitForWorkers(dp, 2);
      const api: Admin = admin(dp);
      const [httpPort, tcpPort, ...spare] = await freeTcpPorts(12);

      const groups: Record<string, Weights> = {
        "web-1": new Map([[a.port, 50], [b.port, 50]]),
        "web-2": new Map([[a.port, 60], [b.port, 40], [x3.port, 20]]),
        "tcp-1": new Map([[t1.port, 50], [t2.port, 50]]),
        "tcp-2": new Map([[t1.port, 30], [t2.port, 70], [u2.port, 20]]),
      };
      const groupBody = (name: string) => ({
        name,
        type: "virtual",
        servers: [...groups[name]!].map(([port, weight]) => ({ address: "127.0.0.1", port, weight })),
      });
      for (const name of Object.keys(groups)) await api.create("server-groups", groupBody(name));
      const webBody = (serverGroup: string) => ({ name: "web", protocol: "http", port: 80, serverGroup, connectionDrainTimeout: 300 });
      const echoBody = (serverGroup: string) => ({ name: "echo", protocol: "tcp", port: 9, serverGroup, connectionDrainTimeout: 300 });
      await api.create("backend-services", webBody("web-1"));
      await api.create("backend-services", echoBody("tcp-1"));
      await api.create("listeners", { name: "front", protocol: "http", port: httpPort, backendService: "web" });
      await api.create("listeners", { name: "stream", protocol: "tcp", port: tcpPort, backendService: "echo" });

      // ~10 long-lived TCP streams, all opened while the tcp service has only t1 and t2.
      let changesDone = false;
      const live: StreamResult[] = Array.from({ length: 10 }, () => ({ exchanges: 0, bytes: 0, mismatches: 0, reset: false, closedCleanly: false }));
      // Each stream runs through the changes and past a dozen exchanges whatever the machine's speed.
      const streamRuns = live.map((out) => echoStream(tcpPort!, () => changesDone && out.exchanges > 10, out));
      const exchanged = () => live.reduce((n, s) => n + s.exchanges, 0);
      // Streams run in the background; check they really reached t1/t2 before changing anything.
      const startDeadline = Date.now() + 20_000;
      while (t1.connections.length + t2.connections.length < 10 && Date.now() < startDeadline) await sleep(20);
      expect(t1.connections.length + t2.connections.length).toBe(10);

      // Keep-alive HTTP load, 8 connections, running until the changes are done.
      const httpAgents: http.Agent[] = Array.from({ length: 8 }, () => {
        const ag = keepAliveAgent();
        closers.push(() => ag.destroy());
        return ag;
      });
      let answered = 0;
      const load = runLoad({
        port: httpPort!,
        agents: httpAgents,
        total: 20_000,
        minTotal: 3_000,
        until: () => changesDone,
        maxMs: 240_000,
        onResult: () => answered++,
      });
      let loadDone = false;
      void load.then(() => (loadDone = true));
      // Both kinds of traffic are flowing before the first change.
      const flowing = Date.now() + 20_000;
      while ((answered < 100 || exchanged() < 50) && Date.now() < flowing) await sleep(20);
      const atFirstChange = { answered, exchanged: exchanged() };

      // The changes, cycling through every kind.
      let webGroup = "web-1";
      let tcpGroup = "tcp-1";
      const extraIn: Record<string, string | undefined> = {};
      let extraListener: { name: string; port: number } | undefined;
      let listenerCount = 0;
      const weight = () => 1 + Math.floor(Math.random() * 100);
      const putGroup = (name: string) => api.update("server-groups", name, groupBody(name));
      const addServer = async (group: string, key: string, port: number) => {
        groups[group]!.set(port, weight());
        extraIn[key] = group;
        await putGroup(group);
      };
      const removeServer = async (key: string, port: number) => {
        const group = extraIn[key]!;
        groups[group]!.delete(port);
        extraIn[key] = undefined;
        await putGroup(group);
      };
      const kinds: [string, () => Promise<void>][] = [
        ["web weights", async () => {
          groups[webGroup]!.set(a.port, weight()).set(b.port, weight());
          await putGroup(webGroup);
        }],
        ["add http server x1", () => addServer(webGroup, "x1", x1.port)],
        ["tcp weights", async () => {
          groups[tcpGroup]!.set(t1.port, weight()).set(t2.port, weight());
          await putGroup(tcpGroup);
        }],
        ["add http check", async () => void (await api.create("health-checks", { name: "web-check", backendService: "web", protocol: "HTTP", path: "/health", interval: 5, healthyThreshold: 1 }))],
        ["add listener", async () => {
          for (let attempt = 0; ; attempt++) {
            const port = spare.shift() ?? (await freeTcpPorts(1))[0]!;
            const name = `extra-${++listenerCount}`;
            const r = await api.call("POST", "/v1/listeners", { name, protocol: "http", port, backendService: "web" });
            // Another process on this machine may have taken the spare port meanwhile: take another.
            if (r.status === 409 && r.body?.error?.code === "port_unavailable" && attempt < 3) continue;
            if (r.status !== 201) throw new Error(`POST listener: ${r.status} ${JSON.stringify(r.body)}`);
            extraListener = { name, port };
            const probe = await httpRequest(port);
            if (probe.status !== 200) throw new Error(`new listener ${name} answered ${probe.status} ${probe.error ?? probe.body}`);
            return;
          }
        }],
        ["swap web group", async () => {
          webGroup = webGroup === "web-1" ? "web-2" : "web-1";
          await api.update("backend-services", "web", webBody(webGroup));
        }],
        ["remove http server x1", () => (extraIn.x1 ? removeServer("x1", x1.port) : addServer(webGroup, "x1", x1.port))],
        ["add tcp server u1", () => addServer(tcpGroup, "u1", u1.port)],
        ["edit http check", async () => void (await api.update("health-checks", "web-check", { backendService: "web", protocol: "HTTP", path: "/health?edited=1", interval: 6, healthyThreshold: 2 }))],
        ["remove listener", async () => {
          await api.remove("listeners", extraListener!.name);
          extraListener = undefined;
        }],
        ["swap tcp group", async () => {
          tcpGroup = tcpGroup === "tcp-1" ? "tcp-2" : "tcp-1";
          await api.update("backend-services", "echo", echoBody(tcpGroup));
        }],
        ["remove tcp server u1", () => (extraIn.u1 ? removeServer("u1", u1.port) : addServer(tcpGroup, "u1", u1.port))],
        ["delete http check", () => api.remove("health-checks", "web-check")],
        ["add tcp check", async () => void (await api.create("health-checks", { name: "echo-check", backendService: "echo", protocol: "TCP", interval: 5 }))],
        ["add http server x2", () => addServer(webGroup, "x2", x2.port)],
        ["delete tcp check", () => api.remove("health-checks", "echo-check")],
        ["remove http server x2", () => (extraIn.x2 ? removeServer("x2", x2.port) : addServer(webGroup, "x2", x2.port))],
      ];
      const applied: string[] = [];
      /** Changes after which the traffic did not move on (HTTP answers and TCP exchanges). */
      const quietAfter: string[] = [];
      // One hang guard for all the waits below, so that a stall fails the test instead of timing it out.
      const movedBy = Date.now() + 90_000;
      try {
        for (let i = 0; i < 50; i++) {
          const [what, change] = kinds[i % kinds.length]!;
          try {
            await change();
          } catch (err) {
            throw new Error(`change #${i + 1} (${what}) failed: ${(err as Error).message}`);
          }
          applied.push(what);
          await sleep(40 + Math.floor(Math.random() * 80));
          // Both kinds of traffic move on after every change (HTTP until its request count is spent):
          // they overlap the changes by construction, however slowly the machine runs.
          const mark = { answered, exchanged: exchanged() };
          const moved = () => (loadDone || answered >= mark.answered + 5) && exchanged() >= mark.exchanged + 2;
          while (!moved() && Date.now() < movedBy) await sleep(10);
          if (!moved()) quietAfter.push(`#${i + 1} ${what}`);
        }
        // Let the load run on a little after the last change.
        await sleep(500);
      } finally {
        changesDone = true;
      }
      const [web, tcp] = await Promise.all([load, Promise.all(streamRuns)]);
      expect(applied).toHaveLength(50);
      // The traffic really overlapped the changes, and no change stopped it.
      expect(quietAfter, "changes after which traffic stopped").toEqual([]);
      expect(answered - atFirstChange.answered).toBeGreaterThanOrEqual(5);
      expect(exchanged() - atFirstChange.exchanged).toBeGreaterThanOrEqual(50 * 2);

      // HTTP: every request answered 200, by a server of the service.
      expect(web.failures, `failed HTTP requests of ${web.sent}`).toEqual([]);
      expect(web.sent).toBeGreaterThanOrEqual(3_000);
      expect(web.byBody.get("a")).toBeGreaterThan(0);
      expect(web.byBody.get("b")).toBeGreaterThan(0);
      for (const name of web.byBody.keys()) expect(["a", "b", "x1", "x2", "x3"]).toContain(name);

      // TCP: no stream broke or was reset, every byte came back as sent, each closed cleanly.
      for (const [i, s] of tcp.entries()) {
        expect({ stream: i, failure: s.failure, reset: s.reset, mismatches: s.mismatches, closedCleanly: s.closedCleanly }).toEqual({
          stream: i,
          failure: undefined,
          reset: false,
          mismatches: 0,
          closedCleanly: true,
        });
        expect(s.exchanges).toBeGreaterThan(10);
      }
      // Streams went to t1/t2 only (they were the only tcp servers when the streams opened).
      const payloadConns = [...t1.connections, ...t2.connections].filter((c) => c.bytes > 0);
      expect(payloadConns.length).toBe(10);
      expect(payloadConns.reduce((n, c) => n + c.bytes, 0)).toBe(tcp.reduce((n, s) => n + s.bytes, 0));

      // The workers are the ones we started with: nothing crashed on the way.
      expect((await waitForWorkers(dp, 2)).sort()).toEqual(workers.sort());
      expect(dp.output()).not.toContain("worker exited");
      const status = await api.status("web");
      expect(status.map((s) => s.port)).toEqual(expect.arrayContaining([a.port, b.port]));
    },
    300_000,
  );
});
