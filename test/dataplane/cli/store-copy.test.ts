import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeCopyCommand } from "../../../dataplane/cli/store-copy";
import { STATE_FILE_NAME, encodeState, readStateFile } from "../../../dataplane/store/state-file";
import { makeTempDir, startDataplane } from "../../helpers/dataplane-process";
import { startEtcdCluster, type EtcdCluster } from "../../helpers/etcd-cluster";
import { freePorts } from "../../helpers/ports";
import { json, newPrefix, startReplica } from "../../helpers/replicas";
import { body } from "../../model/fixtures";

/** `ballast store-copy`: a file-store configuration of every kind into an empty etcd prefix and back, unchanged. */

const STORE_COPY_JS = resolve(__dirname, "../../../dist/dataplane/cli/store-copy.js");
const KINDS = ["listeners", "backend-services", "server-groups", "health-checks"];

let etcd: EtcdCluster;
const dirs: string[] = [];

beforeAll(async () => {
  etcd = await startEtcdCluster(1);
});

afterAll(async () => {
  await etcd?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function everything(api: (path: string, init?: RequestInit) => Promise<Response>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const kind of KINDS) out[kind] = (await (await api(`/v1/${kind}`)).json()).items;
  return out;
}

describe("store-copy", () => {
  it("round-trips a configuration of every kind of object: file store → empty etcd prefix → file, unchanged; a non-empty target is refused", async () => {
    const source = makeTempDir("ballast-copy-src-");
    const backup = makeTempDir("ballast-copy-backup-");
    dirs.push(source, backup);
    const [http, https, tcp, tlsPort] = await freePorts(4);
    const file = await startDataplane({ stateDir: source });
    let original: Record<string, unknown>;
    try {
      const posts: [string, Record<string, unknown>][] = [
        ["server-groups", body("virtualGroup")],
        ["server-groups", body("availabilityGroup")],
        ["backend-services", body("httpService", { serverGroup: "pool" })],
        ["backend-services", body("tcpService")],
        ["health-checks", body("httpCheck")],
        ["health-checks", body("tcpCheck")],
        ["listeners", body("httpListener", { port: http })],
        ["listeners", body("httpsListener", { port: https })],
        ["listeners", body("tcpListener", { port: tcp })],
        ["listeners", body("tlsListener", { port: tlsPort })],
      ];
      for (const [kind, value] of posts) {
        const res = await file.api(`/v1/${kind}`, json("POST", value));
        expect(res.status, await res.text()).toBe(201);
      }
      // A second version of one object: versions survive the copy.
      const put = await file.api("/v1/server-groups/pool", json("PUT", { type: "virtual", servers: [{ address: "10.0.0.9" }] }));
      expect(put.status).toBe(200);
      original = await everything(file.api);
    } finally {
      await file.stop();
    }
    for (const kind of KINDS) expect((original[kind] as unknown[]).length).toBeGreaterThan(0);

    const prefix = newPrefix();
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l), env: {} };
    expect(await storeCopyCommand(["--from-file", source, "--to-etcd", etcd.endpoints, "--prefix", prefix], io)).toBe(0);
    expect(lines.join("\n")).toMatch(/copied 10 objects/);

    // A replica on that prefix serves exactly what the file store served.
    const replica = await startReplica(etcd, { name: "copy", prefix, token: "copy-test-token-0123456789" });
    try {
      expect(await everything(replica.api)).toEqual(original);
    } finally {
      await replica.stop();
    }

    // The prefix is no longer empty: a second copy is refused, through the compiled command too.
    const again = spawnSync(process.execPath, [STORE_COPY_JS, "--from-file", source, "--to-etcd", etcd.endpoints, "--prefix", prefix], { encoding: "utf8", timeout: 30_000 });
    expect(again.status, again.stderr).toBe(1);
    expect(again.stderr).toContain(`refused: prefix ${prefix} on ${etcd.endpoints} is not empty`);

    // The backup: etcd → file, identical to the source state file (objects and versions).
    expect(await storeCopyCommand(["--from-etcd", etcd.endpoints, "--prefix", prefix, "--to-file", backup], io)).toBe(0);
    const a = (await readStateFile(join(source, STATE_FILE_NAME)))!;
    const b = (await readStateFile(join(backup, STATE_FILE_NAME)))!;
    expect(encodeState({ ...b, generation: 0 })).toBe(encodeState({ ...a, generation: 0 }));
    // And a backup over an existing state file is refused.
    expect(await storeCopyCommand(["--from-etcd", etcd.endpoints, "--prefix", prefix, "--to-file", backup], io)).toBe(1);
  });

  it("answers usage errors with exit code 2 and the usage", async () => {
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l), env: {} };
    expect(await storeCopyCommand(["--from-file", "/tmp/x"], io)).toBe(2);
    expect(lines.join("\n")).toContain("usage:");
    expect(await storeCopyCommand(["--from-file", "/tmp/x", "--to-etcd", "localhost:2379"], io)).toBe(2);
    expect(lines.join("\n")).toContain("'localhost:2379' is not an http:// or https:// URL");
  });
});
