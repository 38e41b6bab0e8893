// Holds many idle keep-alive client connections open to a proxy, for the memory measurement:
//   node idle-clients.mjs <port> <count> [<path>]
// Each connection sends one GET, reads its response head, then stays open and silent. Connects at
// most 256 at a time (a burst of 10,000 SYNs overflows a listen backlog). Prints
// {"opened":N,"failed":F,"ms":T} once all are set up; on the line "count" on stdin prints
// {"open":N} (connections the proxy has not closed). Exits when its stdin closes or on SIGTERM.
import net from "node:net";
import readline from "node:readline";

const [portText, countText, path = "/64"] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const request = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`;
const sockets = new Set();
let failed = 0;
const started = performance.now();

function open() {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!ok) failed++;
      resolve();
    };
    const timer = setTimeout(() => (s.destroy(), finish(false)), 15_000);
    s.on("connect", () => s.write(request));
    s.on("data", (d) => {
      if (d.includes("\r\n\r\n")) {
        sockets.add(s);
        finish(true);
      }
    });
    s.on("error", () => finish(false));
    s.on("close", () => {
      sockets.delete(s);
      finish(false);
    });
  });
}

let next = 0;
async function lane() {
  while (next < count) {
    next++;
    await open();
  }
}
await Promise.all(Array.from({ length: Math.min(256, count) }, lane));
console.log(JSON.stringify({ opened: sockets.size, failed, ms: Math.round(performance.now() - started) }));

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (line.trim() === "count") console.log(JSON.stringify({ open: sockets.size }));
});
rl.on("close", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
