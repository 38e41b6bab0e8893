// `node bench/replicas.mjs`: the etcd store's measured cells (docs/replicas.md), apart from the main
// run because it needs an etcd server (scripts/ensure-etcd.sh) rather than the peers. Never a timed
// test: nothing here asserts a speed.
//
//   node bench/replicas.mjs [--changes 200] [--writes 200] [--port-base 28600] [--no-build]
//
// - Propagation: three replicas (each its own loopback address, 0 workers) on a three-member etcd
//   cluster; each change flips the server group between two origins through replica A; from A's
//   acknowledgement to the first request through B's and through C's listener that reaches the
//   new origin (requests back to back, a fresh pick each). p50/p99 over `--changes` changes.
// - Admin writes per second through one replica, sequential PUTs: file store vs etcd store.
// Prints a Markdown table (copy it into docs/benchmarks.md, "The etcd store").
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { REPO_DIR } from "./lib/install.mjs";
import { run as runCmd, stopChild, waitPort } from "./lib/proc.mjs";

const { values: opt } = parseArgs({
  options: {
    changes: { type: "string", default: "200" },
    writes: { type: "string", default: "200" },
    "port-base": { type: "string", default: "28600" },
    "no-build": { type: "boolean", default: false },
  },
});
const base = Number(opt["port-base"]);
const log = (msg) => process.stderr.write(`bench replicas: ${msg}\n`);
const ETCD = process.env.BALLAST_ETCD_BIN ?? "/usr/bin/etcd";
const children = [];
const tmp = mkdtempSync(path.join(os.tmpdir(), "ballast-bench-replicas-"));

function spawnTracked(cmd, args, env) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d) => (out = (out + d).slice(-20_000)));
  child.stderr.setEncoding("utf8").on("data", (d) => (out = (out + d).slice(-20_000)));
  child.output = () => out;
  child.exited = new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
  children.push(child);
  return child;
}

async function startEtcd() {
  const members = [0, 1, 2].map((i) => ({ name: `m${i}`, client: base + 20 + i * 2, peer: base + 21 + i * 2 }));
  const cluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(",");
  for (const m of members) {
    spawnTracked(ETCD, [
      "--name", m.name, "--data-dir", path.join(tmp, m.name),
      "--listen-client-urls", `http://127.0.0.1:${m.client}`, "--advertise-client-urls", `http://127.0.0.1:${m.client}`,
      "--listen-peer-urls", `http://127.0.0.1:${m.peer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${m.peer}`,
      "--initial-cluster", cluster, "--initial-cluster-state", "new", "--log-level", "warn",
    ]);
  }
  const endpoints = members.map((m) => `http://127.0.0.1:${m.client}`);
  for (let i = 0; i < 300; i++) {
    const res = await fetch(`${endpoints[0]}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: "eA==" }) }).catch(() => undefined);
    if (res?.ok) return endpoints.join(",");
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("etcd did not start");
}

async function startReplica({ name, adminPort, listenHost, store }) {
  const token = randomBytes(16).toString("hex");
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("BALLAST_")) delete env[k];
  Object.assign(env, {
    BALLAST_ADMIN_ADDR: `127.0.0.1:${adminPort}`, BALLAST_ADMIN_TOKEN: token, BALLAST_STATE_DIR: path.join(tmp, name),
    BALLAST_LOG_LEVEL: "warn", BALLAST_LISTEN_HOST: listenHost, BALLAST_WORKERS: "0", BALLAST_REPLICA_NAME: name, ...store,
  });
  const child = spawnTracked(process.execPath, [path.join(REPO_DIR, "build", "image", "main.js")], env);
  await waitPort(adminPort, { child });
  const api = async (method, p, body) => {
    const res = await fetch(`http://127.0.0.1:${adminPort}${p}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body && JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${name} ${method} ${p}: ${res.status} ${text}`);
    return { revision: Number(res.headers.get("ballast-revision")), body: text };
  };
  return { child, api };
}

function startOrigins(ports) {
  return Promise.all(
    ports.map(
      (port, i) =>
        new Promise((resolve) => {
          const srv = http.createServer((req, res) => res.writeHead(200, { "x-origin": `o${i}`, "content-length": 0 }).end());
          srv.listen(port, "127.0.0.1", () => resolve(srv));
        }),
    ),
  );
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function originThrough(host, port) {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: "/", agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.headers["x-origin"]));
    });
    req.on("error", () => resolve(undefined));
  });
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};
const ms = (x) => `${x.toFixed(1)} ms`;

async function main() {
  if (!opt["no-build"]) {
    log("building (tsc, bundle)");
    await runCmd("npm", ["run", "build"]);
    await runCmd("npm", ["run", "bundle"]);
  }
  const endpoints = await startEtcd();
  const originPorts = [base, base + 1];
  const origins = await startOrigins(originPorts);
  const listenPort = base + 5;
  const etcdStore = { BALLAST_STORE: "etcd", BALLAST_ETCD_ENDPOINTS: endpoints, BALLAST_ETCD_PREFIX: "/bench/propagation" };
  const [a, b, c] = await Promise.all(
    ["a", "b", "c"].map((name, i) => startReplica({ name, adminPort: base + 10 + i, listenHost: `127.0.0.${i + 2}`, store: etcdStore })),
  );
  const group = (i) => ({ type: "virtual", servers: [{ address: "127.0.0.1", port: originPorts[i] }] });
  await a.api("POST", "/v1/server-groups", { name: "flip", ...group(0) });
  await a.api("POST", "/v1/backend-services", { name: "web", protocol: "http", port: 80, serverGroup: "flip" });
  await a.api("POST", "/v1/listeners", { name: "front", protocol: "http", port: listenPort, backendService: "web" });
  for (const host of ["127.0.0.3", "127.0.0.4"]) {
    for (let n = 0; n < 1000 && (await originThrough(host, listenPort)) !== "o0"; n++) await new Promise((r) => setTimeout(r, 20));
  }

  const changes = Number(opt.changes);
  const samples = [];
  log(`propagation: ${changes} changes`);
  for (let i = 1; i <= changes; i++) {
    const want = `o${i % 2}`;
    await a.api("PUT", "/v1/server-groups/flip", group(i % 2));
    const acked = performance.now();
    let worst = 0;
    for (const host of ["127.0.0.3", "127.0.0.4"]) {
      for (let n = 0; n < 100_000; n++) {
        if ((await originThrough(host, listenPort)) === want) break;
      }
      worst = Math.max(worst, performance.now() - acked);
    }
    samples.push(worst);
  }

  const writes = Number(opt.writes);
  const rate = async (replica, label) => {
    await replica.api("POST", "/v1/server-groups", { name: "rate", ...group(0) });
    const start = performance.now();
    for (let i = 0; i < writes; i++) await replica.api("PUT", "/v1/server-groups/rate", { type: "virtual", servers: [{ address: "127.0.0.1", port: 1000 + (i % 2) }] });
    const perSecond = (writes / (performance.now() - start)) * 1000;
    log(`${label}: ${perSecond.toFixed(0)} writes/s`);
    return perSecond;
  };
  const etcdRate = await rate(a, "etcd store");
  const file = await startReplica({ name: "file", adminPort: base + 14, listenHost: "127.0.0.5", store: {} });
  const fileRate = await rate(file, "file store");

  process.stdout.write(
    [
      `Run of ${new Date().toISOString()}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}.`,
      "",
      "| cell | value |",
      "|---|---:|",
      `| propagation, ack on A → traffic shifted on B and C, p50 (${changes} changes) | ${ms(quantile(samples, 0.5))} |`,
      `| propagation p99 | ${ms(quantile(samples, 0.99))} |`,
      `| propagation worst | ${ms(Math.max(...samples))} |`,
      `| admin writes/s through one replica, etcd store (3 members) | ${etcdRate.toFixed(0)} |`,
      `| admin writes/s, file store | ${fileRate.toFixed(0)} |`,
      "",
    ].join("\n"),
  );
  await Promise.all(origins.map((s) => new Promise((r) => (s.closeAllConnections(), s.close(() => r())))));
}

async function cleanup() {
  agent.destroy();
  for (const child of children.reverse()) await stopChild(child, { timeoutMs: 5_000 });
  rmSync(tmp, { recursive: true, force: true });
}

main().then(cleanup, async (err) => {
  log(`failed: ${err.stack ?? err.message}`);
  await cleanup();
  process.exit(1);
});
