import { afterEach, describe, expect, it } from "vitest";
import { startOrigin, type Origin } from "../../helpers/origin";
import { admin, freeTcpPorts, httpRequest, startRuntime, stopRuntime, waitForWorkers, type RuntimeDataplane } from "../../helpers/runtime-harness";

/**
 * Two replicas of the data plane (two processes, two workers each) given the same configuration
 * through their admin APIs: the insertion cookie one sets is honoured by the other, with no shared
 * state. (Each replica's listener needs its own port on this one machine; the cookie does not
 * depend on the listener.)
 */

const dataplanes: RuntimeDataplane[] = [];
const origins: Origin[] = [];

afterEach(async () => {
  await Promise.all(dataplanes.splice(0).map((dp) => stopRuntime(dp)));
  await Promise.all(origins.splice(0).map((o) => o.close()));
});

describe("runtime: replicas", () => {
  it(
    "a cookie set by one replica is honoured by the other, in both directions",
    async () => {
      const servers = [await startOrigin("a"), await startOrigin("b"), await startOrigin("c")];
      origins.push(...servers);
      const replicas = await Promise.all([startRuntime(2), startRuntime(2)]);
      dataplanes.push(...replicas);
      await Promise.all(replicas.map((dp) => waitForWorkers(dp, 2)));
      const ports = await freeTcpPorts(2);

      for (const [i, dp] of replicas.entries()) {
        const api = admin(dp);
        await api.create("server-groups", { name: "pool", type: "virtual", servers: servers.map((o) => ({ address: "127.0.0.1", port: o.port, weight: 10 })) });
        await api.create("backend-services", {
          name: "web",
          protocol: "http",
          port: 80,
          serverGroup: "pool",
          sessionPersistence: { type: "insert-cookie", cookieTimeout: 600 },
        });
        await api.create("listeners", { name: "front", protocol: "http", port: ports[i], backendService: "web" });
      }

      for (const [from, to] of [
        [0, 1],
        [1, 0],
      ] as const) {
        // One cookie per server, as set by replica `from` (fresh connections: either worker).
        const cookies = new Map<string, string>();
        for (let i = 0; i < 30 && cookies.size < servers.length; i++) {
          const r = await httpRequest(ports[from]!);
          expect(r.status, r.error ?? r.body).toBe(200);
          const set = r.headers["set-cookie"];
          expect(set, "a request without a cookie gets one").toBeDefined();
          expect(set![0]).toMatch(/^BALLAST_web=[A-Za-z0-9_-]{16}; Max-Age=600; Path=\/; HttpOnly$/);
          const value = /^BALLAST_web=([^;]+)/.exec(set![0]!)![1]!;
          expect(value).not.toContain(String(servers.find((o) => o.name === r.body)!.port));
          if (cookies.has(r.body)) expect(cookies.get(r.body)).toBe(value);
          cookies.set(r.body, value);
        }
        expect([...cookies.keys()].sort()).toEqual(["a", "b", "c"]);

        // Replica `to` sends every request carrying a cookie to the server it names, and does not
        // set a new one.
        for (const [name, value] of cookies) {
          for (let i = 0; i < 15; i++) {
            const r = await httpRequest(ports[to]!, { headers: { cookie: `other=1; BALLAST_web=${value}` } });
            expect(r.status, r.error ?? r.body).toBe(200);
            expect(r.body, `replica ${to} with the cookie replica ${from} set for ${name}`).toBe(name);
            expect(r.headers["set-cookie"]).toBeUndefined();
          }
        }
      }

      // A cookie naming no server of the service is re-balanced and set again.
      const r = await httpRequest(ports[1]!, { headers: { cookie: "BALLAST_web=AAAAAAAAAAAAAAAA" } });
      expect(r.status).toBe(200);
      expect(r.headers["set-cookie"]?.[0]).toMatch(/^BALLAST_web=/);
    },
    120_000,
  );
});
