// The origin every proxy forwards to. The real run uses nginx with one worker serving fixed bodies
// from memory and the page cache: fast enough that HAProxy fills its own core in front of it. A Node
// origin would be the bottleneck, and every ratio would then flatter the slow proxies. The Node
// origin is for the CI smoke only (no Debian packages there) and for the admin-change measurement,
// which needs to timestamp each request's arrival.
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { spawnPinned, stopChild, waitPort } from "./proc.mjs";

/** Paths served by both origins: a 64-byte, a 16 KiB and a 1 MiB body. */
export const BODIES = { "/64": 64, "/16k": 16 * 1024, "/1m": 1024 * 1024 };

function body(size) {
  return Buffer.alloc(size, "ballast-bench-origin-payload.").subarray(0, size);
}

/**
 * The start of an nginx configuration both bench nginx instances share (the origin here, the nginx
 * peer in peers.mjs): process settings, then the opening of the `http` block with its temp paths
 * and long-lived keep-alive. `tmp` must exist; the caller closes the `http` block.
 */
export function nginxPreamble({ dir, tmp, workers, pidFile, connections }) {
  return `${process.getuid?.() === 0 ? "user root;" : ""}
worker_processes ${workers};
daemon off;
pid ${dir}/${pidFile};
error_log stderr warn;
worker_rlimit_nofile 20000;
events { worker_connections ${connections}; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy; fastcgi_temp_path ${tmp}/fcgi;
  uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;`;
}

/** nginx 1 worker listening on every port of `ports`, all serving the same bodies. */
export async function startNginxOrigin({ dir, ports, cpus }) {
  const www = path.join(dir, "www");
  const tmp = path.join(dir, "tmp");
  mkdirSync(www, { recursive: true });
  mkdirSync(tmp, { recursive: true });
  for (const [p, size] of Object.entries(BODIES)) if (size > 64) writeFileSync(path.join(www, p.slice(1)), body(size));
  const conf = `
${nginxPreamble({ dir, tmp, workers: 1, pidFile: "origin.pid", connections: 10000 })}
  sendfile on; tcp_nopush on; tcp_nodelay on;
  open_file_cache max=16 inactive=600s; open_file_cache_valid 600s;
  default_type application/octet-stream;
  server {
${ports.map((p) => `    listen 127.0.0.1:${p} backlog=4096;`).join("\n")}
    root ${www};
    location = /64 { return 200 "${body(64).toString("latin1")}"; }
    location / { }
  }
}
`;
  const file = path.join(dir, "origin.conf");
  writeFileSync(file, conf);
  const child = spawnPinned(cpus, "nginx", ["-p", dir, "-c", file, "-e", "stderr"]);
  await waitPort(ports[0], { child });
  await waitPort(ports[ports.length - 1], { child });
  return { kind: "nginx (1 worker)", pid: child.pid, stop: () => stopChild(child) };
}

/**
 * Node origins in this process, one server per port. `arrivals[port]` is the time
 * (performance.now(), this process's clock) of the last request each port received.
 */
export async function startNodeOrigin({ ports }) {
  const arrivals = {};
  const bodies = Object.fromEntries(Object.entries(BODIES).map(([p, size]) => [p, body(size)]));
  const servers = await Promise.all(
    ports.map(
      (port) =>
        new Promise((resolve, reject) => {
          const srv = http.createServer((req, res) => {
            arrivals[port] = performance.now();
            const b = bodies[req.url.split("?")[0]] ?? bodies["/64"];
            res.writeHead(200, { "content-type": "application/octet-stream", "content-length": b.length });
            res.end(b);
          });
          srv.keepAliveTimeout = 300_000;
          srv.once("error", reject);
          srv.listen(port, "127.0.0.1", 4096, () => resolve(srv));
        }),
    ),
  );
  return {
    kind: "node:http",
    pid: process.pid,
    arrivals,
    stop: () => Promise.all(servers.map((s) => new Promise((r) => (s.closeAllConnections(), s.close(() => r()))))),
  };
}
