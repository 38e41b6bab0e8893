import { existsSync, readFileSync, rmSync } from "node:fs";
import type http from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "../../helpers/dataplane-process";
import { startOrigin, type Origin } from "../../helpers/origin";
import {
  admin,
  alive,
  childPids,
  connectionOwners,
  connectionsOnEveryWorker,
  connectRefused,
  freeTcpPorts,
  httpRequest,
  runLoad,
  sleep,
  startRuntime,
  stopRuntime,
  waitFor,
  waitForWorkers,
  type RuntimeDataplane,
} from "../../helpers/runtime-harness";

/** The worker processes' life: a dead worker is replaced and caught up; SIGTERM drains and exits 0. */

const dataplanes: RuntimeDataplane[] = [];
const origins: Origin[] = [];
const agents: http.Agent[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) a.destroy();
  await Promise.all(dataplanes.splice(0).map((dp) => stopRuntime(dp)));
  await Promise.all(origins.splice(0).map((o) => o.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function origin(name: string): Promise<Origin> {
  const o = await startOrigin(name);
  origins.push(o);
  return o;
}

async function configure(dp: RuntimeDataplane, servers: Origin[], port: number): Promise<void> {
  const api = admin(dp);
  await api.create("server-groups", { name: "pool", type: "virtual", servers: servers.map((o) => ({ address: "127.0.0.1", port: o.port, weight: 1 })) });
  await api.create("backend-services", { name: "web", protocol: "http", port: 80, serverGroup: "pool" });
  await api.create("listeners", { name: "front", protocol: "http", port, backendService: "web" });
}

/** A sorted copy, by value (the default sort is by text: 10000 before 9957). */
const byNumber = (pids: number[]) => [...pids].sort((x, y) => x - y);

describe("runtime: worker processes", () => {
  it(
    "a worker killed by SIGKILL is replaced; the replacement serves the current configuration and follows later changes",
    async () => {
      const [a, b] = [await origin("a"), await origin("b")];
      const dp = await startRuntime(2);
      dataplanes.push(dp);
      const before = await waitForWorkers(dp, 2);
      const [port] = await freeTcpPorts(1);
      await configure(dp, [a, b], port!);
      const api = admin(dp);

      // The admin API keeps answering while a worker dies (it asks every worker for its counts). A
      // call the admin API never answered ends at the client's 30 s timeout as status 0.
      let polling = true;
      const polls: { status: number; afterKill: boolean }[] = [];
      let killed = false;
      const poller = (async () => {
        for (let i = 0; i < 400 && polling; i++) {
          const r = await api.call("GET", i % 2 ? "/v1/backend-services/web/status" : "/metrics").catch(() => ({ status: 0 }));
          polls.push({ status: r.status, afterKill: killed });
          await sleep(10);
        }
      })();

      const victim = before[0]!;
      process.kill(victim, "SIGKILL");
      killed = true;
      await waitFor(`worker ${victim} to be gone`, () => (alive(victim) ? undefined : true), 10_000, 10);
      // A change made while the replacement is still starting must reach it too: b's weight to 0.
      const replacement = await waitFor("a replacement worker process", () => childPids(dp.pid).find((p) => !before.includes(p)), 30_000, 5);
      dp.seenWorkers.add(replacement);
      const weights = (wa: number, wb: number) => ({
        type: "virtual",
        servers: [
          { address: "127.0.0.1", port: a.port, weight: wa },
          { address: "127.0.0.1", port: b.port, weight: wb },
        ],
      });
      await api.update("server-groups", "pool", weights(1, 0));
      const after = await waitForWorkers(dp, 2);
      expect(byNumber(after)).toEqual(byNumber([before[1]!, replacement]));

      // Requests succeed again after a short, bounded wait (fresh connections, either worker).
      await waitFor("20 consecutive successful requests", async () => {
        for (let i = 0; i < 20; i++) if ((await httpRequest(port!, { timeoutMs: 5_000 })).status !== 200) return undefined;
        return true;
      }, 20_000, 200);
      polling = false;
      await poller;
      expect(polls.filter((p) => p.status !== 200), "admin answers while a worker died").toEqual([]);
      expect(polls.filter((p) => p.afterKill).length, "admin calls started after the kill").toBeGreaterThan(0);

      // The replacement itself serves the current configuration: connections it accepted get
      // answers, all from a.
      const onBoth = await connectionsOnEveryWorker(port!, after, { min: 4, onAgent: (x) => agents.push(x) });
      expect([...onBoth.owners.values()], "connections accepted by the replacement").toContain(replacement);
      for (const r of onBoth.responses) expect(r.status, r.error ?? r.body).toBe(200);
      const load = await runLoad({ port: port!, agents: onBoth.agents, total: 200, maxMs: 60_000 });
      expect(load.failures).toEqual([]);
      const ownersOf = (ports: Iterable<number>) => [...connectionOwners(after, port!, [...ports]).values()];
      expect(ownersOf(load.localPorts)).toContain(replacement);
      expect(Object.fromEntries(load.byBody)).toEqual({ a: 200 });

      // ... and it follows the next change like the other worker: everything to b.
      await api.update("server-groups", "pool", weights(0, 1));
      const afterChange = await runLoad({ port: port!, agents: onBoth.agents, total: 100, maxMs: 60_000 });
      expect(afterChange.failures).toEqual([]);
      expect(ownersOf(afterChange.localPorts)).toContain(replacement);
      expect(Object.fromEntries(afterChange.byBody)).toEqual({ b: 100 });
      // Still the same two workers (compared as sets: /proc lists them in its own order).
      expect(byNumber(childPids(dp.pid))).toEqual(byNumber(after));
      expect(dp.output()).toContain("worker exited; starting a replacement");
    },
    150_000,
  );

  it(
    "SIGTERM: the in-flight request completes with 200, new connections are refused, exit 0 within the grace period, state file intact",
    async () => {
      const a = await origin("a");
      const stateDir = makeTempDir("ballast-runtime-");
      dirs.push(stateDir);
      const dp = await startRuntime(2, { BALLAST_SHUTDOWN_GRACE_MS: "5000" }, { stateDir });
      dataplanes.push(dp);
      const workers = await waitForWorkers(dp, 2);
      const [port] = await freeTcpPorts(1);
      await configure(dp, [a], port!);
      expect((await httpRequest(port!)).status).toBe(200);
      const stateFile = join(stateDir, "state.json");
      const stateBefore = readFileSync(stateFile, "utf8");

      const slow = httpRequest(port!, { path: "/slow?ms=2000", timeoutMs: 15_000 });
      await waitFor("the slow request to reach the origin", () => (a.inFlight === 1 ? true : undefined), 10_000, 10);
      const exited = dp.stop("SIGTERM");

      // New connections are refused while the slow request is still being answered.
      const refusedAt = await waitFor("the listener to refuse connections", async () => ((await connectRefused(port!, 1_000)) ? Date.now() : undefined), 4_000, 20);
      const stillInFlight = a.inFlight;
      const res = await slow;
      const answeredAt = Date.now();
      expect(res.status, res.error ?? res.body).toBe(200);
      expect(res.body).toBe("a");
      expect(stillInFlight, "the slow request was still in flight when connections were refused").toBe(1);
      expect(refusedAt).toBeLessThan(answeredAt);

      // Exit 0 on its own once the in-flight request was answered: the grace period's watchdog (which
      // exits 1 with "did not finish in time") never fired, and the primary closed in order.
      expect(await exited).toBe(0);
      expect(dp.output()).toContain('"shutting down"');
      expect(dp.output()).toContain('"primary closed"');
      expect(dp.output()).not.toContain("did not finish in time");
      for (const w of workers) expect(alive(w), `worker ${w} after exit`).toBe(false);

      expect(existsSync(stateFile)).toBe(true);
      const stateAfter = readFileSync(stateFile, "utf8");
      expect(stateAfter).toBe(stateBefore);
      expect((JSON.parse(stateAfter) as { listeners: { name: string }[] }).listeners.map((l) => l.name)).toEqual(["front"]);
    },
    90_000,
  );
});
