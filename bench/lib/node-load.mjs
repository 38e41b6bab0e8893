// A small keep-alive HTTP/1.1 load generator for the CI smoke (no wrk there):
//   node node-load.mjs <url> <connections> <seconds> [<headers as a JSON array of "Name: value">]
// Each connection sends one GET at a time and reads Content-Length framed responses. Prints one
// JSON line in the shape of load.mjs's parseWrk.
import net from "node:net";

const [url, connText, secText, headerJson] = process.argv.slice(2);
const target = new URL(url);
const connections = Number(connText);
const seconds = Number(secText);
const extra = headerJson ? JSON.parse(headerJson) : [];
const request = Buffer.from(
  `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n${extra.map((h) => `${h}\r\n`).join("")}\r\n`,
  "latin1",
);

const latencies = [];
let requests = 0;
let bytes = 0;
let errors = 0;
let non2xx = 0;
let stopping = false;
const started = performance.now();

function connection() {
  return new Promise((resolve) => {
    const sock = net.connect(Number(target.port), target.hostname);
    let buf = Buffer.alloc(0);
    let sentAt = 0;
    let need = -1;
    let status = 0;
    const send = () => {
      if (stopping) return sock.end();
      sentAt = performance.now();
      sock.write(request);
    };
    sock.on("connect", send);
    sock.on("data", (chunk) => {
      bytes += chunk.length;
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        if (need < 0) {
          const end = buf.indexOf("\r\n\r\n");
          if (end < 0) return;
          const head = buf.subarray(0, end).toString("latin1");
          status = Number(head.slice(9, 12));
          const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          need = end + 4 + (m ? Number(m[1]) : 0);
        }
        if (buf.length < need) return;
        buf = buf.subarray(need);
        need = -1;
        requests++;
        if (status < 200 || status >= 400) non2xx++;
        latencies.push(performance.now() - sentAt);
        send();
      }
    });
    sock.on("error", () => errors++);
    sock.on("close", () => resolve());
  });
}

const all = Array.from({ length: connections }, connection);
setTimeout(() => (stopping = true), seconds * 1000);
// Bounded: connections that do not finish their last response in 5 s are cut.
setTimeout(() => process.exit(2), seconds * 1000 + 5000).unref();
await Promise.all(all);
const elapsed = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const at = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : undefined);
console.log(
  JSON.stringify({
    requests,
    seconds: elapsed,
    rps: requests / elapsed,
    bytesPerSec: bytes / elapsed,
    latencyMs: { p50: at(50), p90: at(90), p99: at(99) },
    errors,
    non2xx,
  }),
);
