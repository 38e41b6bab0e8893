// What the benchmark needs, installed when missing: Debian's wrk, nginx (with its stream module for
// TCP mode) and haproxy; the Node peers in bench/.peers (its own package.json, gitignored), so the
// project's node_modules and lockfile are never touched.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "./proc.mjs";

export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const REPO_DIR = path.dirname(BENCH_DIR);
export const PEERS_DIR = path.join(BENCH_DIR, ".peers");

/** Exact versions of the Node peers (the report prints what was actually loaded). */
export const PEER_PACKAGES = {
  "http-proxy": "1.18.1",
  "@fastify/http-proxy": "11.6.3",
  fastify: "5.12.8",
};

const DEBIAN = [
  { bin: "wrk", pkg: "wrk" },
  { bin: "nginx", pkg: "nginx" },
  { bin: "haproxy", pkg: "haproxy" },
  { file: "/usr/lib/nginx/modules/ngx_stream_module.so", pkg: "libnginx-mod-stream" },
];

async function hasBin(bin) {
  try {
    await run("sh", ["-c", `command -v ${bin}`]);
    return true;
  } catch {
    return false;
  }
}

/** apt-get installs whichever of wrk, nginx, its stream module and haproxy is missing. */
export async function ensureDebian(log) {
  const missing = [];
  for (const d of DEBIAN) {
    const present = d.bin ? await hasBin(d.bin) : existsSync(d.file);
    if (!present) missing.push(d.pkg);
  }
  if (missing.length === 0) return;
  log(`installing Debian packages: ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  await run("apt-get", ["update", "-qq"], { env, timeoutMs: 300_000 });
  await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { env, timeoutMs: 600_000 });
}

function peersInstalled() {
  try {
    const req = createRequire(path.join(PEERS_DIR, "package.json"));
    return Object.entries(PEER_PACKAGES).every(([name, version]) => JSON.parse(readFileSync(req.resolve(`${name}/package.json`), "utf8")).version === version);
  } catch {
    return false;
  }
}

/** npm-installs the Node peers at their pinned versions into bench/.peers when missing. */
export async function ensurePeers(log) {
  if (peersInstalled()) return;
  log(`installing Node peers into ${path.relative(REPO_DIR, PEERS_DIR)}: ${Object.entries(PEER_PACKAGES).map(([n, v]) => `${n}@${v}`).join(" ")}`);
  mkdirSync(PEERS_DIR, { recursive: true });
  const pkg = path.join(PEERS_DIR, "package.json");
  if (!existsSync(pkg)) writeFileSync(pkg, JSON.stringify({ name: "ballast-bench-peers", private: true, description: "Written by bench/lib/install.mjs" }, null, 2) + "\n");
  const specs = Object.entries(PEER_PACKAGES).map(([n, v]) => `${n}@${v}`);
  await run("npm", ["install", "--prefix", PEERS_DIR, "--no-audit", "--no-fund", "--save-exact", "--loglevel=error", ...specs], { timeoutMs: 600_000 });
  if (!peersInstalled()) throw new Error(`the Node peers are still missing from ${PEERS_DIR} after npm install`);
}

/** Versions of everything measured, for the report. */
export async function versions({ withDebian }) {
  const out = { node: process.version };
  const peerReq = createRequire(path.join(PEERS_DIR, "package.json"));
  const repoReq = createRequire(path.join(REPO_DIR, "package.json"));
  for (const name of Object.keys(PEER_PACKAGES)) {
    try {
      out[name] = JSON.parse(readFileSync(peerReq.resolve(`${name}/package.json`), "utf8")).version;
    } catch {
      // not installed (smoke)
    }
  }
  out.undici = JSON.parse(readFileSync(repoReq.resolve("undici/package.json"), "utf8")).version;
  out.ballast = JSON.parse(readFileSync(path.join(REPO_DIR, "package.json"), "utf8")).version;
  try {
    out.ballastCommit = (await run("git", ["-C", REPO_DIR, "rev-parse", "--short", "HEAD"])).trim();
    const dirty = (await run("git", ["-C", REPO_DIR, "status", "--porcelain", "--", "dataplane", "model"])).trim();
    if (dirty) out.ballastCommit += " + uncommitted changes in dataplane/";
  } catch {
    // not a git checkout
  }
  if (withDebian) {
    out.nginx = (await run("nginx", ["-v"])).trim().replace(/^nginx version: /, "");
    out.haproxy = (await run("haproxy", ["-v"])).split("\n")[0].replace(/^HAProxy version /, "").replace(/ - https.*$/, "");
    // `wrk -v` prints its version and exits 1.
    out.wrk = (await run("sh", ["-c", "wrk -v 2>&1 || true"])).split("\n")[0].replace(/ Copyright.*$/, "").trim();
  }
  return out;
}
