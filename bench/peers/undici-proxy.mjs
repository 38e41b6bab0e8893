// Reference: the smallest node:http + undici Pool proxy (no header policy, no scheduler, no
// metrics): the floor of what a Node proxy built like Ballast's HTTP engine can reach.
//   node undici-proxy.mjs '{"http":PORT}' '{"http":[ORIGIN PORTS...]}' <unused>
import http from "node:http";
import { Pool } from "undici";

const [front, upstreams] = process.argv.slice(2);
const { http: port } = JSON.parse(front);
const origin = JSON.parse(upstreams);
const pool = new Pool(`http://127.0.0.1:${origin.http[0]}`, { connections: 256, pipelining: 1, keepAliveTimeout: 300_000 });
const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "trailer", "upgrade"]);

const server = http.createServer((req, res) => {
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
  headers["x-forwarded-for"] = req.socket.remoteAddress;
  pool
    .stream({ method: req.method, path: req.url, headers, body: req.method === "GET" || req.method === "HEAD" ? null : req }, ({ statusCode, headers: h }) => {
      for (const k of HOP) delete h[k];
      res.writeHead(statusCode, h);
      return res;
    })
    .catch(() => {
      if (!res.headersSent) res.writeHead(502).end("bad gateway");
      else res.destroy();
    });
});
server.keepAliveTimeout = 300_000;
server.listen(port, "127.0.0.1", 4096, () => console.log("listening"));

// Exit on SIGTERM through process.exit, so that `--cpu-prof` (bench/profile.mjs --peer) writes its profile.
process.on("SIGTERM", () => process.exit(0));
