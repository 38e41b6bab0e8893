import { rmSync } from "node:fs";
import net from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, type Dataplane } from "../../helpers/dataplane-process";
import { keepRequesting } from "../../helpers/e2e";
import { startEtcdCluster, type EtcdCluster } from "../../helpers/etcd-cluster";
import { startOrigin, type Origin } from "../../helpers/origin";
import { freePorts } from "../../helpers/ports";
import { create, eventually, getAt, json, newPrefix, newToken, startReplica, through } from "../../helpers/replicas";

/**
 * Replicas on a real etcd cluster when things break: an etcd member killed during writes, a lost
 * quorum, a replica killed during writes, two replicas racing conflicting writes.
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
  await Promise.all(replicas.splice(0).map((r) => r.stop("SIGKILL")));
  await Promise.all(origins.splice(0).map((o) => o.close()));
  // Every member back for the next test.
  for (const [i, m] of etcd.members.entries()) if (m.process?.exitCode !== null || m.process?.signalCode !== null) await etcd.restart(i);
  await Promise.all(etcd.members.map((_, i) => etcd.ready(i)));
});

async function replicaSet(n: number, prefix = newPrefix()) {
  const token = newToken();
  const started = await Promise.all(
    Array.from({ length: n }, (_, i) => startReplica(etcd, { name: `r${i}`, prefix, token, listenHost: `127.0.0.${i + 2}`, workers: i % 2 })),
  );
  replicas.push(...started);
  return started;
}

const group = (name: string, port = 80) => ({ name, type: "virtual", servers: [{ address: "10.0.0.1", port }] });

/** Names of the server groups a replica serves once it applied `revision`. */
async function groupsOn(dp: Dataplane, revision: number): Promise<Set<string>> {
  const res = await getAt(dp, "/v1/server-groups", revision);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return new Set(res.body.items.map((g: { name: string }) => g.name));
}

describe("etcd store: failures", () => {
  it("kill -9 of one etcd member during 200 writes: every acknowledged write is on every replica, and writes continue", async () => {
    const [a, b, c] = await replicaSet(3);
    const acked: string[] = [];
    const refused: string[] = [];
    let lastRevision = 0;
    let ackedAfterKill = 0;
    for (let i = 0; i < 200; i++) {
      if (i === 60) await etcd.kill(0);
      const name = `g-${i}`;
      const res = await a!.api("/v1/server-groups", json("POST", group(name)));
      const body = await res.text();
      if (res.status === 201) {
        acked.push(name);
        lastRevision = Math.max(lastRevision, Number(res.headers.get("ballast-revision")));
        if (i > 60) ackedAfterKill++;
      } else {
        expect(res.status, body).toBe(503);
        expect(JSON.parse(body).error.code).toBe("store_unavailable");
        refused.push(name);
      }
    }
    expect(ackedAfterKill, `refused: ${refused.join(", ")}`).toBeGreaterThan(100);
    for (const dp of [a!, b!, c!]) {
      const served = await groupsOn(dp, lastRevision);
      for (const name of acked) expect(served.has(name), `${name} on ${dp.url}`).toBe(true);
    }
  });

  it("a quorum stopped: writes answer 503 store_unavailable, traffic keeps flowing on every replica, writes work once the members return", async () => {
    const replicasUp = await replicaSet(3);
    const origin = await startOrigin("one");
    origins.push(origin);
    const [port] = await freePorts(1);
    const [a] = replicasUp;
    await create(a!, "server-groups", { name: "pool", type: "virtual", servers: [{ address: "127.0.0.1", port: origin.port }] });
    await create(a!, "backend-services", { name: "web", protocol: "http", port: 80, serverGroup: "pool" });
    const revision = await create(a!, "listeners", { name: "front", protocol: "http", port, backendService: "web" });
    for (const dp of replicasUp) expect((await getAt(dp, "/v1/listeners/front", revision)).status).toBe(200);

    const traffic = replicasUp.map((_, i) => keepRequesting(`http://127.0.0.${i + 2}:${port}/`, 2_000));
    await etcd.kill(1);
    await etcd.kill(2);

    const refused = await a!.api("/v1/server-groups", json("POST", group("during")));
    const body = await refused.json();
    expect(refused.status).toBe(503);
    expect(body.error.code).toBe("store_unavailable");
    for (const m of etcd.members) expect(body.error.message).toContain(m.clientUrl);

    // Reads answer from the applied state, and say how stale it is.
    for (const dp of replicasUp) {
      await eventually(async () => (await (await dp.api("/v1/replica")).json()).state.status === "unreachable", "the replica to see etcd unreachable");
      const read = await dp.api("/v1/listeners/front");
      expect(read.status).toBe(200);
      expect(Number(read.headers.get("ballast-stale"))).toBeGreaterThanOrEqual(0);
    }

    await etcd.restart(1);
    await etcd.restart(2);
    await Promise.all([0, 1, 2].map((i) => etcd.ready(i)));
    let after = 0;
    await eventually(async () => {
      const res = await a!.api("/v1/server-groups", json("POST", group("after")));
      if (res.status === 201) after = Number(res.headers.get("ballast-revision"));
      return res.status === 201;
    }, "a write to succeed once the members returned");
    for (const dp of replicasUp) expect((await groupsOn(dp, after)).has("after")).toBe(true);

    const results = await Promise.all(traffic.map((t) => t.stop()));
    for (const r of results) {
      expect(r.total).toBeGreaterThan(0);
      expect(r.failures, JSON.stringify(r.counts)).toBe(0);
    }
  });

  it("kill -9 of a replica during writes through it: every write it acknowledged is present", async () => {
    const [a, b] = await replicaSet(2);
    const acked: string[] = [];
    let lastRevision = 0;
    const writer = (async () => {
      for (let i = 0; i < 300; i++) {
        try {
          const res = await a!.api("/v1/server-groups", json("POST", group(`k-${i}`)));
          await res.text();
          if (res.status !== 201) return;
          acked.push(`k-${i}`);
          lastRevision = Math.max(lastRevision, Number(res.headers.get("ballast-revision")));
        } catch {
          return;
        }
      }
    })();
    await eventually(async () => acked.length >= 30, "30 acknowledged writes");
    await a!.stop("SIGKILL");
    await writer;
    expect(acked.length).toBeGreaterThanOrEqual(30);
    const served = await groupsOn(b!, lastRevision);
    for (const name of acked) expect(served.has(name), name).toBe(true);
  });

  it("delete a server group on one replica while another creates a service using it: exactly one wins, integrity holds everywhere", async () => {
    const [a, b] = await replicaSet(2);
    let deletes = 0;
    let creates = 0;
    for (let round = 0; round < 8; round++) {
      const revision = await create(a!, "server-groups", group(`pool-${round}`));
      await getAt(b!, "/v1/server-groups", revision);
      const [del, post] = await Promise.all([
        a!.api(`/v1/server-groups/pool-${round}`, { method: "DELETE" }),
        b!.api("/v1/backend-services", json("POST", { name: `svc-${round}`, protocol: "http", port: 80, serverGroup: `pool-${round}` })),
      ]);
      const delBody = del.status === 204 ? undefined : await del.json();
      const postBody = await post.json();
      if (del.status === 204) {
        deletes++;
        expect(post.status, JSON.stringify(postBody)).toBe(400);
        expect(postBody.error.code).toBe("invalid");
      } else {
        creates++;
        expect(post.status, JSON.stringify(postBody)).toBe(201);
        expect(del.status, JSON.stringify(delBody)).toBe(409);
        expect(delBody.error.code).toBe("in_use");
      }
    }
    expect(deletes + creates).toBe(8);
    const last = Math.max(...(await Promise.all([a!, b!].map(async (dp) => Number((await dp.api("/v1/replica")).headers.get("ballast-revision"))))));
    for (const dp of [a!, b!]) {
      const groups = await groupsOn(dp, last);
      const services = (await getAt(dp, "/v1/backend-services", last)).body.items as { name: string; serverGroup: string }[];
      expect(services.length).toBe(creates);
      for (const s of services) expect(groups.has(s.serverGroup), `${s.name} uses ${s.serverGroup}`).toBe(true);
    }
  });

  it("a replica restarted while etcd is down serves its local copy, and catches up when etcd returns; a copy from another prefix is ignored", async () => {
    const stateDir = makeTempDir("ballast-replica-");
    try {
      const origin = await startOrigin("cached");
      origins.push(origin);
      const [port] = await freePorts(1);
      const prefix = newPrefix();
      const token = newToken();
      const first = await startReplica(etcd, { name: "a", prefix, token, listenHost: "127.0.0.2", stateDir });
      replicas.push(first);
      await create(first, "server-groups", { name: "pool", type: "virtual", servers: [{ address: "127.0.0.1", port: origin.port }] });
      await create(first, "backend-services", { name: "web", protocol: "http", port: 80, serverGroup: "pool" });
      await create(first, "listeners", { name: "front", protocol: "http", port, backendService: "web" });
      expect(await through("127.0.0.2", port!)).toBe("cached");
      await first.stop();
      for (const i of [0, 1, 2]) await etcd.kill(i);

      const other = await startReplica(etcd, { name: "other", prefix: newPrefix(), token, listenHost: "127.0.0.2", stateDir });
      replicas.push(other);
      expect((await (await other.api("/v1/listeners")).json()).items).toEqual([]);
      expect(other.output()).toContain("the local copy comes from another prefix; ignoring it");
      await other.stop();

      const again = await startReplica(etcd, { name: "a", prefix, token, listenHost: "127.0.0.2", stateDir });
      replicas.push(again);
      expect(again.output()).toContain("serving the local copy");
      expect(await through("127.0.0.2", port!)).toBe("cached");
      const read = await again.api("/v1/listeners/front");
      expect(read.status).toBe(200);
      expect(read.headers.get("ballast-stale")).toMatch(/^\d+$/);
      const replica = await (await again.api("/v1/replica")).json();
      expect(replica.state.status).toBe("unreachable");
      expect(replica.state.endpoints).toEqual(etcd.members.map((m) => m.clientUrl));

      for (const i of [0, 1, 2]) await etcd.restart(i);
      await Promise.all([0, 1, 2].map((i) => etcd.ready(i)));
      await eventually(async () => (await (await again.api("/v1/replica")).json()).state.status === "connected", "the replica to reconnect");
      const revision = await create(again, "server-groups", group("after-restart"));
      expect((await groupsOn(again, revision)).has("pool")).toBe(true);
      expect((await again.api("/v1/listeners/front")).headers.get("ballast-stale")).toBeNull();
    } finally {
      await Promise.all(replicas.splice(0).map((r) => r.stop("SIGKILL")));
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it("replicas on one address share a listener's port (SO_REUSEPORT, 0 workers too); one that cannot bind it serves the rest, shows it, and binds once it can", async () => {
    const prefix = newPrefix();
    const token = newToken();
    const origin = await startOrigin("shared");
    origins.push(origin);
    const [shared, blocked] = await freePorts(2);
    // A foreign process (no SO_REUSEPORT) holds `blocked` on replica c's address only.
    const squatter = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => squatter.listen({ port: blocked, host: "127.0.0.3", exclusive: true }, resolve));
    try {
      const [a, b, c] = await Promise.all([
        startReplica(etcd, { name: "a", prefix, token, listenHost: "127.0.0.2", workers: 0 }),
        startReplica(etcd, { name: "b", prefix, token, listenHost: "127.0.0.2", workers: 1 }),
        startReplica(etcd, { name: "c", prefix, token, listenHost: "127.0.0.3", workers: 0 }),
      ]);
      replicas.push(a!, b!, c!);
      await create(a!, "server-groups", { name: "pool", type: "virtual", servers: [{ address: "127.0.0.1", port: origin.port }] });
      await create(a!, "backend-services", { name: "web", protocol: "http", port: 80, serverGroup: "pool" });
      await create(a!, "listeners", { name: "one", protocol: "http", port: shared, backendService: "web" });
      const revision = await create(a!, "listeners", { name: "two", protocol: "http", port: blocked, backendService: "web" });

      for (const dp of [a!, b!]) {
        const replica = (await getAt(dp, "/v1/replica", revision)).body;
        expect(replica.unboundListeners).toEqual([]);
      }
      expect(await through("127.0.0.2", shared!)).toBe("shared");
      expect(await through("127.0.0.2", blocked!)).toBe("shared");

      const onC = (await getAt(c!, "/v1/replica", revision)).body;
      expect(onC.unboundListeners).toEqual(["two"]);
      const metrics = await (await fetch(`${c!.url}/metrics`)).text();
      expect(metrics).toMatch(/^ballast_listener_bound\{listener="two"\} 0$/m);
      expect(metrics).toMatch(/^ballast_listener_bound\{listener="one"\} 1$/m);
      expect(c!.output()).toContain("cannot bind a listener's port; serving the others and retrying");
      expect(await through("127.0.0.3", shared!)).toBe("shared");

      // a stops: b alone still serves the shared port.
      await a!.stop();
      for (let i = 0; i < 5; i++) expect(await through("127.0.0.2", shared!)).toBe("shared");

      await new Promise<void>((resolve) => squatter.close(() => resolve()));
      await eventually(async () => (await (await c!.api("/v1/replica")).json()).unboundListeners.length === 0, "c to bind the freed port");
      expect(await through("127.0.0.3", blocked!)).toBe("shared");
      expect(await (await fetch(`${c!.url}/metrics`)).text()).toMatch(/^ballast_listener_bound\{listener="two"\} 1$/m);
    } finally {
      if (squatter.listening) await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });
});
