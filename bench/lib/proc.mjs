// Child processes of the benchmark: spawned pinned to CPUs (taskset), stopped by PID, measured
// through /proc (CPU time and resident memory of a process and its descendants).
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import net from "node:net";

/** Linux USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (getconf CLK_TCK). */
const CLK_TCK = 100;
const OUTPUT_KEEP = 64 * 1024;

/**
 * Starts `cmd args` pinned to `cpus` (a taskset list such as "1" or "0,1"). taskset execs the
 * command, so `child.pid` is the command's own PID. The last 64 KiB of output are kept for errors.
 */
export function spawnPinned(cpus, cmd, args, opts = {}) {
  return track(spawn("taskset", ["-c", cpus, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"], ...opts }));
}

/**
 * A reader for a proxy's access log: `cat > /dev/null` pinned to `cpus` (the load generator's),
 * reading the pipe that becomes the proxy's stdout, as a container runtime's log driver reads a
 * container's stdout. Pass `stream` as the proxy's stdout; `stop()` ends it (by its PID).
 */
export async function startLogReader(cpus) {
  const child = track(spawn("taskset", ["-c", cpus, "sh", "-c", "exec cat > /dev/null"], { stdio: ["pipe", "ignore", "ignore"] }));
  await new Promise((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  return {
    stream: child.stdin,
    stop: async () => {
      child.stdin.destroy();
      await stopChild(child);
    },
  };
}

/** Keeps the child's last output (`output()`) and its exit (`exited`). */
function track(child) {
  let out = "";
  const keep = (d) => {
    out += d;
    if (out.length > OUTPUT_KEEP * 2) out = out.slice(-OUTPUT_KEEP);
  };
  child.stdout?.setEncoding("utf8").on("data", keep);
  child.stderr?.setEncoding("utf8").on("data", keep);
  child.output = () => out;
  child.exited = new Promise((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal }));
    // A command that cannot be started (ENOENT) never closes: report it as a failed exit.
    child.once("error", (err) => {
      keep(`${err.message}\n`);
      resolve({ code: -1, signal: null });
    });
  });
  return child;
}

/** Runs a command to completion (pinned to `cpus` if given); rejects with its output on a non-zero exit. */
export async function run(cmd, args, { cpus, timeoutMs = 600_000, env } = {}) {
  const child = cpus ? spawnPinned(cpus, cmd, args, { env }) : track(spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env }));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const { code, signal } = await child.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${code ?? signal}:\n${child.output().slice(-4000)}`);
  return child.output();
}

/** SIGTERM (or `signal`) to this PID only, SIGKILL after `timeoutMs`; resolves once it exited. */
export async function stopChild(child, { signal = "SIGTERM", timeoutMs = 5_000 } = {}) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  await child.exited;
  clearTimeout(timer);
}

function readStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: split after its closing parenthesis.
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(rest[1]), utime: Number(rest[11]), stime: Number(rest[12]) };
  } catch {
    return undefined;
  }
}

/** `pid` and every process below it. */
export function processTree(pid) {
  const children = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(name);
    if (!st) continue;
    if (!children.has(st.ppid)) children.set(st.ppid, []);
    children.get(st.ppid).push(Number(name));
  }
  const out = [];
  const queue = [pid];
  while (queue.length > 0 && out.length < 10_000) {
    const p = queue.shift();
    out.push(p);
    for (const c of children.get(p) ?? []) queue.push(c);
  }
  return out;
}

/** CPU seconds (user + system) used so far by these processes. */
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const st = readStat(pid);
    if (st) ticks += st.utime + st.stime;
  }
  return ticks / CLK_TCK;
}

/**
 * Resident set size in bytes of each process and their sum (`total`), and the sum of their
 * proportional set sizes (`pss`: pages shared with other processes, such as the node binary's code
 * shared by a primary and its workers, counted once in total).
 */
export function rss(pids) {
  const each = [];
  let pss = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) each.push({ pid, bytes: Number(m[1]) * 1024 });
      const p = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
      if (p) pss += Number(p[1]) * 1024;
    } catch {
      // exited meanwhile
    }
  }
  return { total: each.reduce((a, b) => a + b.bytes, 0), pss, each };
}

/**
 * Pins the calling process (every thread it has now; threads started later inherit the affinity of
 * the thread that starts them) to `cpus`. `taskset -a` fails the whole call when one of the threads
 * exits while it walks them, so each thread is pinned on its own and a thread that is already gone
 * is skipped. The main thread must succeed.
 */
export async function pinSelf(cpus) {
  const tids = readdirSync(`/proc/${process.pid}/task`).filter((t) => /^\d+$/.test(t));
  for (const tid of tids) {
    try {
      await run("taskset", ["-p", "-c", cpus, tid]);
    } catch (err) {
      if (tid === String(process.pid) || existsSync(`/proc/${process.pid}/task/${tid}`)) throw err;
    }
  }
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port; bounded by `timeoutMs`. */
export async function waitPort(port, { timeoutMs = 15_000, child } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline; i++) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`process exited before listening on ${port}:\n${child.output?.().slice(-4000) ?? ""}`);
    }
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(Math.min(200, 10 * (i + 1)));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms${child ? `:\n${child.output().slice(-4000)}` : ""}`);
}

/** Rejects if anything already listens on one of these ports (a leftover of an earlier run). */
export async function assertPortsFree(ports) {
  for (const port of ports) {
    const free = await new Promise((resolve) => {
      const srv = net.createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (!free) throw new Error(`port ${port} is taken; pass --port-base to use other ports`);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
