import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { freePort } from "./ports";
import { describeRun, repoRoot, runCommand, runDocker } from "./toolchain";

/**
 * The data plane as the image users run: `scripts/image.sh` builds `ballast-dataplane:dev`, and
 * `startDataplaneContainer` runs it on the host network (our dockerd has no bridge: `-p` does not
 * work), admin API on 127.0.0.1:<free port>, state on a named volume. Every container and volume
 * made here is recorded so `removeAll()` (in afterAll) deletes exactly those, by id and name.
 *
 *   const image = await buildImage();
 *   const dp = await startDataplaneContainer({ image });
 *   await dp.api("/v1/listeners");   // with the bearer token
 *   await dp.restart();              // docker restart: the state volume keeps the configuration
 *   await removeAll();
 */

export const IMAGE_TAG = "ballast-dataplane:dev";
/** The four collections of the admin API. */
export const COLLECTIONS = ["listeners", "backend-services", "server-groups", "health-checks"] as const;
export type Collection = (typeof COLLECTIONS)[number];

const containers = new Set<string>();
const volumes = new Set<string>();

/** Builds the image with scripts/image.sh (bundle + docker build; serialized by a lock) and returns its tag. */
export async function buildImage(timeoutMs = 300_000): Promise<string> {
  const r = await runCommand("bash", [join(repoRoot, "scripts", "image.sh")], { cwd: repoRoot, timeoutMs });
  if (r.code !== 0) throw new Error(describeRun("scripts/image.sh", r));
  return r.stdout.trim().split("\n").pop() ?? IMAGE_TAG;
}

export interface ContainerOptions {
  image: string;
  /** Admin token; default 32 random hex characters. */
  token?: string;
  /** Admin port on 127.0.0.1; default a free port. */
  adminPort?: number;
  /** Named volume for /var/lib/ballast; default a new one (removed by `removeAll`). */
  volume?: string;
  /** Extra environment (BALLAST_WORKERS defaults to 1, BALLAST_SHUTDOWN_GRACE_MS to 2000). */
  env?: Record<string, string>;
  /** Extra `docker run` arguments, before the image. */
  runArgs?: string[];
  /** How long to wait for /healthz (default 30 s). */
  readyTimeoutMs?: number;
}

export interface DataplaneContainer {
  /** Current container id (changes on `recreate`). */
  readonly id: string;
  readonly url: string;
  readonly token: string;
  readonly adminPort: number;
  readonly volume: string;
  /** fetch(url + path) with the bearer token. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** GET /v1/<collection> → its items. */
  list(collection: Collection): Promise<Array<Record<string, unknown> & { name: string; version: number }>>;
  /** Every collection's items, by collection. */
  snapshot(): Promise<Record<Collection, Array<Record<string, unknown>>>>;
  /** `docker restart`, then waits for /healthz. */
  restart(): Promise<void>;
  /** Removes the container and runs a new one with the same volume, token and port. */
  recreate(): Promise<void>;
  /** `docker inspect --format <format>`. */
  inspect(format: string): Promise<string>;
  logs(): Promise<string>;
  /** Removes the container (not the volume). */
  remove(): Promise<void>;
}

/** Runs the data plane container and resolves once its admin API answers /healthz. */
export async function startDataplaneContainer(options: ContainerOptions): Promise<DataplaneContainer> {
  const token = options.token ?? randomBytes(16).toString("hex");
  const adminPort = options.adminPort ?? (await freePort());
  const volume = options.volume ?? `ballast-e2e-${randomBytes(6).toString("hex")}`;
  if (!volumes.has(volume) && options.volume === undefined) {
    const v = await runDocker(["volume", "create", volume]);
    if (v.code !== 0) throw new Error(describeRun("docker volume create", v));
    volumes.add(volume);
  }
  const url = `http://127.0.0.1:${adminPort}`;
  const env = {
    BALLAST_ADMIN_ADDR: `127.0.0.1:${adminPort}`,
    BALLAST_ADMIN_TOKEN: token,
    BALLAST_WORKERS: "1",
    BALLAST_SHUTDOWN_GRACE_MS: "2000",
    ...options.env,
  };
  const run = async (): Promise<string> => {
    const args = ["run", "--detach", "--network", "host", "--label", "ballast.test=e2e", "--volume", `${volume}:/var/lib/ballast`];
    for (const [k, v] of Object.entries(env)) args.push("--env", `${k}=${v}`);
    args.push(...(options.runArgs ?? []), options.image);
    const r = await runDocker(args);
    if (r.code !== 0) throw new Error(describeRun("docker run", r));
    const cid = r.stdout.trim();
    containers.add(cid);
    return cid;
  };
  let id = await run();
  const api = (path: string, init: RequestInit = {}) =>
    fetch(url + path, {
      ...init,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...(init.headers as Record<string, string>) },
      signal: init.signal ?? AbortSignal.timeout(10_000),
    });
  const ready = async () => {
    const ok = await waitFor(async () => (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) })).status === 200, options.readyTimeoutMs ?? 30_000);
    if (!ok) {
      const logs = await runDocker(["logs", id], 10_000).catch(() => undefined);
      throw new Error(`data plane container ${id.slice(0, 12)} did not answer ${url}/healthz\n${logs ? describeRun("docker logs", logs) : ""}`);
    }
  };
  await ready();
  const list = async (collection: Collection) => {
    const res = await api(`/v1/${collection}`);
    if (res.status !== 200) throw new Error(`GET /v1/${collection}: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { items: Array<Record<string, unknown> & { name: string; version: number }> }).items;
  };
  const remove = async () => {
    await runDocker(["rm", "--force", id], 30_000);
    containers.delete(id);
  };
  return {
    get id() {
      return id;
    },
    url,
    token,
    adminPort,
    volume,
    api,
    list,
    async snapshot() {
      const out = {} as Record<Collection, Array<Record<string, unknown>>>;
      for (const c of COLLECTIONS) out[c] = await list(c);
      return out;
    },
    async restart() {
      const r = await runDocker(["restart", "--time", "10", id], 60_000);
      if (r.code !== 0) throw new Error(describeRun("docker restart", r));
      await ready();
    },
    async recreate() {
      await remove();
      id = await run();
      await ready();
    },
    async inspect(format: string) {
      const r = await runDocker(["inspect", "--format", format, id]);
      if (r.code !== 0) throw new Error(describeRun("docker inspect", r));
      return r.stdout.trim();
    },
    async logs() {
      const r = await runDocker(["logs", id], 10_000);
      return r.stdout + r.stderr;
    },
    remove,
  };
}

/** Removes every container and volume made by this module in this test file, by id and name. */
export async function removeAll(): Promise<void> {
  for (const id of [...containers]) {
    await runDocker(["rm", "--force", id], 30_000).catch(() => undefined);
    containers.delete(id);
  }
  for (const v of [...volumes]) {
    await runDocker(["volume", "rm", "--force", v], 30_000).catch(() => undefined);
    volumes.delete(v);
  }
}

/** Polls `probe` every 200 ms until it returns true or `timeoutMs` passes; errors count as false. */
export async function waitFor(probe: () => Promise<boolean>, timeoutMs: number, intervalMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    try {
      if (await probe()) return true;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return false;
}
