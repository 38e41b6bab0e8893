import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDataplaneToExit } from "../../helpers/dataplane-process";
import { startEtcdCluster, type EtcdCluster } from "../../helpers/etcd-cluster";
import { create, getAt, newPrefix, newToken, startReplica } from "../../helpers/replicas";

/** BALLAST_ETCD_USERNAME / _PASSWORD against a real etcd with authentication enabled. */

let etcd: EtcdCluster;
const prefix = newPrefix();
const b64 = (s: string) => Buffer.from(s).toString("base64");

async function gateway(path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${etcd.members[0]!.clientUrl}${path}`, {
    method: "POST",
    headers: token ? { authorization: token } : {},
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

beforeAll(async () => {
  etcd = await startEtcdCluster(1);
  await gateway("/v3/auth/role/add", { name: "root" });
  await gateway("/v3/auth/user/add", { name: "root", password: "root-password" });
  await gateway("/v3/auth/user/grant", { user: "root", role: "root" });
  await gateway("/v3/auth/role/add", { name: "ballast" });
  await gateway("/v3/auth/role/grant", { name: "ballast", perm: { permType: "READWRITE", key: b64(`${prefix}/`), range_end: b64(`${prefix}0`) } });
  await gateway("/v3/auth/user/add", { name: "ballast", password: "ballast-password" });
  await gateway("/v3/auth/user/grant", { user: "ballast", role: "ballast" });
  await gateway("/v3/auth/enable", {});
});

afterAll(async () => {
  await etcd?.stop();
});

describe("etcd store: authentication", () => {
  it("a replica with the etcd user's password writes and reads its prefix", async () => {
    const token = newToken();
    const env = { BALLAST_ETCD_USERNAME: "ballast", BALLAST_ETCD_PASSWORD: "ballast-password" };
    const [a, b] = await Promise.all([startReplica(etcd, { name: "a", prefix, token, env }), startReplica(etcd, { name: "b", prefix, token, env })]);
    try {
      const revision = await create(a, "server-groups", { name: "pool", type: "virtual", servers: [{ address: "10.0.0.1", port: 80 }] });
      const onB = await getAt(b, "/v1/server-groups/pool", revision);
      expect(onB.status).toBe(200);
      expect(onB.body.name).toBe("pool");
      // Without credentials, etcd refuses the same read.
      const denied = await fetch(`${etcd.members[0]!.clientUrl}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: b64(`${prefix}/`), range_end: b64(`${prefix}0`) }) });
      expect(denied.ok).toBe(false);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it("a wrong password stops the start with a fatal line naming the user, and no password in it", async () => {
    const result = await runDataplaneToExit({
      env: {
        BALLAST_STORE: "etcd",
        BALLAST_ETCD_ENDPOINTS: etcd.endpoints,
        BALLAST_ETCD_PREFIX: prefix,
        BALLAST_ETCD_USERNAME: "ballast",
        BALLAST_ETCD_PASSWORD: "not-the-password",
      },
    });
    expect(result.code).toBe(1);
    const fatal = result.output.split("\n").find((l) => l.includes('"level":60'));
    expect(fatal).toContain("etcd refused user 'ballast'");
    expect(result.output).not.toContain("not-the-password");
  });
});
