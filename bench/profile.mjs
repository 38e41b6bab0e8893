// CPU profile of Ballast under one benchmark scenario, to find what its hot path spends time on:
//
//   node bench/profile.mjs [--scenario http64-c64|http16k-c64|cookie-c64|g100-c64|tcp-http-c64|tcp-bulk-c8]
//                          [--seconds 10] [--workers 0] [--port-base 27000] [--out-dir bench/.results/profile-<date>]
//                          [--peer raw|undici|node-http-proxy|fastify]
//                          [--all-listeners] [--idle-before <s>] [--trace-gc] [--no-cpu-prof]
//                          [--node-args "<V8 flags>"] [--dist <build dir>]
//
// Runs the nginx origin and wrk on CPU 0 and Ballast (`node --cpu-prof`) on CPU 1, then prints the
// functions with the most self time and writes, per profiled process, the .cpuprofile (open it in
// Chrome DevTools or speedscope.app) and a folded-stack file (`flamegraph.pl x.folded > x.svg`).
// Default BALLAST_WORKERS=0 so that the one process profiled is the one carrying the traffic.
// `--peer` profiles one of the Node reference peers instead (HTTP scenarios), to compare where the
// same work goes in a proxy that does less.
// `--all-listeners` configures every listener the report's Ballast has (not only the scenario's);
// `--idle-before` leaves the process idle that long before the warm-up, as the report's cells do;
// `--trace-gc` writes V8's GC trace (gc.log) and sums the pauses of the measured seconds by kind.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startBallast } from "./lib/ballast.mjs";
import { startFastifyProxy, startNodeHttpProxy, startRawProxy, startUndiciProxy } from "./lib/peers.mjs";
import { ensureDebian, REPO_DIR } from "./lib/install.mjs";
import { loadRun, stickyCookie } from "./lib/measure.mjs";
import { startNginxOrigin } from "./lib/origin.mjs";
import { pinSelf, sleep } from "./lib/proc.mjs";

const SCENARIOS = {
  "http64-c64": { port: "http", path: "/64", connections: 64 },
  "http16k-c64": { port: "http", path: "/16k", connections: 64 },
  "cookie-c64": { port: "cookie", path: "/64", connections: 64, cookie: true },
  "g100-c64": { port: "g100", path: "/64", connections: 64 },
  "tcp-http-c64": { port: "tcp", path: "/64", connections: 64 },
  "tcp-bulk-c8": { port: "tcp", path: "/1m", connections: 8 },
};

const { values: opt } = parseArgs({
  options: {
    scenario: { type: "string", default: "http64-c64" },
    seconds: { type: "string", default: "10" },
    workers: { type: "string", default: "0" },
    "port-base": { type: "string", default: "27000" },
    "out-dir": { type: "string" },
    peer: { type: "string" },
    "access-log": { type: "boolean", default: false },
    "trace-gc": { type: "boolean", default: false },
    "node-args": { type: "string", default: "" },
    dist: { type: "string" },
    "all-listeners": { type: "boolean", default: false },
    "no-cpu-prof": { type: "boolean", default: false },
    "idle-before": { type: "string", default: "0" },
  },
});
const scenario = SCENARIOS[opt.scenario];
if (!scenario) throw new Error(`unknown scenario ${opt.scenario}; one of ${Object.keys(SCENARIOS).join(", ")}`);
const base = Number(opt["port-base"]);
const outDir = opt["out-dir"] ?? path.join(REPO_DIR, "bench", ".results", `profile-${opt.scenario}-${new Date().toISOString().replace(/[:.]/g, "-")}`);

/** Pauses per kind (Scavenge, Mark-Compact, …) from `--trace-gc` lines: count, total and longest ms. */
export function gcSummary(lines) {
  const out = {};
  for (const line of lines) {
    const m = /: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact|Minor Mark-Sweep)\b.*?([\d.]+) \/ ([\d.]+) ms/.exec(line);
    if (!m) continue;
    const s = (out[m[1]] ??= { count: 0, total: 0, max: 0 });
    const ms = Number(m[2]);
    s.count++;
    s.total += ms;
    s.max = Math.max(s.max, ms);
  }
  return out;
}

/** Self time per function (and per file) from a V8 .cpuprofile, plus folded stacks. */
export function summarize(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const hits = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    hits.set(profile.samples[i], (hits.get(profile.samples[i]) ?? 0) + dt);
  }
  const name = (n) => {
    const f = n.callFrame;
    const file = f.url ? f.url.replace(/^file:\/\//, "").replace(REPO_DIR + "/", "").replace(/^.*node_modules\//, "") : "";
    return `${f.functionName || "(anonymous)"} ${file}${file ? `:${f.lineNumber + 1}` : ""}`.trim();
  };
  const self = new Map();
  const folded = new Map();
  let total = 0;
  for (const [id, us] of hits) {
    const n = byId.get(id);
    total += us;
    self.set(name(n), (self.get(name(n)) ?? 0) + us);
    const stack = [];
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) stack.push(name(byId.get(cur)).replace(/;/g, ","));
    const key = stack.reverse().join(";");
    folded.set(key, (folded.get(key) ?? 0) + us);
  }
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]);
  return { total, top, folded: [...folded.entries()].map(([k, v]) => `${k} ${Math.round(v)}`).join("\n") };
}

async function main() {
  await pinSelf("0");
  await ensureDebian((m) => process.stderr.write(`profile: ${m}\n`));
  const dir = mkdtempSync(path.join(os.tmpdir(), "ballast-profile-"));
  const profDir = path.join(dir, "prof");
  mkdirSync(profDir);
  const origin = { http: Array.from({ length: 100 }, (_, i) => base + i) };
  const originSrv = await startNginxOrigin({ dir: path.join(dir, "origin"), ports: origin.http, cpus: "0" });
  let ballast;
  let gcStart = 0;
  let gcMark = 0;
  let gcRequests = 0;
  try {
    const PEERS = { raw: startRawProxy, undici: startUndiciProxy, "node-http-proxy": startNodeHttpProxy, fastify: startFastifyProxy };
    const startPeer = opt.peer ? PEERS[opt.peer] : undefined;
    if (opt.peer && (!startPeer || scenario.port !== "http")) throw new Error(`--peer: one of ${Object.keys(PEERS).join(", ")}, with a plain HTTP scenario`);
    const nodeArgs = [...(opt["no-cpu-prof"] ? [] : ["--cpu-prof", `--cpu-prof-dir=${profDir}`]), ...(opt["trace-gc"] ? ["--trace-gc"] : []), ...opt["node-args"].split(/\s+/).filter(Boolean)];
    const gcLog = path.join(dir, "gc.log");
    ballast = startPeer ? await startPeer({ base: base + 200, cpus: "1", origin, nodeArgs }) : await startBallast({
      dir: path.join(dir, "ballast"),
      base: base + 200,
      cpus: "1",
      origin,
      workers: Number(opt.workers),
      kinds: opt["all-listeners"] ? undefined : [scenario.port],
      nodeArgs,
      accessLog: opt["access-log"],
      stdoutFile: opt["trace-gc"] ? gcLog : undefined,
      dist: opt.dist && path.resolve(opt.dist),
    });
    const url = `http://127.0.0.1:${ballast.ports[scenario.port]}${scenario.path}`;
    const headers = scenario.cookie ? [await stickyCookie(url)] : [];
    const common = { url, connections: scenario.connections, headers, loadCpus: "0", pid: ballast.pid, useWrk: true };
    // As between the cells of `npm run bench`: the process sits idle (its idle compactor may run).
    await sleep(1000 * Number(opt["idle-before"]));
    await loadRun({ ...common, seconds: 2 });
    if (opt["trace-gc"]) gcStart = readFileSync(gcLog, "utf8").length;
    const r = await loadRun({ ...common, seconds: Number(opt.seconds) });
    process.stderr.write(`profile: ${opt.scenario}: ${Math.round(r.rps)} req/s, ${(r.bytesPerSec / 1048576).toFixed(0)} MiB/s, proxy busy ${r.busy.toFixed(2)}, p50 ${r.latencyMs.p50.toFixed(2)} ms, p99 ${r.latencyMs.p99.toFixed(2)} ms\n`);
    if (opt["trace-gc"]) {
      gcMark = readFileSync(gcLog, "utf8").length;
      gcRequests = r.requests;
    }
  } finally {
    await ballast?.stop();
    await originSrv.stop();
  }
  if (opt["trace-gc"]) {
    const full = readFileSync(path.join(dir, "gc.log"), "utf8");
    const lines = full.slice(gcStart, gcMark).split("\n");
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, "gc-whole-run.log"), full);
    writeFileSync(path.join(outDir, "gc.log"), lines.join("\n"));
    console.log(`\nGC (--trace-gc) during the measured ${opt.seconds} s (${gcRequests} requests):`);
    for (const [kind, s] of Object.entries(gcSummary(lines))) console.log(`  ${kind}: ${s.count} pauses, ${s.total.toFixed(1)} ms in all, longest ${s.max.toFixed(1)} ms`);
  }
  await sleep(200);
  mkdirSync(outDir, { recursive: true });
  for (const file of readdirSync(profDir)) {
    const profile = JSON.parse(readFileSync(path.join(profDir, file), "utf8"));
    const { total, top, folded } = summarize(profile);
    const stem = path.join(outDir, file.replace(/\.cpuprofile$/, ""));
    writeFileSync(`${stem}.cpuprofile`, JSON.stringify(profile));
    writeFileSync(`${stem}.folded`, folded + "\n");
    if (total < 1e6) continue; // an idle process (the primary when workers carry the traffic)
    console.log(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled; self time:`);
    for (const [fn, us] of top.slice(0, 40)) console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${fn}`);
  }
  console.log(`\nprofiles: ${path.relative(process.cwd(), outDir)}`);
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
