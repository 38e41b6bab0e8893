import { hostname } from "node:os";

/**
 * `BALLAST_STORE` and its etcd settings, read from an environment by `main.ts` (docs/replicas.md):
 *
 * | variable                | default            | meaning                                              |
 * |-------------------------|--------------------|------------------------------------------------------|
 * | BALLAST_STORE           | file               | `file` (one data plane) or `etcd` (replicas)         |
 * | BALLAST_ETCD_ENDPOINTS  | (required for etcd)| comma-separated http(s)://host:port client URLs      |
 * | BALLAST_ETCD_PREFIX     | /ballast/default   | key prefix; two prefixes = two independent balancers |
 * | BALLAST_ETCD_USERNAME   |                    | etcd user (with BALLAST_ETCD_PASSWORD)               |
 * | BALLAST_ETCD_PASSWORD   |                    | that user's password; never logged                   |
 * | BALLAST_ETCD_CA         |                    | PEM file of the CA that signed etcd's certificates   |
 * | BALLAST_ETCD_CERT / _KEY|                    | PEM files of the client certificate and its key      |
 * | BALLAST_REPLICA_NAME    | the hostname       | this replica's name in /v1/replica and /metrics      |
 */

export interface EtcdSettings {
  endpoints: string[];
  prefix: string;
  username?: string;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string };
}

export type StoreSettings = { kind: "file"; replicaName: string } | { kind: "etcd"; replicaName: string; etcd: EtcdSettings };

export const DEFAULT_ETCD_PREFIX = "/ballast/default";
const ETCD_VARS = ["BALLAST_ETCD_ENDPOINTS", "BALLAST_ETCD_PREFIX", "BALLAST_ETCD_USERNAME", "BALLAST_ETCD_PASSWORD", "BALLAST_ETCD_CA", "BALLAST_ETCD_CERT", "BALLAST_ETCD_KEY"];

/** Parses the endpoints list; each problem names the endpoint as given. */
export function parseEndpoints(text: string, problems: string[], variable = "BALLAST_ETCD_ENDPOINTS"): string[] {
  const endpoints = text.split(",").map((e) => e.trim()).filter((e) => e !== "");
  if (endpoints.length === 0) problems.push(`${variable} is required with BALLAST_STORE=etcd: comma-separated client URLs, e.g. http://10.0.0.1:2379,http://10.0.0.2:2379`);
  for (const endpoint of endpoints) {
    let url: URL | undefined;
    try {
      url = new URL(endpoint);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "" || (url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.username !== "") {
      problems.push(`${variable}: '${endpoint}' is not an http:// or https:// URL of a host and port (e.g. http://127.0.0.1:2379)`);
    }
  }
  return endpoints.map((e) => e.replace(/\/+$/, ""));
}

/** Checks a prefix: starts with `/`, printable ASCII without spaces, not just `/`. */
export function prefixProblem(prefix: string, variable = "BALLAST_ETCD_PREFIX"): string | undefined {
  if (!/^\/[\x21-\x7e]*$/.test(prefix) || prefix.replace(/\/+$/, "") === "") {
    return `${variable} '${prefix}' must start with '/', name more than the root, and be printable ASCII without spaces (e.g. /ballast/default)`;
  }
  return undefined;
}

/** Reads the store settings; `readPem` reads a PEM file (throws with a readable message). */
export function parseStoreSettings(env: Readonly<Record<string, string | undefined>>, problems: string[], readPem: (file: string) => string): StoreSettings {
  const replicaName = env.BALLAST_REPLICA_NAME || hostname();
  if (!/^[\x21-\x7e]{1,128}$/.test(replicaName)) problems.push(`BALLAST_REPLICA_NAME '${replicaName}' must be 1 to 128 printable ASCII characters without spaces`);
  const kind = env.BALLAST_STORE || "file";
  if (kind === "file") {
    const stray = ETCD_VARS.filter((v) => env[v] !== undefined && env[v] !== "");
    if (stray.length > 0) problems.push(`${stray.join(", ")} ${stray.length > 1 ? "are" : "is"} set but BALLAST_STORE is 'file': set BALLAST_STORE=etcd to use etcd`);
    return { kind: "file", replicaName };
  }
  if (kind !== "etcd") {
    problems.push(`BALLAST_STORE '${kind}' is not one of file, etcd`);
    return { kind: "file", replicaName };
  }
  const endpoints = parseEndpoints(env.BALLAST_ETCD_ENDPOINTS ?? "", problems);
  const prefix = env.BALLAST_ETCD_PREFIX || DEFAULT_ETCD_PREFIX;
  const bad = prefixProblem(prefix);
  if (bad) problems.push(bad);
  const username = env.BALLAST_ETCD_USERNAME || undefined;
  const password = env.BALLAST_ETCD_PASSWORD || undefined;
  if (username === undefined && password !== undefined) problems.push("BALLAST_ETCD_PASSWORD is set without BALLAST_ETCD_USERNAME");
  if (username !== undefined && password === undefined) problems.push("BALLAST_ETCD_USERNAME is set without BALLAST_ETCD_PASSWORD");
  const tls: { ca?: string; cert?: string; key?: string } = {};
  for (const [field, variable] of [["ca", "BALLAST_ETCD_CA"], ["cert", "BALLAST_ETCD_CERT"], ["key", "BALLAST_ETCD_KEY"]] as const) {
    const file = env[variable];
    if (!file) continue;
    try {
      tls[field] = readPem(file);
    } catch (err) {
      problems.push(`${variable} '${file}' cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (!!env.BALLAST_ETCD_CERT !== !!env.BALLAST_ETCD_KEY) problems.push("BALLAST_ETCD_CERT and BALLAST_ETCD_KEY go together: set both or neither");
  const usesTls = env.BALLAST_ETCD_CA || env.BALLAST_ETCD_CERT;
  if (usesTls && endpoints.some((e) => e.startsWith("http://"))) problems.push("BALLAST_ETCD_CA/_CERT are set but BALLAST_ETCD_ENDPOINTS has http:// endpoints: use https:// for TLS");
  return {
    kind: "etcd",
    replicaName,
    etcd: { endpoints, prefix, ...(username !== undefined ? { username, password: password ?? "" } : {}), ...(usesTls ? { tls } : {}) },
  };
}
