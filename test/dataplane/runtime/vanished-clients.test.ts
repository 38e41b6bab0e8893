import http from "node:http";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { admin, freeTcpPorts, httpRequest, startRuntime, stopRuntime, waitFor, waitForWorkers, type RuntimeDataplane } from "../../helpers/runtime-harness";

/**
 * Issue 20 through the real process, with the proxies in the primary (BALLAST_WORKERS=0) and in
 * two worker processes: clients that pipeline requests for large responses, stop reading and
 * vanish — the sequence that left upstream connections paused in the idle pool, where the next
 * requests waited for the 60 s head timeout. Every next request must be answered; none may wait
 * anywhere near that long (each is bounded well below it, so a stalled one fails the test).
 */

const BIG = 32 * 1024;
const dataplanes: RuntimeDataplane[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  await Promise.all(dataplanes.splice(0).map((dp) => stopRuntime(dp)));
  for (const c of cleanups.splice(0)) await c();
});

async function bigOrigin(): Promise<{ port: number; served: () => number }> {
  let served = 0;
  const body = Buffer.alloc(BIG, 0x62);
  const server = http.createServer((req, res) => {
    served++;
    if (req.url === "/big") res.writeHead(200, { "content-length": BIG }).end(body);
    else res.writeHead(200, { "content-length": 2 }).end("ok");
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, served: () => served };
}

describe("runtime: clients that vanish mid-request (issue 20)", () => {
  for (const workers of [0, 2]) {
    it(`BALLAST_WORKERS=${workers}: after pipelining clients stop reading and vanish, every next request is answered`, async () => {
      const origin = await bigOrigin();
      const dp = await startRuntime(workers);
      dataplanes.push(dp);
      if (workers > 0) await waitForWorkers(dp, workers);
      const [port] = (await freeTcpPorts(1)) as [number];
      const api = admin(dp);
      await api.create("server-groups", { name: "pool", type: "virtual", servers: [{ address: "127.0.0.1", port: origin.port }] });
      await api.create("backend-services", { name: "web", protocol: "http", port: 80, serverGroup: "pool" });
      await api.create("listeners", { name: "front", protocol: "http", port, backendService: "web" });
      await waitFor("listener up", async () => ((await httpRequest(port, { timeoutMs: 5_000 })).status === 200 ? true : undefined));

      for (let round = 0; round < 3; round++) {
        // Eight clients (spread over the workers by the kernel), each pipelining 200 requests for
        // 32 KiB and never reading: the balancer's writes to them fill up and wait.
        const clients: net.Socket[] = [];
        for (let i = 0; i < 8; i++) {
          const s = net.connect(port, "127.0.0.1");
          s.on("error", () => {});
          s.pause();
          s.write("GET /big HTTP/1.1\r\nHost: x\r\n\r\n".repeat(200));
          clients.push(s);
        }
        const before = origin.served();
        await waitFor(
          "the origin to stop being asked (every client's buffers full)",
          async () => {
            const now = origin.served();
            await new Promise((r) => setTimeout(r, 300));
            return origin.served() === now && now > before ? true : undefined;
          },
          30_000,
          0,
        );
        for (const s of clients) s.resetAndDestroy();

        const answers: (number | string)[] = [];
        for (let i = 0; i < 12; i++) {
          const r = await httpRequest(port, { timeoutMs: 15_000 });
          answers.push(r.status || (r.error ?? "no answer"));
        }
        expect(answers).toEqual(Array(12).fill(200));
      }
      const status = await waitFor("nothing in flight", async () => {
        const servers = await api.status("web");
        return servers.every((s) => s.activeRequests === 0) ? servers : undefined;
      });
      expect(status).toHaveLength(1);
    });
  }
});
