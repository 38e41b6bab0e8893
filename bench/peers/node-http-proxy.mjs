// Peer: http-proxy (node-http-proxy) in front of one server, upstream keep-alive through an Agent.
//   node node-http-proxy.mjs '{"http":PORT}' '{"http":[ORIGIN PORTS...]}' <bench/.peers>
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";

const [front, upstreams, peers] = process.argv.slice(2);
const { http: port } = JSON.parse(front);
const origin = JSON.parse(upstreams);
const httpProxy = createRequire(path.join(peers, "package.json"))("http-proxy");

const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${origin.http[0]}`, agent, xfwd: true });
proxy.on("error", (_err, _req, res) => {
  if (res.writeHead && !res.headersSent) res.writeHead(502).end("bad gateway");
  else res.destroy?.();
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 300_000;
server.listen(port, "127.0.0.1", 4096, () => console.log("listening"));

// Exit on SIGTERM through process.exit, so that `--cpu-prof` (bench/profile.mjs --peer) writes its profile.
process.on("SIGTERM", () => process.exit(0));
