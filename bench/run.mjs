// `npm run bench`: Ballast's data plane against HAProxy, nginx and the Node proxies, side by side,
// on this machine, in one run. Never a timed test: nothing here asserts a speed.
//
//   node bench/run.mjs [--seconds 10] [--warmup 2] [--rounds 1] [--only ballast,haproxy]
//                      [--scenarios http64-c64,...] [--idle-clients 10000] [--no-build]
//                      [--proxy-cpu 1] [--load-cpu 0] [--port-base 28000]
//                      [--out docs/benchmarks.md] [--json file] [--smoke] [--dist-b other/dist [--label-b text] [--http-engine-b wasm]]
//                      [--from-json bench/.results/<run>.json]   (render a saved run again, no measuring)
//
// Installs what it needs when missing (Debian's wrk, nginx, haproxy; the Node peers in bench/.peers),
// starts one nginx origin, pins the proxy under test to one CPU and the load generator and origin to
// the other, and writes the tables between the markers of docs/benchmarks.md (see bench/README.md).
// --smoke: a few seconds with only Node pieces (Node origin and load generator, no installs), for CI.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startBallast } from "./lib/ballast.mjs";
import { ensureDebian, ensurePeers, REPO_DIR, versions } from "./lib/install.mjs";
import { afterLoad, loadRun, loadRunPerProcess, rssWithIdleClients, stickyCookie, trafficShift } from "./lib/measure.mjs";
import { startNginxOrigin, startNodeOrigin } from "./lib/origin.mjs";
import { startFastifyProxy, startHaproxy, startNetPipe, startNginx, startNodeHttpProxy, startUndiciProxy, startRawProxy } from "./lib/peers.mjs";
import { assertPortsFree, pinSelf, processTree, rss, run as runCmd, sleep } from "./lib/proc.mjs";
import { renderReport, writeBetweenMarkers } from "./lib/report.mjs";

const { values: opt } = parseArgs({
  options: {
    seconds: { type: "string" },
    warmup: { type: "string" },
    rounds: { type: "string", default: "1" },
    only: { type: "string" },
    scenarios: { type: "string" },
    "idle-clients": { type: "string" },
    "no-build": { type: "boolean", default: false },
    "proxy-cpu": { type: "string", default: "1" },
    "load-cpu": { type: "string", default: "0" },
    "port-base": { type: "string", default: "28000" },
    out: { type: "string" },
    json: { type: "string" },
    smoke: { type: "boolean", default: false },
    "dist-b": { type: "string" },
    "http-engine-b": { type: "string" },
    "label-b": { type: "string" },
    "from-json": { type: "string" },
  },
});

const smoke = opt.smoke;
const seconds = Number(opt.seconds ?? (smoke ? 0.5 : 10));
const warmup = Number(opt.warmup ?? (smoke ? 0 : 2));
const rounds = Number(opt.rounds);
const idleClients = Number(opt["idle-clients"] ?? (smoke ? 100 : 10_000));
const cpus = { proxy: opt["proxy-cpu"], load: opt["load-cpu"] };
const base = Number(opt["port-base"]);
const out = opt.out ?? (smoke ? undefined : path.join(REPO_DIR, "docs", "benchmarks.md"));
const log = (msg) => process.stderr.write(`bench: ${msg}\n`);

/** Origin ports: 100 for the 100-server group (the first is "the" server), 2 Node ones for the shift. */
const origin = { http: Array.from({ length: 100 }, (_, i) => base + i), shift: [base + 100, base + 101] };

const SCENARIOS = [
  { id: "http64-c64", title: "HTTP keep-alive, 64 B responses, 64 connections", port: "http", path: "/64", connections: 64 },
  { id: "http64-c16", title: "HTTP keep-alive, 64 B responses, 16 connections", port: "http", path: "/64", connections: 16 },
  { id: "http16k-c64", title: "HTTP keep-alive, 16 KiB responses, 64 connections", port: "http", path: "/16k", connections: 64 },
  { id: "cookie-c64", title: "HTTP with cookie persistence (clients send the cookie back), 64 B, 64 connections", port: "cookie", path: "/64", connections: 64, cookie: true },
  { id: "g100-c64", title: "HTTP, a group of 100 servers (round robin), 64 B, 64 connections", port: "g100", path: "/64", connections: 64 },
  { id: "tcp-http-c64", title: "TCP pass-through carrying HTTP keep-alive, 64 B, 64 connections", port: "tcp", path: "/64", connections: 64 },
  { id: "tcp-bulk-c8", title: "TCP pass-through bulk: 1 MiB responses, 8 connections (MiB/s)", port: "tcp", path: "/1m", connections: 8, unit: "MBps" },
];
const HTTP_SCENARIOS = SCENARIOS.filter((s) => s.port !== "tcp").map((s) => s.id);
const TCP_SCENARIOS = SCENARIOS.filter((s) => s.port === "tcp").map((s) => s.id);

/** Every peer: how to start it, which scenarios it can run, whether it is part of the smoke. */
const PEERS = [
  { id: "direct", label: "direct to origin (the limit)", scenarios: SCENARIOS.filter((s) => !s.cookie).map((s) => s.id), smoke: true },
  { id: "haproxy", label: "HAProxy (1 thread, http-reuse always)", start: startHaproxy, scenarios: [...HTTP_SCENARIOS, ...TCP_SCENARIOS], memory: true, shift: true },
  { id: "nginx", label: "nginx (1 worker, upstream keepalive)", start: startNginx, scenarios: [...HTTP_SCENARIOS.filter((s) => s !== "cookie-c64"), ...TCP_SCENARIOS], memory: true },
  // The default a user gets on the one core it is pinned to (BALLAST_WORKERS unset: one process).
  // Access log off in every Ballast cell but "ballast-log": HAProxy and nginx log nothing either.
  { id: "ballast", label: "Ballast (default: one process on one core)", start: (o) => startBallast({ ...o, accessLog: false }), scenarios: [...HTTP_SCENARIOS, ...TCP_SCENARIOS], memory: true, shift: true, smoke: true },
  { id: "ballast-log", label: "Ballast, access log on (stdout to a pipe)", start: (o) => startBallast({ ...o, kinds: ["http"], accessLog: true, loadCpus: cpus.load }), scenarios: ["http64-c64", "http64-c16"], smoke: true },
  { id: "haproxy-log", label: "HAProxy, access log on (option httplog, stdout to a pipe)", start: (o) => startHaproxy({ ...o, log: true, loadCpus: cpus.load }), scenarios: ["http64-c64"] },
  { id: "ballast-w1", label: "Ballast (BALLAST_WORKERS=1: worker + primary)", start: (o) => startBallast({ ...o, workers: 1, kinds: ["http"], accessLog: false }), scenarios: ["http64-c64"], memory: true },
  ...(opt["dist-b"]
    ? [{ id: "ballast-b", label: `Ballast B: ${opt["label-b"] ?? opt["dist-b"]} (default)`, start: (o) => startBallast({ ...o, dist: path.resolve(opt["dist-b"]), httpEngine: opt["http-engine-b"], kinds: ["http", "cookie", "g100", "tcp"], accessLog: false }), scenarios: [...HTTP_SCENARIOS, ...TCP_SCENARIOS], memory: true }]
    : []),
  { id: "undici", label: "node:http + undici Pool (minimal reference)", start: startUndiciProxy, scenarios: ["http64-c64", "http64-c16", "http16k-c64"], memory: true, smoke: true },
  { id: "raw", label: "net sockets, hand-written HTTP/1.1 (minimal reference)", start: startRawProxy, scenarios: ["http64-c64", "http64-c16", "http16k-c64"], memory: true, smoke: true },
  { id: "nhp", label: "node-http-proxy", start: startNodeHttpProxy, scenarios: ["http64-c64", "http64-c16", "http16k-c64"], memory: true },
  { id: "fastify", label: "@fastify/http-proxy", start: startFastifyProxy, scenarios: ["http64-c64", "http64-c16", "http16k-c64"], memory: true },
  { id: "netpipe", label: "Node net pipe", start: startNetPipe, scenarios: TCP_SCENARIOS, smoke: true },
];

const cleanups = [];
async function cleanup() {
  while (cleanups.length) await cleanups.pop()().catch((err) => log(`cleanup: ${err.message}`));
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => {
    log(`${sig}: stopping everything started`);
    void cleanup().finally(() => process.exit(130));
  });
}

function loadavg() {
  return os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(" ");
}

async function build() {
  if (opt["no-build"]) return;
  log("building (tsc, then the image's bundle)");
  try {
    await runCmd(process.execPath, [path.join(REPO_DIR, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(REPO_DIR, "tsconfig.json")], { timeoutMs: 300_000 });
  } catch (err) {
    // tsc still emits on type errors: measure what was emitted, say so.
    log(`build reported errors (measuring what was emitted): ${err.message.split("\n").slice(1, 4).join(" | ")}`);
  }
  // What Ballast runs as in the benchmark: the image's bundle (lib/ballast.mjs).
  await runCmd(process.execPath, [path.join(REPO_DIR, "scripts", "bundle.mjs")], { timeoutMs: 300_000 });
}

async function main() {
  await pinSelf(cpus.load);
  const scenarioFilter = opt.scenarios?.split(",");
  const scenarios = SCENARIOS.filter((s) => (scenarioFilter ? scenarioFilter.includes(s.id) : smoke ? ["http64-c16", "tcp-http-c64"].includes(s.id) : true));
  const only = opt.only?.split(",");
  const peers = PEERS.filter((p) => (only ? only.includes(p.id) || p.id === "direct" : smoke ? p.smoke : true)).map((p) => ({ ...p, scenarios: p.scenarios.filter((s) => scenarios.some((x) => x.id === s)) }));

  if (!smoke) {
    await ensureDebian(log);
    await ensurePeers(log);
  }
  await build();
  // Versions as built: sources edited while the run goes on are not what it measures.
  const built = await versions({ withDebian: !smoke });
  const peerBases = Object.fromEntries(PEERS.map((p, i) => [p.id, base + 200 + 20 * i]));
  await assertPortsFree([...origin.http, ...origin.shift, ...peers.flatMap((p) => (p.start ? Array.from({ length: 10 }, (_, i) => peerBases[p.id] + i) : []))]);

  const dir = mkdtempSync(path.join(os.tmpdir(), "ballast-bench-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const run = {
    date: new Date().toISOString(),
    smoke,
    seconds,
    warmup,
    rounds,
    cpus,
    idleClients,
    scenarios,
    peers: peers.map(({ id, label, scenarios: s }) => ({ id, label, scenarios: s })),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      memory: os.totalmem(),
      kernel: os.release(),
      debian: existsSync("/etc/debian_version") ? readFileSync("/etc/debian_version", "utf8").trim() : "n/a",
      loadBefore: loadavg(),
    },
    results: [],
  };

  // The origin: nginx, one worker, on the load generator's CPU (smoke: Node, in this process).
  const originSrv = smoke ? await startNodeOrigin({ ports: origin.http.slice(0, 1) }) : await startNginxOrigin({ dir: path.join(dir, "origin"), ports: origin.http, cpus: cpus.load });
  cleanups.push(() => originSrv.stop());
  run.originKind = originSrv.kind;
  if (smoke) origin.http = origin.http.slice(0, 1);
  const shiftOrigin = await startNodeOrigin({ ports: origin.shift });
  cleanups.push(() => shiftOrigin.stop());

  // Every proxy, started once, all pinned to the proxy CPU (only the one under load is busy).
  const instances = {};
  for (const peer of peers) {
    if (!peer.start) {
      instances[peer.id] = { ports: { http: origin.http[0], g100: origin.http[0], tcp: origin.http[0] } };
      continue;
    }
    const pdir = path.join(dir, peer.id);
    mkdirSync(pdir, { recursive: true });
    try {
      log(`starting ${peer.label}`);
      instances[peer.id] = await peer.start({ dir: pdir, base: peerBases[peer.id], cpus: cpus.proxy, origin });
      cleanups.push(() => instances[peer.id].stop());
      if (instances[peer.id].entry && peer.id === "ballast") run.ballastEntry = instances[peer.id].entry;
    } catch (err) {
      log(`${peer.label} did not start: ${err.message.split("\n")[0]}`);
      instances[peer.id] = { error: err.message };
    }
  }

  // Memory, idle: 2 s after the last proxy started and was configured, before any traffic.
  run.memory = {};
  await sleep(smoke ? 200 : 2000);
  for (const peer of peers) {
    const inst = instances[peer.id];
    if (peer.memory && inst?.pid) run.memory[peer.id] = { idle: rss(processTree(inst.pid)) };
  }

  // Memory with many idle client connections, before any load (the cost of the connections).
  for (const peer of peers) {
    const inst = instances[peer.id];
    if (!peer.memory || !inst?.pid || !inst.ports?.http) continue;
    try {
      log(`memory with ${idleClients} idle client connections: ${peer.id}`);
      run.memory[peer.id].idle10k = await rssWithIdleClients({ pid: inst.pid, port: inst.ports.http, count: idleClients, loadCpus: cpus.load, settleMs: smoke ? 200 : 2000 });
    } catch (err) {
      run.memory[peer.id].idle10k = { error: err.message };
    }
    await sleep(smoke ? 100 : 1000);
  }

  // Throughput and latency, interleaved: every proxy in turn within a scenario, so drifting
  // background load hits them alike.
  for (let round = 0; round < rounds; round++) {
    for (const s of scenarios) {
      for (const peer of peers) {
        if (!peer.scenarios.includes(s.id)) continue;
        const inst = instances[peer.id];
        const port = inst.ports?.[s.port];
        if (inst.error || !port) {
          run.results.push({ scenario: s.id, peer: peer.id, error: inst.error ?? "not configured" });
          continue;
        }
        const url = `http://127.0.0.1:${port}${s.path}`;
        try {
          const headers = s.cookie ? [await stickyCookie(url)].filter(Boolean) : [];
          if (s.cookie && headers.length === 0) throw new Error("no Set-Cookie in the first response");
          const common = { url, connections: s.connections, headers, loadCpus: cpus.load, pid: inst.pid, useWrk: !smoke };
          if (warmup > 0) await loadRun({ ...common, seconds: warmup });
          const r = await loadRun({ ...common, seconds });
          const next = await afterLoad(url);
          const value = s.unit === "MBps" ? r.bytesPerSec : r.rps;
          run.results.push({ scenario: s.id, peer: peer.id, round, ...r, value, perCore: r.busy ? value / r.busy : undefined, afterLoad: next });
          log(`${s.id} ${peer.id}: ${Math.round(value)} ${s.unit === "MBps" ? "B/s" : "req/s"}, busy ${r.busy?.toFixed(2) ?? "–"}, p99 ${r.latencyMs.p99?.toFixed(2)} ms, errors ${r.errors + r.non2xx}, next request ${next.status || next.error} in ${next.ms.toFixed(1)} ms`);
        } catch (err) {
          log(`${s.id} ${peer.id} failed: ${err.message.split("\n")[0]}`);
          run.results.push({ scenario: s.id, peer: peer.id, round, error: err.message });
        }
      }
    }
  }

  // Memory after the load: what the heaps grew to and kept, nobody connected.
  await sleep(smoke ? 100 : 2000);
  for (const peer of peers) {
    const inst = instances[peer.id];
    if (peer.memory && inst?.pid && run.results.some((r) => r.peer === peer.id)) run.memory[peer.id].afterLoad = rss(processTree(inst.pid));
  }

  // Admin change to traffic shift.
  run.shift = {};
  for (const peer of peers) {
    const inst = instances[peer.id];
    if (!peer.shift || !inst?.setShiftWeight || !inst.ports?.shift) continue;
    try {
      log(`admin change to traffic shift: ${peer.id}`);
      run.shift[peer.id] = await trafficShift({
        url: `http://127.0.0.1:${inst.ports.shift}/64`,
        setWeight: inst.setShiftWeight,
        arrivals: shiftOrigin.arrivals,
        ports: origin.shift,
        trials: smoke ? 1 : 5,
        settleMs: smoke ? 300 : 1000,
        loadCpus: cpus.load,
        useWrk: !smoke,
      });
    } catch (err) {
      run.shift[peer.id] = { error: err.message };
    }
  }

  for (const peer of peers) if (instances[peer.id]?.stop) await instances[peer.id].stop();

  // Multi-core: the same proxy with 1 and with 2 workers (2 = both CPUs, shared with the load).
  run.scaling = [];
  if (!smoke && (!only || only.includes("ballast") || only.includes("nginx"))) {
    const variants = [
      { id: "ballast", label: "Ballast, BALLAST_WORKERS=1", cpus: cpus.proxy, start: (o) => startBallast({ ...o, workers: 1, kinds: ["http"], accessLog: false }) },
      { id: "ballast", label: "Ballast, BALLAST_WORKERS=2", cpus: `${cpus.proxy},${cpus.load}`, start: (o) => startBallast({ ...o, workers: 2, kinds: ["http"], accessLog: false }) },
      { id: "nginx", label: "nginx, 1 worker (control)", cpus: cpus.proxy, start: (o) => startNginx({ ...o, workers: 1 }) },
      { id: "nginx", label: "nginx, 2 workers (control)", cpus: `${cpus.proxy},${cpus.load}`, start: (o) => startNginx({ ...o, workers: 2 }) },
    ].filter((v) => !only || only.includes(v.id));
    for (const [i, v] of variants.entries()) {
      const pdir = path.join(dir, `scaling-${i}`);
      mkdirSync(pdir, { recursive: true });
      let inst;
      try {
        log(`scaling: ${v.label}`);
        inst = await v.start({ dir: pdir, base: base + 400 + 20 * i, cpus: v.cpus, origin });
        const common = { url: `http://127.0.0.1:${inst.ports.http}/64`, connections: 64, headers: [], loadCpus: cpus.load, pid: inst.pid, useWrk: true };
        if (warmup > 0) await loadRun({ ...common, seconds: warmup });
        run.scaling.push({ label: v.label, cpus: v.cpus, ...(await loadRunPerProcess({ ...common, seconds })) });
      } catch (err) {
        run.scaling.push({ label: v.label, cpus: v.cpus, error: err.message });
      } finally {
        await inst?.stop();
      }
    }
  }

  run.machine.loadAfter = loadavg();
  run.versions = built;
  await cleanup();

  const report = renderReport(run);
  process.stdout.write(`${report}\n`);
  if (out) {
    writeBetweenMarkers(out, report);
    log(`report written to ${path.relative(process.cwd(), out)}`);
  }
  const json = opt.json ?? (smoke ? undefined : path.join(REPO_DIR, "bench", ".results", `${run.date.replace(/[:.]/g, "-")}.json`));
  if (json) {
    mkdirSync(path.dirname(json), { recursive: true });
    writeFileSync(json, JSON.stringify(run, null, 2));
  }
}

/** --from-json: renders a saved run again (after a change to the report) without measuring. */
async function rerender(file) {
  const report = renderReport(JSON.parse(readFileSync(file, "utf8")));
  process.stdout.write(`${report}\n`);
  if (out) writeBetweenMarkers(out, report);
}

(opt["from-json"] ? rerender(opt["from-json"]) : main()).catch(async (err) => {
  log(`failed: ${err.stack ?? err.message}`);
  await cleanup();
  process.exit(1);
});
