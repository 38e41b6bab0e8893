import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import { startDataplane, type Dataplane, type DataplaneOptions } from "./dataplane-process";
import type { EtcdCluster } from "./etcd-cluster";

/**
 * Data plane replicas on the etcd store, as real processes (test/helpers/dataplane-process.ts):
 * each with its own name, state dir and listen address, one shared token and prefix.
 *
 * Each replica binds its listeners on its own loopback address (127.0.0.2, .3, ...) so that a test
 * can send traffic through one chosen replica; replicas on one address share the port through
 * SO_REUSEPORT instead (the kernel then picks the replica).
 */

export interface ReplicaOptions {
  name: string;
  prefix: string;
  token: string;
  listenHost?: string;
  workers?: number;
  stateDir?: string;
  env?: Record<string, string | undefined>;
}

export function newPrefix(): string {
  return `/ballast-test/${randomBytes(6).toString("hex")}`;
}

export function newToken(): string {
  return randomBytes(16).toString("hex");
}

export function startReplica(endpoints: EtcdCluster | string, options: ReplicaOptions): Promise<Dataplane> {
  const dp: DataplaneOptions = {
    token: options.token,
    env: {
      BALLAST_STORE: "etcd",
      BALLAST_ETCD_ENDPOINTS: typeof endpoints === "string" ? endpoints : endpoints.endpoints,
      BALLAST_ETCD_PREFIX: options.prefix,
      BALLAST_REPLICA_NAME: options.name,
      BALLAST_LISTEN_HOST: options.listenHost ?? "127.0.0.1",
      BALLAST_WORKERS: String(options.workers ?? 0),
      ...options.env,
    },
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
  };
  return startDataplane(dp);
}

export const json = (method: string, body: unknown): RequestInit => ({ method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/** POSTs `body` and expects 201; answers the Ballast-Revision of the write. */
export async function create(dp: Dataplane, kind: string, body: unknown): Promise<number> {
  const res = await dp.api(`/v1/${kind}`, json("POST", body));
  const text = await res.text();
  expect(res.status, text).toBe(201);
  const revision = Number(res.headers.get("ballast-revision"));
  expect(revision).toBeGreaterThan(0);
  return revision;
}

/** GET with `Ballast-Min-Revision`, answers status and body. */
export async function getAt(dp: Dataplane, path: string, minRevision: number): Promise<{ status: number; body: any; revision: number }> {
  const res = await dp.api(path, { headers: { "ballast-min-revision": String(minRevision) } });
  return { status: res.status, body: await res.json(), revision: Number(res.headers.get("ballast-revision")) };
}

/** The origin's name that answered a GET through `host:port`, or `HTTP <status>` / `error <code>`. */
export async function through(host: string, port: number, path = "/"): Promise<string> {
  try {
    const res = await fetch(`http://${host}:${port}${path}`, { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    return res.status === 200 ? (res.headers.get("x-origin") ?? "no x-origin") : `HTTP ${res.status}`;
  } catch (err) {
    return `error ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name}`;
  }
}

/** Polls `fn` until it returns true (bounded by count and time). */
export async function eventually(fn: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 2000 && Date.now() < deadline; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
