// Load generators: wrk (the real benchmark) and a small Node keep-alive client (the CI smoke, which
// must run without Debian packages). Both return the same shape:
//   { requests, seconds, rps, bytesPerSec, latencyMs: { p50, p90, p99 }, errors, non2xx }
import { fileURLToPath } from "node:url";
import { spawnPinned } from "./proc.mjs";

const UNITS = { us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const BYTES = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** Parses wrk 4's text report (run with --latency). Exported for the smoke test. */
export function parseWrk(text) {
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, "m").exec(text);
    return m ? Number(m[1]) * UNITS[m[2]] : undefined;
  };
  const done = /(\d+) requests in ([\d.]+)(us|ms|s|m|h), ([\d.]+)(B|KB|MB|GB|TB) read/.exec(text);
  if (!done) throw new Error(`cannot read wrk's output:\n${text.slice(-2000)}`);
  const requests = Number(done[1]);
  const seconds = (Number(done[2]) * UNITS[done[3]]) / 1000;
  const bytes = Number(done[4]) * BYTES[done[5]];
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = sock ? sock.slice(1, 5).reduce((a, b) => a + Number(b), 0) : 0;
  return {
    requests,
    seconds,
    rps: num(/Requests\/sec:\s+([\d.]+)/) ?? requests / seconds,
    bytesPerSec: bytes / seconds,
    latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99) },
    errors,
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) ?? 0,
  };
}

/**
 * One wrk run from core `cpus`: one thread, `connections` keep-alive connections, `seconds` long.
 * `onStart` is called once wrk is spawned (the caller samples the proxy's CPU time around the run).
 */
export async function wrk({ url, connections, seconds, headers = [], cpus, onStart }) {
  const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "--timeout", "5s"];
  for (const h of headers) args.push("-H", h);
  args.push(url);
  const child = spawnPinned(cpus, "wrk", args);
  onStart?.();
  const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 30) * 1000);
  const { code, signal } = await child.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`wrk exited ${code ?? signal}:\n${child.output()}`);
  return parseWrk(child.output());
}

const NODE_LOAD = fileURLToPath(new URL("./node-load.mjs", import.meta.url));

/** The same measurement with bench/lib/node-load.mjs instead of wrk (slower; used by the smoke). */
export async function nodeLoad({ url, connections, seconds, headers = [], cpus, onStart }) {
  const child = spawnPinned(cpus, process.execPath, [NODE_LOAD, url, String(connections), String(seconds), JSON.stringify(headers)]);
  onStart?.();
  const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 30) * 1000);
  const { code, signal } = await child.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`node-load exited ${code ?? signal}:\n${child.output()}`);
  const lines = child.output().trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}
