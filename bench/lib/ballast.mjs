// Ballast as the benchmark runs it: the data plane as the image runs it (`node build/image/main.js`), configured
// through its admin API exactly as the provider would, with one listener per scenario (ports as in
// peers.mjs).
import { randomBytes } from "node:crypto";
import { existsSync, openSync } from "node:fs";
import path from "node:path";
import { REPO_DIR } from "./install.mjs";
import { OFFSET } from "./peers.mjs";
import { spawnPinned, startLogReader, stopChild, waitPort } from "./proc.mjs";

/** Admin port: base + this offset (127.0.0.1 only). */
const ADMIN_OFFSET = 9;

/**
 * The data plane to run: by default the bundle the container image runs (`build/image/main.js`, made
 * by `npm run bundle`), so the benchmark measures what users deploy. `dir` (`--dist-b`) measures
 * another build beside it: a bundle directory (`<dir>/main.js`) or a tsc output (`<dir>/dataplane/main.js`).
 */
export function ballastEntry(dir = path.join(REPO_DIR, "build", "image")) {
  const file = [path.join(dir, "main.js"), path.join(dir, "dataplane", "main.js")].find((f) => existsSync(f));
  if (!file) throw new Error(`${dir} holds neither main.js nor dataplane/main.js: build first (npm run build && npm run bundle)`);
  return { file, label: path.relative(REPO_DIR, file).startsWith("..") ? file : path.relative(REPO_DIR, file) };
}

/**
 * Starts the data plane pinned to `cpus` and configures it. `accessLog`: true or false sets every
 * listener's `accessLog.enabled` (an object: the whole setting); undefined leaves the build's
 * default (on, for builds that have one). `workers`: BALLAST_WORKERS (undefined =
 * the default, the available cores, which taskset makes the number of CPUs in `cpus`).
 * `kinds`: the scenarios to configure (default all). `httpEngine`: BALLAST_HTTP_ENGINE (the
 * caller's own BALLAST_* are not passed on, so that a run measures what it says).
 */
export async function startBallast({ dir, base, cpus, origin, workers, kinds = ["http", "cookie", "g100", "tcp", "shift"], nodeArgs = [], dist, accessLog, httpEngine, loadCpus = "0", stdoutFile }) {
  const entry = ballastEntry(dist);
  const token = randomBytes(16).toString("hex");
  const admin = `http://127.0.0.1:${base + ADMIN_OFFSET}`;
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("BALLAST_")) delete env[k];
  Object.assign(env, {
    BALLAST_ADMIN_ADDR: `127.0.0.1:${base + ADMIN_OFFSET}`,
    BALLAST_ADMIN_TOKEN: token,
    BALLAST_STATE_DIR: dir,
    BALLAST_LOG_LEVEL: "warn",
    BALLAST_LISTEN_HOST: "127.0.0.1",
    BALLAST_SHUTDOWN_GRACE_MS: "1000",
  });
  if (workers !== undefined) env.BALLAST_WORKERS = String(workers);
  if (httpEngine !== undefined) env.BALLAST_HTTP_ENGINE = httpEngine;
  // Access log on: stdout (its lines) goes to a pipe read by `cat` on the load CPU, as a container's
  // log driver reads it, not through this process.
  const reader = accessLog ? await startLogReader(loadCpus) : undefined;
  const child = spawnPinned(cpus, process.execPath, [...nodeArgs, entry.file], { env, stdio: ["ignore", reader?.stream ?? (stdoutFile ? openSync(stdoutFile, "w") : "pipe"), "pipe"] });
  await waitPort(base + ADMIN_OFFSET, { child });

  const api = async (method, p, body) => {
    const res = await fetch(admin + p, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body && JSON.stringify(body) });
    if (!res.ok) throw new Error(`Ballast admin ${method} ${p}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : res.json();
  };
  const group = (name, ports, weights = []) => ({ name, type: "virtual", servers: ports.map((port, i) => ({ address: "127.0.0.1", port, weight: weights[i] ?? 100 })) });
  const port = origin.http[0];
  const ports = {};
  const add = async (kind, groupBody, service) => {
    await api("POST", "/v1/server-groups", groupBody);
    await api("POST", "/v1/backend-services", { name: kind, port, serverGroup: groupBody.name, ...service });
    ports[kind] = base + OFFSET[kind];
    // accessLog undefined: the field is not sent (a build from before it, `--dist-b`, would refuse it).
    const log = accessLog === undefined ? {} : { accessLog: typeof accessLog === "object" ? accessLog : { enabled: accessLog } };
    await api("POST", "/v1/listeners", { name: `${kind}-front`, protocol: service.protocol, port: ports[kind], backendService: kind, ...log });
  };
  if (kinds.includes("http")) await add("http", group("one", [port]), { protocol: "http" });
  if (kinds.includes("cookie")) await add("cookie", group("sticky", [port]), { protocol: "http", sessionPersistence: { type: "insert-cookie", cookieTimeout: 3600 } });
  if (kinds.includes("g100")) await add("g100", group("hundred", origin.http), { protocol: "http" });
  if (kinds.includes("tcp")) await add("tcp", group("pipe", [port]), { protocol: "tcp" });
  if (kinds.includes("shift") && origin.shift) await add("shift", group("shift", origin.shift), { protocol: "http", connectionDrainTimeout: 5 });
  for (const p of Object.values(ports)) await waitPort(p, { child });

  return {
    pid: child.pid,
    ports,
    child,
    entry: entry.label,
    stop: async () => {
      await stopChild(child, { timeoutMs: 8_000 });
      await reader?.stop();
    },
    /** The admin change under test: the second server of the shift group to weight `w`. */
    setShiftWeight: (w) => api("PUT", "/v1/server-groups/shift", { type: "virtual", servers: group("shift", origin.shift, [100, w]).servers }),
  };
}
