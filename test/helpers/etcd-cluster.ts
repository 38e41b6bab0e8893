import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "./ports";

/**
 * A real etcd cluster of `size` members on 127.0.0.1 for the replica tests: ports from
 * test/helpers/ports.ts, data dirs in one temp dir, every member stopped by its PID. The binary is
 * `BALLAST_ETCD_BIN` or /usr/bin/etcd (scripts/ensure-etcd.sh installs it); without it the helper
 * throws, so a test that needs etcd fails rather than skips.
 *
 *   const etcd = await startEtcdCluster(3);
 *   etcd.endpoints;            // "http://127.0.0.1:p1,http://127.0.0.1:p2,..."
 *   etcd.kill(0);              // kill -9 of member 0
 *   await etcd.restart(0);     // same data dir, same ports
 *   await etcd.stop();         // every member, then the temp dir
 */

export const ETCD_BIN = process.env.BALLAST_ETCD_BIN ?? "/usr/bin/etcd";

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  process: ChildProcess | undefined;
  output: string;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** Every member's client URL, comma-separated (`BALLAST_ETCD_ENDPOINTS`). */
  endpoints: string;
  /** SIGKILL of member `i`; resolves once it exited. */
  kill(i: number): Promise<void>;
  /** Starts member `i` again with its data dir. */
  restart(i: number): Promise<void>;
  /** Resolves once a linearizable read answers through member `i` (the cluster has a leader). */
  ready(i?: number): Promise<void>;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;

/** PEM files for client TLS: etcd serves https with `cert`/`key` and requires a client certificate signed by `ca`. */
export interface EtcdTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A client certificate and key signed by the CA, for the helper's own readiness reads. */
  clientCertFile: string;
  clientKeyFile: string;
}

function tlsArgs(tls: EtcdTls | undefined): string[] {
  return tls ? ["--cert-file", tls.certFile, "--key-file", tls.keyFile, "--trusted-ca-file", tls.caFile, "--client-cert-auth"] : [];
}

/** POST over https with the client certificate; resolves with the status. */
function postTls(url: string, body: string, tls: EtcdTls): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method: "POST",
      ca: readFileSync(tls.caFile),
      cert: readFileSync(tls.clientCertFile),
      key: readFileSync(tls.clientKeyFile),
      timeout: 2_000,
    }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body);
  });
}

function spawnMember(member: EtcdMember, cluster: string, state: "new" | "existing", tls?: EtcdTls): void {
  const child = spawn(
    ETCD_BIN,
    [
      "--name", member.name,
      "--data-dir", member.dataDir,
      "--listen-client-urls", member.clientUrl,
      "--advertise-client-urls", member.clientUrl,
      "--listen-peer-urls", member.peerUrl,
      "--initial-advertise-peer-urls", member.peerUrl,
      "--initial-cluster", cluster,
      "--initial-cluster-token", `ballast-test-${process.pid}`,
      "--initial-cluster-state", state,
      // Loopback: elections in a few hundred ms, as the tests wait for them.
      "--heartbeat-interval", "50",
      "--election-timeout", "500",
      "--log-level", "warn",
      ...tlsArgs(tls),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  member.process = child;
  member.output = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (member.output = (member.output + d).slice(-20_000)));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (member.output = (member.output + d).slice(-20_000)));
}

async function waitExit(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => child.once("exit", () => resolve()));
}

export async function startEtcdCluster(size = 3, options: { tls?: EtcdTls } = {}): Promise<EtcdCluster> {
  const { tls } = options;
  if (!existsSync(ETCD_BIN)) throw new Error(`no etcd server at ${ETCD_BIN}: run scripts/ensure-etcd.sh (Debian's etcd-server)`);
  const dir = mkdtempSync(join(tmpdir(), "ballast-etcd-"));
  const ports = await freePorts(size * 2);
  const members: EtcdMember[] = Array.from({ length: size }, (_, i) => ({
    name: `m${i}`,
    clientUrl: `${tls ? "https" : "http"}://127.0.0.1:${ports[i * 2]}`,
    peerUrl: `http://127.0.0.1:${ports[i * 2 + 1]}`,
    dataDir: join(dir, `m${i}`),
    process: undefined,
    output: "",
  }));
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
  for (const m of members) spawnMember(m, initialCluster, "new", tls);

  const ready = async (i = 0) => {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let last = "";
    for (let attempt = 0; attempt < 600 && Date.now() < deadline; attempt++) {
      try {
        const url = `${members[i]!.clientUrl}/v3/kv/range`;
        const body = JSON.stringify({ key: Buffer.from("ready").toString("base64") });
        const res = tls
          ? await postTls(url, body, tls)
          : await fetch(url, { method: "POST", body, signal: AbortSignal.timeout(2_000) }).then(async (r) => ({ status: r.status, text: await r.text() }));
        if (res.status === 200) return;
        last = `HTTP ${res.status} ${res.text}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd member ${members[i]!.name} not ready: ${last}\n${members[i]!.output}`);
  };

  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl).join(","),
    async kill(i) {
      const m = members[i]!;
      m.process?.kill("SIGKILL");
      await waitExit(m.process);
    },
    async restart(i) {
      const m = members[i]!;
      await waitExit(m.process);
      spawnMember(m, initialCluster, "existing", tls);
    },
    ready,
    async stop() {
      for (const m of members) m.process?.kill("SIGKILL");
      await Promise.all(members.map((m) => waitExit(m.process)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(members.map((_, i) => ready(i)));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
