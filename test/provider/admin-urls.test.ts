import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../provider/admin-client";
import { checkInputs } from "../../provider/check";
import { diffProps } from "../../provider/diff";
import { BallastResourceProvider } from "../../provider/resource-provider";
import { startEtcdCluster, type EtcdCluster } from "../helpers/etcd-cluster";
import { freePort } from "../helpers/ports";
import { newPrefix, newToken, startReplica } from "../helpers/replicas";

/**
 * `adminUrls`: the provider writes through the first replica that answers and reads with
 * Ballast-Min-Revision, against real replicas on a real etcd.
 */

const fast = { initialDelayMs: 20, maxDelayMs: 100, budgetMs: 3_000 };
let etcd: EtcdCluster;

beforeAll(async () => {
  etcd = await startEtcdCluster(1);
});

afterAll(async () => {
  await etcd?.stop();
});

describe("provider: adminUrls", () => {
  it("writes through the first replica that answers and reads the same object through another; a replica down changes nothing", async () => {
    const token = newToken();
    const prefix = newPrefix();
    const [a, b] = await Promise.all([startReplica(etcd, { name: "a", prefix, token }), startReplica(etcd, { name: "b", prefix, token })]);
    const dead = `http://127.0.0.1:${await freePort()}`;
    const provider = new BallastResourceProvider("server-groups", { backoff: fast });
    try {
      const inputs = { name: "pool", type: "virtual", servers: [{ address: "10.0.0.1" }], adminUrl: dead, adminToken: token, adminUrls: [dead, a.url, b.url] };
      const checked = await provider.check({}, inputs);
      expect(checked.failures ?? []).toEqual([]);
      const created = await provider.create(checked.inputs);
      expect(created.outs.adminUrls).toEqual([dead, a.url, b.url]);

      // refresh through B first: no change.
      const read = await provider.read("pool", { ...created.outs, adminUrl: b.url, adminUrls: [b.url, a.url] });
      expect(read.props).toEqual({ ...created.outs, adminUrl: b.url, adminUrls: [b.url, a.url] });
      expect(diffProps("server-groups", read.props as Record<string, unknown>, { ...checked.inputs, adminUrl: b.url, adminUrls: [b.url, a.url] }).replaces ?? []).toEqual([]);

      // A stops: an update goes through B.
      await a.stop();
      const updated = await provider.update("pool", created.outs, { ...checked.inputs, servers: [{ address: "10.0.0.2" }] });
      expect(updated.outs).toMatchObject({ version: 2, servers: [{ address: "10.0.0.2" }] });
      const live = await (await b.api("/v1/server-groups/pool")).json();
      expect(live.version).toBe(2);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it("reads after a write carry Ballast-Min-Revision with the write's revision, only with several URLs", async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server: Server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      const object = JSON.stringify({ name: "pool", type: "virtual", servers: [{ address: "10.0.0.1", weight: 100 }], version: 1 });
      res.writeHead(req.method === "POST" ? 201 : 200, { "content-type": "application/json", "ballast-revision": "77" }).end(object);
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const other = `http://127.0.0.1:${await freePort()}`;
    try {
      const single = new AdminClient({ adminUrl: url, adminToken: "0123456789abcdef", backoff: fast });
      await single.create("server-groups", { name: "pool", type: "virtual", servers: [{ address: "10.0.0.1" }] });
      await single.get("server-groups", "pool");
      await single.close();
      expect(seen.map((h) => h["ballast-min-revision"])).toEqual([undefined, undefined]);

      const replicas = new AdminClient({ adminUrl: url, adminToken: "0123456789abcdef", adminUrls: [url, other], backoff: fast });
      await replicas.get("server-groups", "pool");
      await replicas.create("server-groups", { name: "pool", type: "virtual", servers: [{ address: "10.0.0.1" }] });
      await replicas.get("server-groups", "pool");
      await replicas.close();
      expect(seen.slice(2).map((h) => h["ballast-min-revision"])).toEqual([undefined, undefined, "77"]);
    } finally {
      await new Promise<void>((done) => (server.closeAllConnections(), server.close(() => done())));
    }
  });

  it("check names each adminUrls entry that is not an URL", async () => {
    const result = checkInputs("server-groups", {}, {
      name: "pool", type: "virtual", servers: [{ address: "10.0.0.1" }],
      adminUrl: "http://127.0.0.1:9180", adminToken: "0123456789abcdef", adminUrls: ["http://127.0.0.1:9180", "nope"],
    });
    expect(result.failures).toEqual([{ property: "adminUrls[1]", reason: "must be an http:// or https:// URL of a replica's admin API" }]);
  });
});
