// Peer: @fastify/http-proxy (fastify + @fastify/reply-from, undici pool) in front of one server.
//   node fastify-proxy.mjs '{"http":PORT}' '{"http":[ORIGIN PORTS...]}' <bench/.peers>
import { createRequire } from "node:module";
import path from "node:path";

const [front, upstreams, peers] = process.argv.slice(2);
const { http: port } = JSON.parse(front);
const origin = JSON.parse(upstreams);
const req = createRequire(path.join(peers, "package.json"));
const Fastify = req("fastify");
const proxy = req("@fastify/http-proxy");

const app = Fastify({ logger: false, keepAliveTimeout: 300_000 });
app.register(proxy, {
  upstream: `http://127.0.0.1:${origin.http[0]}`,
  undici: { connections: 256, pipelining: 1, keepAliveTimeout: 300_000 },
});
await app.listen({ port, host: "127.0.0.1", backlog: 4096 });
console.log("listening");

// Exit on SIGTERM through process.exit, so that `--cpu-prof` (bench/profile.mjs --peer) writes its profile.
process.on("SIGTERM", () => process.exit(0));
