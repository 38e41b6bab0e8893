// Peer: Node's `net` pipe, the TCP proxy a TypeScript team writes in ten lines.
//   node net-pipe.mjs '{"tcp":PORT}' '{"http":[ORIGIN PORTS...]}' <unused>
import net from "node:net";

const [front, upstreams] = process.argv.slice(2);
const { tcp: port } = JSON.parse(front);
const origin = JSON.parse(upstreams);

const server = net.createServer((client) => {
  const upstream = net.connect(origin.http[0], "127.0.0.1");
  client.pipe(upstream).pipe(client);
  client.on("error", () => upstream.destroy());
  upstream.on("error", () => client.destroy());
});
server.listen(port, "127.0.0.1", 4096, () => console.log("listening"));

// Exit on SIGTERM through process.exit, so that `--cpu-prof` (bench/profile.mjs --peer) writes its profile.
process.on("SIGTERM", () => process.exit(0));
