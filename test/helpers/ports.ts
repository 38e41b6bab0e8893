import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";

/**
 * Ports for the listeners, services and "nothing listens here" addresses tests name explicitly.
 *
 * They come from below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`), never from
 * it. A port in that range can be taken at any moment by anything on the machine: as the source
 * port of an outgoing connection (the proxies' upstream connections, the bench smoke's load, the
 * Pulumi CLI's gRPC) or by a `listen(0)`. A test that deletes a listener and later binds its port
 * again then fails with EADDRINUSE by chance; it did in CI once. Below the range only another
 * explicit pick can collide, so each vitest worker (`VITEST_POOL_ID`) draws from its own slice,
 * one process never hands out a port twice, and every pick is bound on 0.0.0.0 (which any
 * listener on the port, whatever its address, refuses) and released before it is returned.
 *
 *   const [http, tcp] = await freePorts(2);
 */

const SLICE = 3000;
const SLICES = 4;

/** The first port of the kernel's ephemeral range (32768 when it cannot be read). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 1024) return low;
  } catch {
    // Not Linux, or /proc hidden: Linux's default.
  }
  return 32768;
}

function slice(): { start: number; size: number } {
  const pool = Number(process.env.VITEST_POOL_ID ?? "1");
  const index = ((Number.isInteger(pool) && pool > 0 ? pool : 1) - 1) % SLICES;
  const low = ephemeralLow();
  const base = Math.max(1024, low - SLICES * SLICE);
  const size = Math.floor((low - base) / SLICES);
  if (size < 100) throw new Error(`ports: the ephemeral range starts at ${low}, leaving no room below it for test ports`);
  return { start: base + index * size, size };
}

const given = new Set<number>();
let next = -1;

function bindable(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen({ port, host: "0.0.0.0", exclusive: true }, () => resolve(server));
  });
}

/** `n` distinct ports that nothing listened on a moment ago and that no outgoing connection will take. */
export async function freePorts(n: number): Promise<number[]> {
  const { start, size } = slice();
  if (next < 0) next = Math.floor(Math.random() * size);
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    for (let tried = 0; ports.length < n; tried++) {
      if (tried >= size) throw new Error(`ports: no free port left in ${start}-${start + size - 1} (${given.size} handed out)`);
      const port = start + (next++ % size);
      if (given.has(port)) continue;
      const server = await bindable(port);
      if (!server) continue;
      held.push(server);
      given.add(port);
      ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(held.map((s) => new Promise<void>((done) => s.close(() => done()))));
  }
}

/** One port as `freePorts` gives them. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0] as number;
}
