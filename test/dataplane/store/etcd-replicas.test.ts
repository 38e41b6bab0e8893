import http from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Dataplane } from "../../helpers/dataplane-process";
import { startEtcdCluster, type EtcdCluster } from "../../helpers/etcd-cluster";
import { startOrigin, type Origin } from "../../helpers/origin";
import { freePorts } from "../../helpers/ports";
import { startDataplane } from "../../helpers/dataplane-process";
import { create, getAt, json, newPrefix, newToken, startReplica, through } from "../../helpers/replicas";

/**
 * Replicas on a real three-member etcd cluster (docs/replicas.md): a write through any replica is
 * served by every other, read-your-writes across replicas with Ballast-Min-Revision, and the
 * revision headers and /v1/replica.
 */

let etcd: EtcdCluster;
const replicas: Dataplane[] = [];
const origins: Origin[] = [];

beforeAll(async () => {
  etcd = await startEtcdCluster(3);
});

afterAll(async () => {
  await etcd?.stop();
});

afterEach(async () => {
  await Promise.all(replicas.splice(0).map((r) => r.stop()));
  await Promise.all(origins.splice(0).map((o) => o.close()));
});

/** The origin answering a GET sent from `localAddress` through `host:port`. */
function fromAddress(localAddress: string, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: "/", localAddress, agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(String(res.headers["x-origin"])));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

async function threeReplicas(prefix = newPrefix()) {
  const token = newToken();
  const hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
  const started = await Promise.all(
    ["a", "b", "c"].map((name, i) => startReplica(etcd, { name, prefix, token, listenHost: hosts[i]!, workers: i === 1 ? 1 : 0 })),
  );
  replicas.push(...started);
  return { a: started[0]!, b: started[1]!, c: started[2]!, hosts, token, prefix };
}

describe("etcd store: replicas", () => {
  it("a write on replica A is served by B and C, and a GET on B with Ballast-Min-Revision returns it", async () => {
    const { a, b, c, hosts } = await threeReplicas();
    const [one, two] = [await startOrigin("one"), await startOrigin("two")];
    origins.push(one, two);
    const [port] = await freePorts(1);

    await create(a, "server-groups", { name: "pool", type: "virtual", servers: [{ address: "127.0.0.1", port: one.port }] });
    await create(a, "backend-services", { name: "web", protocol: "http", port: 80, serverGroup: "pool" });
    const listenerRevision = await create(a, "listeners", { name: "front", protocol: "http", port, backendService: "web" });
    for (const dp of [b, c]) expect((await getAt(dp, "/v1/listeners/front", listenerRevision)).status).toBe(200);
    for (const host of hosts) expect(await through(host, port!)).toBe("one");

    // The change: a new server replaces the old one, written on A.
    const res = await a.api("/v1/server-groups/pool", json("PUT", { type: "virtual", servers: [{ address: "127.0.0.1", port: two.port }] }));
    expect(res.status, await res.text()).toBe(200);
    const revision = Number(res.headers.get("ballast-revision"));
    expect(revision).toBeGreaterThan(listenerRevision);

    const onB = await getAt(b, "/v1/server-groups/pool", revision);
    expect(onB.status).toBe(200);
    expect(onB.revision).toBeGreaterThanOrEqual(revision);
    expect(onB.body.servers).toEqual([expect.objectContaining({ port: two.port })]);
    expect(onB.body.version).toBe(2);
    const onC = await getAt(c, "/v1/server-groups/pool", revision);
    expect(onC.body.servers[0].port).toBe(two.port);
    // Applied before the answer: the traffic through B and C reaches the new server.
    for (const host of [hosts[1]!, hosts[2]!]) {
      for (let i = 0; i < 5; i++) expect(await through(host, port!)).toBe("two");
    }
  });

  it("every authenticated /v1 answer carries Ballast-Revision; /v1/replica and /metrics name the replica and its revision", async () => {
    const { a, b } = await threeReplicas();
    const revision = await create(a, "server-groups", { name: "pool", type: "virtual", servers: [{ address: "10.0.0.1", port: 80 }] });
    const onB = await getAt(b, "/v1/replica", revision);
    expect(onB.status).toBe(200);
    expect(onB.body).toMatchObject({ name: "b", store: "etcd", state: { status: "connected" }, unboundListeners: [] });
    expect(onB.body.appliedRevision).toBeGreaterThanOrEqual(revision);

    const missing = await b.api("/v1/listeners/nothing");
    expect(missing.status).toBe(404);
    expect(Number(missing.headers.get("ballast-revision"))).toBeGreaterThanOrEqual(revision);
    expect(missing.headers.get("ballast-stale")).toBeNull();
    const unauthorized = await b.api("/v1/listeners", { headers: { authorization: "Bearer wrong-token-wrong-token" } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get("ballast-revision")).toBeNull();

    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    expect(metrics).toMatch(/^ballast_replica_info\{replica="b"\} 1$/m);
    const applied = Number(/^ballast_config_revision (\d+)$/m.exec(metrics)?.[1]);
    expect(applied).toBeGreaterThanOrEqual(revision);
  });

  it("a read asking for a revision this replica has not applied answers 503 revision_not_reached after the bounded wait", async () => {
    const { b } = await threeReplicas();
    const res = await b.api("/v1/listeners", { headers: { "ballast-min-revision": "999999999" } });
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe("revision_not_reached");
    const bad = await b.api("/v1/listeners", { headers: { "ballast-min-revision": "soon" } });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.issues[0].path).toBe("Ballast-Min-Revision");
  });

  it("replicas on etcd can share one admin port (a rolling update starts the new one before the old stops); a file store cannot", async () => {
    const [port] = (await freePorts(1)) as [number];
    const prefix = newPrefix();
    const token = newToken();
    const env = { BALLAST_ADMIN_ADDR: `127.0.0.1:${port}` };
    const old = await startReplica(etcd, { name: "old", prefix, token, env });
    replicas.push(old);
    const next = await startReplica(etcd, { name: "next", prefix, token, env });
    replicas.push(next);
    expect(next.url).toBe(old.url);
    await create(old, "server-groups", { name: "g", type: "virtual", servers: [] });
    // The old replica stops: the port keeps answering, from the new one, with the configuration.
    await replicas.splice(0, 1)[0]!.stop();
    const after = await getAt(next, "/v1/server-groups/g", 0);
    expect(after.status).toBe(200);
    expect(((await (await next.api("/v1/replica")).json()) as { name: string }).name).toBe("next");
    // A file store's admin port is its own: a second one on it does not start.
    await expect(startDataplane({ token, env: env, startTimeoutMs: 20_000 })).rejects.toThrow(/admin API cannot listen|EADDRINUSE/);
  });

  it("two prefixes on one etcd are two independent balancers", async () => {
    const token = newToken();
    const [x, y] = await Promise.all([
      startReplica(etcd, { name: "x", prefix: newPrefix(), token }),
      startReplica(etcd, { name: "y", prefix: newPrefix(), token }),
    ]);
    replicas.push(x, y);
    const revision = await create(x, "server-groups", { name: "only-x", type: "virtual", servers: [{ address: "10.0.0.1", port: 80 }] });
    await create(y, "server-groups", { name: "only-y", type: "virtual", servers: [{ address: "10.0.0.2", port: 80 }] });
    const onX = await getAt(x, "/v1/server-groups", revision);
    expect(onX.body.items.map((g: { name: string }) => g.name)).toEqual(["only-x"]);
    const onY = await getAt(y, "/v1/server-groups", 0);
    expect(onY.body.items.map((g: { name: string }) => g.name)).toEqual(["only-y"]);
  });

  it("a cookie set by one replica is honoured by the others, and source-IP hashing agrees across replicas", async () => {
    const { a, b, c, hosts } = await threeReplicas();
    const servers = await Promise.all(["s1", "s2", "s3"].map((n) => startOrigin(n)));
    origins.push(...servers);
    const [cookiePort, hashPort] = await freePorts(2);
    const pool = { type: "virtual", servers: servers.map((o) => ({ address: "127.0.0.1", port: o.port })) };
    await create(a, "server-groups", { name: "pool", ...pool });
    await create(a, "backend-services", { name: "sticky", protocol: "http", port: 80, serverGroup: "pool", sessionPersistence: { type: "insert-cookie", cookieTimeout: 600 } });
    await create(a, "backend-services", { name: "hashed", protocol: "http", port: 80, serverGroup: "pool", scheduler: "source-ip" });
    await create(a, "listeners", { name: "cookie", protocol: "http", port: cookiePort, backendService: "sticky" });
    const revision = await create(a, "listeners", { name: "hash", protocol: "http", port: hashPort, backendService: "hashed" });
    for (const dp of [b, c]) expect((await getAt(dp, "/v1/listeners/hash", revision)).status).toBe(200);

    // Cookies from replica A, one per server, each sent through B and C.
    const cookies = new Map<string, string>();
    for (let i = 0; i < 60 && cookies.size < servers.length; i++) {
      const res = await fetch(`http://${hosts[0]}:${cookiePort}/`);
      await res.arrayBuffer();
      const set = res.headers.get("set-cookie");
      expect(set).toBeTruthy();
      cookies.set(res.headers.get("x-origin")!, set!.split(";")[0]!);
    }
    expect(cookies.size).toBe(servers.length);
    for (const [server, cookie] of cookies) {
      for (const host of [hosts[1]!, hosts[2]!]) {
        for (let i = 0; i < 3; i++) {
          const res = await fetch(`http://${host}:${cookiePort}/`, { headers: { cookie } });
          await res.arrayBuffer();
          expect(res.headers.get("x-origin")).toBe(server);
        }
      }
    }
    // Source-IP hashing: each client address lands on the same server through every replica.
    const byClient: string[] = [];
    for (let n = 10; n < 22; n++) {
      const picks = await Promise.all(hosts.map((host) => fromAddress(`127.0.1.${n}`, host, hashPort!)));
      expect(new Set(picks).size, `client 127.0.1.${n}: ${picks.join(", ")}`).toBe(1);
      byClient.push(picks[0]!);
    }
    // The clients are spread over the servers: agreeing is not one server taking everything.
    expect(new Set(byClient).size).toBeGreaterThan(1);
  });
});
