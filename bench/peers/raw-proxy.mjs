// Reference: the smallest HTTP/1.1 proxy written on `net` sockets (no node:http, no undici):
// Content-Length framing only, one request at a time per client connection, an idle pool of
// upstream connections. Not a usable proxy: the ceiling of a JavaScript HTTP engine on this machine.
//   node raw-proxy.mjs '{"http":PORT}' '{"http":[ORIGIN PORTS...]}' <unused>
import net from "node:net";

const [front, upstreams] = process.argv.slice(2);
const { http: port } = JSON.parse(front);
const origin = JSON.parse(upstreams);
const idle = [];
const CRLF2 = Buffer.from("\r\n\r\n");

function headEnd(buf) {
  return buf.indexOf(CRLF2);
}

function contentLength(head) {
  const i = head.toLowerCase().indexOf("\r\ncontent-length:");
  if (i < 0) return 0;
  return parseInt(head.slice(i + 17, head.indexOf("\r", i + 17)), 10);
}

function upstreamConn() {
  const u = idle.pop();
  if (u) return u;
  const s = net.connect(origin.http[0], "127.0.0.1");
  s.setNoDelay(true);
  s.buf = null;
  s.on("data", (d) => s.onData(d));
  s.on("error", () => s.client?.destroy());
  return s;
}

const server = net.createServer((client) => {
  client.setNoDelay(true);
  let buf = null;
  let busy = false;
  const xff = `x-forwarded-for: ${client.remoteAddress}\r\n`;
  client.on("data", (d) => {
    buf = buf ? Buffer.concat([buf, d]) : d;
    if (!busy) next();
  });
  client.on("error", () => {});
  function next() {
    if (!buf) return;
    const end = headEnd(buf);
    if (end < 0) return;
    const head = buf.latin1Slice(0, end + 2);
    buf = buf.length > end + 4 ? buf.subarray(end + 4) : null;
    busy = true;
    const up = upstreamConn();
    up.client = client;
    up.write(head + xff + "\r\n");
    let need = -1;
    up.onData = (d) => {
      if (need < 0) {
        up.buf = up.buf ? Buffer.concat([up.buf, d]) : d;
        const e = headEnd(up.buf);
        if (e < 0) return;
        const h = up.buf.latin1Slice(0, e + 4);
        need = contentLength(h) + e + 4;
        d = up.buf;
        up.buf = null;
      }
      need -= d.length;
      client.write(d);
      if (need <= 0) {
        up.client = null;
        up.onData = null;
        idle.push(up);
        busy = false;
        next();
      }
    };
  }
});
server.listen(port, "127.0.0.1", 4096, () => console.log("listening"));

// Exit on SIGTERM through process.exit, so that `--cpu-prof` (bench/profile.mjs --peer) writes its profile.
process.on("SIGTERM", () => process.exit(0));
