// One measurement each: a load run against a front port with the proxy's CPU time sampled around
// it, resident memory with N idle client connections, and the delay from an admin change to the
// last request reaching the server it took out.
import { fileURLToPath } from "node:url";
import { nodeLoad, wrk } from "./load.mjs";
import { cpuSeconds, processTree, rss, sleep, spawnPinned, stopChild } from "./proc.mjs";

/** The `Cookie` header a browser would send back after its first response from `url`, if any. */
export async function stickyCookie(url) {
  const res = await fetch(url);
  await res.arrayBuffer();
  const set = res.headers.getSetCookie();
  return set.length > 0 ? `Cookie: ${set.map((c) => c.split(";")[0]).join("; ")}` : undefined;
}

/**
 * Load against `url` for `seconds` from `loadCpus`, with `pid`'s process tree's CPU time sampled
 * at the start and the end. `busy` is the proxy's CPU seconds per wall second (1.0 = one full core).
 */
export async function loadRun({ url, connections, seconds, headers, loadCpus, pid, useWrk }) {
  let pids = pid ? processTree(pid) : [];
  let cpu0 = 0;
  let t0 = 0;
  const gen = useWrk ? wrk : nodeLoad;
  const result = await gen({
    url,
    connections,
    seconds,
    headers,
    cpus: loadCpus,
    onStart: () => {
      pids = pid ? processTree(pid) : [];
      cpu0 = cpuSeconds(pids);
      t0 = performance.now();
    },
  });
  const wall = (performance.now() - t0) / 1000;
  const busy = pid ? (cpuSeconds(pids) - cpu0) / wall : undefined;
  return { ...result, busy, wall };
}

/**
 * The request right after a load run stopped (issue 20): one GET on a fresh connection, bounded by
 * `timeoutMs` (well under the 60 s upstream head timeout, so a stall shows as "no answer"). The load
 * generator closing its connections with requests in flight is the moment a proxy that mishandles
 * abandoned exchanges leaves connections unusable.
 */
export async function afterLoad(url, timeoutMs = 10_000) {
  const t0 = performance.now();
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { connection: "close" } });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - t0 };
  } catch (err) {
    return { status: 0, ms: performance.now() - t0, error: err.name === "TimeoutError" ? `no answer in ${timeoutMs} ms` : err.message };
  }
}

/** The same, with the busy share of each process of the tree (multi-core: one per worker). */
export async function loadRunPerProcess(opts) {
  const pids = processTree(opts.pid);
  const before = pids.map((p) => cpuSeconds([p]));
  const t0 = performance.now();
  const r = await loadRun(opts);
  const wall = (performance.now() - t0) / 1000;
  return { ...r, processes: pids.map((p, i) => ({ pid: p, busy: (cpuSeconds([p]) - before[i]) / wall })) };
}

const IDLE_CLIENTS = fileURLToPath(new URL("./idle-clients.mjs", import.meta.url));

/**
 * Opens `count` keep-alive client connections to `port` (one small request each, then idle),
 * waits `settleMs`, and reads the RSS of `pid`'s process tree. `open` is how many connections the
 * proxy still held when the RSS was read.
 */
export async function rssWithIdleClients({ pid, port, count, loadCpus, settleMs = 2000, path = "/64" }) {
  const before = rss(processTree(pid));
  const child = spawnPinned(loadCpus, process.execPath, [IDLE_CLIENTS, String(port), String(count), path], { stdio: ["pipe", "pipe", "pipe"] });
  try {
    const ready = await waitLine(child, /^\{"opened"/, 120_000);
    await sleep(settleMs);
    const mem = rss(processTree(pid));
    child.stdin.write("count\n");
    const still = await waitLine(child, /^\{"open"/, 10_000);
    return { ...JSON.parse(ready), open: JSON.parse(still).open, before, rss: mem };
  } finally {
    await stopChild(child);
  }
}

async function waitLine(child, re, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (let seen = 0; Date.now() < deadline; ) {
    const lines = child.output().split("\n");
    for (; seen < lines.length - 1; seen++) if (re.test(lines[seen])) return lines[seen];
    if (child.exitCode !== null || child.signalCode !== null) break;
    await sleep(50);
  }
  throw new Error(`idle clients: no ${re} line within ${timeoutMs} ms:\n${child.output().slice(-2000)}`);
}

/**
 * Admin change to traffic shift: with load running against a two-server group, set the second
 * server's weight to 0 (through `setWeight`) and find the last request that still reached it.
 * `arrivals[port]` holds each origin port's last arrival time on this process's clock.
 * Per trial: `adminMs` (the admin call's round trip) and `shiftMs` (change sent → last arrival at
 * the server taken out; 0 if none arrived after the change was sent).
 */
export async function trafficShift({ url, setWeight, arrivals, ports, trials, loadCpus, useWrk, connections = 8, settleMs = 1000 }) {
  const [a, b] = ports;
  // Load for the whole measurement: 0.7 s ramp, then per trial 0.3 s + change + settle + 0.5 s.
  const seconds = Math.ceil(0.7 + (trials * (settleMs + 1000)) / 1000 + 0.3);
  const load = (useWrk ? wrk : nodeLoad)({ url, connections, seconds, cpus: loadCpus });
  const out = [];
  try {
    await sleep(700);
    for (let i = 0; i < trials; i++) {
      const before = arrivals[b];
      await sleep(300);
      if (arrivals[b] === before) throw new Error("traffic shift: the second server receives no traffic before the change");
      const t0 = performance.now();
      await setWeight(0);
      const adminMs = performance.now() - t0;
      const aBefore = arrivals[a];
      await sleep(settleMs);
      if (arrivals[a] === aBefore) throw new Error("traffic shift: no traffic at all after the change");
      const last = arrivals[b];
      out.push({ adminMs, shiftMs: Math.max(0, last - t0) });
      await setWeight(100);
      await sleep(500);
    }
  } finally {
    await load.catch(() => undefined);
  }
  return out;
}
