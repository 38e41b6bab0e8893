// The proxies Ballast is measured against, each started once with one front port per scenario:
//
//   base+0 http, one server          base+3 tcp pass-through, one server
//   base+1 http, cookie persistence  base+4 http, two servers (admin change → traffic shift)
//   base+2 http, 100 servers (round robin)
//
// A peer that lacks a feature leaves its port out of `ports` and the report shows "n/a".
// Configurations follow each project's documented keep-alive settings so that nobody pays for a
// new upstream connection per request.
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PEERS_DIR } from "./install.mjs";
import { nginxPreamble } from "./origin.mjs";
import { spawnPinned, startLogReader, stopChild, waitPort } from "./proc.mjs";

export const OFFSET = { http: 0, cookie: 1, g100: 2, tcp: 3, shift: 4 };
const PEER_SCRIPTS = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), "peers");

function portsOf(base, kinds) {
  return Object.fromEntries(kinds.map((k) => [k, base + OFFSET[k]]));
}

async function waitAll(ports, child) {
  for (const p of Object.values(ports)) await waitPort(p, { child });
}

/** nginx, 1 worker (or `workers`): upstream keepalive (HTTP/1.1, Connection cleared), stream module for TCP. */
export async function startNginx({ dir, base, cpus, origin, workers = 1 }) {
  const tmp = path.join(dir, "tmp");
  mkdirSync(tmp, { recursive: true });
  const ports = portsOf(base, ["http", "g100", "tcp", "shift"]);
  const upstream = (name, servers) =>
    `  upstream ${name} {\n${servers.map((p) => `    server 127.0.0.1:${p};`).join("\n")}\n    keepalive 256;\n    keepalive_requests 10000000;\n    keepalive_timeout 300s;\n  }`;
  const server = (port, up) => `  server { listen 127.0.0.1:${port} backlog=4096; location / { proxy_pass http://${up}; } }`;
  const conf = `
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
${nginxPreamble({ dir, tmp, workers, pidFile: "nginx.pid", connections: 19000 })}
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host $http_host;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
${upstream("one", [origin.http[0]])}
${upstream("hundred", origin.http)}
${upstream("shift", origin.shift)}
${server(ports.http, "one")}
${server(ports.g100, "hundred")}
${server(ports.shift, "shift")}
}
stream {
  server { listen 127.0.0.1:${ports.tcp} backlog=4096; proxy_pass 127.0.0.1:${origin.http[0]}; }
}
`;
  const file = path.join(dir, "nginx.conf");
  writeFileSync(file, conf);
  const child = spawnPinned(cpus, "nginx", ["-p", dir, "-c", file, "-e", "stderr"]);
  await waitAll(ports, child);
  return { pid: child.pid, ports, child, stop: () => stopChild(child) };
}

/** HAProxy, 1 thread: http-reuse always, cookie insertion, runtime API on a socket in `dir`. */
/** `log`: HAProxy's access log on (`option httplog` to stdout, read like Ballast's: `startLogReader`). */
export async function startHaproxy({ dir, base, cpus, origin, log = false, loadCpus = "0" }) {
  const ports = portsOf(base, ["http", "cookie", "g100", "tcp", "shift"]);
  const sock = path.join(dir, "haproxy.sock");
  const conf = `
global
  nbthread 1
  # 10,000 idle clients + upstream connections. HAProxy reserves two FDs per connection and would
  # refuse to start under this machine's hard FD limit (20,000): warn instead (idle clients need one).
  maxconn 10200
  no strict-limits
  pidfile ${dir}/haproxy.pid
  stats socket ${sock} level admin
${log ? "  log stdout format raw daemon\n" : ""}
defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
  timeout http-request 10s
  http-reuse always
${log ? "  log global\n  option httplog\n" : ""}
frontend plain
  option forwardfor
  bind 127.0.0.1:${ports.http}
  default_backend one
backend one
  server s0 127.0.0.1:${origin.http[0]}

frontend cookie
  option forwardfor
  bind 127.0.0.1:${ports.cookie}
  default_backend sticky
backend sticky
  cookie SRV insert indirect nocache
  server s0 127.0.0.1:${origin.http[0]} cookie s0

frontend hundred
  option forwardfor
  bind 127.0.0.1:${ports.g100}
  default_backend hundred
backend hundred
  balance roundrobin
${origin.http.map((p, i) => `  server s${i} 127.0.0.1:${p}`).join("\n")}

frontend shift
  option forwardfor
  bind 127.0.0.1:${ports.shift}
  default_backend shift
backend shift
  balance roundrobin
  server a 127.0.0.1:${origin.shift[0]}
  server b 127.0.0.1:${origin.shift[1]}

listen tcp
  mode tcp
  bind 127.0.0.1:${ports.tcp}
  server s0 127.0.0.1:${origin.http[0]}
`;
  const file = path.join(dir, "haproxy.cfg");
  writeFileSync(file, conf);
  const reader = log ? await startLogReader(loadCpus) : undefined;
  const child = spawnPinned(cpus, "haproxy", ["-db", "-f", file], { stdio: ["ignore", reader?.stream ?? "pipe", "pipe"] });
  await waitAll(ports, child);
  return {
    pid: child.pid,
    ports,
    child,
    stop: async () => {
      await stopChild(child);
      await reader?.stop();
    },
    /** Runtime API: `set weight shift/b <w>`. */
    setShiftWeight: (w) => haproxyCommand(sock, `set weight shift/b ${w}`),
  };
}

function haproxyCommand(sock, command) {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let out = "";
    c.setEncoding("utf8");
    c.on("data", (d) => (out += d));
    c.on("error", reject);
    c.on("end", () => resolve(out));
    c.on("connect", () => c.end(`${command}\n`));
  });
}

/**
 * A Node proxy from bench/peers/<script>: `node <script> <port> <upstream ports> <peer modules dir>`,
 * printing "listening" when ready.
 */
async function startNodePeer(script, { base, cpus, origin, kinds, nodeArgs = [] }) {
  const ports = portsOf(base, kinds);
  const front = JSON.stringify(ports);
  const upstreams = JSON.stringify(origin);
  const child = spawnPinned(cpus, process.execPath, [...nodeArgs, path.join(PEER_SCRIPTS, script), front, upstreams, PEERS_DIR]);
  await waitAll(ports, child);
  return { pid: child.pid, ports, child, stop: () => stopChild(child) };
}

export const startNodeHttpProxy = (o) => startNodePeer("node-http-proxy.mjs", { ...o, kinds: ["http"] });
export const startFastifyProxy = (o) => startNodePeer("fastify-proxy.mjs", { ...o, kinds: ["http"] });
export const startUndiciProxy = (o) => startNodePeer("undici-proxy.mjs", { ...o, kinds: ["http"] });
export const startRawProxy = (o) => startNodePeer("raw-proxy.mjs", { ...o, kinds: ["http"] });
export const startNetPipe = (o) => startNodePeer("net-pipe.mjs", { ...o, kinds: ["tcp"] });

/** The version of a Node peer package as installed in bench/.peers. */
export function peerRequire() {
  return createRequire(path.join(PEERS_DIR, "package.json"));
}
