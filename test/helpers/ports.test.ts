import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort, freePorts } from "./ports";

const ephemeralLow = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);

function bind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "0.0.0.0", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

describe("test ports", () => {
  it("come from below the ephemeral range, are distinct across calls and bindable on every address", async () => {
    const ports = [...(await freePorts(20)), await freePort(), ...(await freePorts(3))];
    expect(new Set(ports).size).toBe(ports.length);
    for (const p of ports) {
      expect(p).toBeGreaterThan(1024);
      expect(p).toBeLessThan(ephemeralLow);
      expect(await bind(p), `port ${p}`).toBe(true);
    }
  });

  it("skip a port someone holds", async () => {
    const held: Array<ReturnType<typeof createServer>> = [];
    try {
      // Hold the next few candidates of this process; the pick must step over them.
      const [first] = await freePorts(1);
      for (let p = first! + 1; p <= first! + 5; p++) {
        const s = createServer();
        await new Promise<void>((resolve) => {
          s.once("error", () => resolve());
          s.listen({ port: p, host: "127.0.0.1" }, () => resolve());
        });
        if (s.listening) held.push(s);
      }
      const taken = new Set(held.map((s) => (s.address() as { port: number }).port));
      expect(taken.size).toBeGreaterThan(0);
      const next = await freePort();
      expect(taken.has(next)).toBe(false);
    } finally {
      await Promise.all(held.map((s) => new Promise<void>((done) => s.close(() => done()))));
    }
  });
});
