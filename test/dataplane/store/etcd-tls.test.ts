import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../../helpers/dataplane-process";
import { startEtcdCluster, type EtcdCluster, type EtcdTls } from "../../helpers/etcd-cluster";
import { create, eventually, getAt, json, newPrefix, newToken, startReplica } from "../../helpers/replicas";

/** BALLAST_ETCD_CA / _CERT / _KEY against a real etcd that serves https and requires client certificates. */

let etcd: EtcdCluster;
let tls: EtcdTls;
let dir: string;

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
function makeCertificates(at: string): EtcdTls {
  const f = (name: string) => join(at, name);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe", timeout: 20_000 });
  ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=ballast-test-ca", "-keyout", f("ca-key.pem"), "-out", f("ca.pem"));
  writeFileSync(f("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
  writeFileSync(f("client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const [name, subject, ext] of [["server", "/CN=127.0.0.1", "server.ext"], ["client", "/CN=ballast", "client.ext"]] as const) {
    ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", subject, "-keyout", f(`${name}-key.pem`), "-out", f(`${name}.csr`));
    ssl("x509", "-req", "-in", f(`${name}.csr`), "-CA", f("ca.pem"), "-CAkey", f("ca-key.pem"), "-CAcreateserial", "-days", "1", "-extfile", f(ext), "-out", f(`${name}.pem`));
  }
  return { caFile: f("ca.pem"), certFile: f("server.pem"), keyFile: f("server-key.pem"), clientCertFile: f("client.pem"), clientKeyFile: f("client-key.pem") };
}

beforeAll(async () => {
  dir = makeTempDir("ballast-etcd-tls-");
  tls = makeCertificates(dir);
  etcd = await startEtcdCluster(1, { tls });
});

afterAll(async () => {
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("etcd store: TLS", () => {
  it("replicas with the CA and a client certificate share a configuration over https", async () => {
    const token = newToken();
    const prefix = newPrefix();
    const env = { BALLAST_ETCD_CA: tls.caFile, BALLAST_ETCD_CERT: tls.clientCertFile, BALLAST_ETCD_KEY: tls.clientKeyFile };
    const [a, b] = await Promise.all([startReplica(etcd, { name: "a", prefix, token, env }), startReplica(etcd, { name: "b", prefix, token, env })]);
    try {
      expect(etcd.endpoints).toMatch(/^https:\/\//);
      const revision = await create(a, "server-groups", { name: "pool", type: "virtual", servers: [{ address: "10.0.0.1", port: 80 }] });
      const onB = await getAt(b, "/v1/server-groups/pool", revision);
      expect(onB.status).toBe(200);
      expect((await (await b.api("/v1/replica")).json()).state.status).toBe("connected");
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it("a replica without a client certificate cannot reach etcd: it says so, and writes answer 503 store_unavailable", async () => {
    const dp = await startReplica(etcd, { name: "nocert", prefix: newPrefix(), token: newToken(), env: { BALLAST_ETCD_CA: tls.caFile } });
    try {
      await eventually(async () => (await (await dp.api("/v1/replica")).json()).state.status === "unreachable", "the replica to report etcd unreachable");
      const res = await dp.api("/v1/server-groups", json("POST", { name: "pool", type: "virtual", servers: [{ address: "10.0.0.1" }] }));
      expect(res.status).toBe(503);
      const body = await res.json();
      expect(body.error.code).toBe("store_unavailable");
      expect(body.error.message).toContain(etcd.endpoints);
    } finally {
      await dp.stop();
    }
  });
});
