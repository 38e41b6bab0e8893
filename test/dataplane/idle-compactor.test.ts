import { readFileSync } from "node:fs";
import { afterEach, describe, expect, test } from "vitest";
import { IdleCompactor, type CompactorProbes } from "../../dataplane/idle-compactor";
import { silentLogger } from "../../dataplane/log";
import { startDataplane, type Dataplane } from "../helpers/dataplane-process";

/** The idle compactor (dataplane/idle-compactor.ts): memory back once a busy process goes quiet. */

const MB = 1024 * 1024;

/** Probes a test drives by hand: `work(ms)` spends CPU, `grow(bytes)` grows the heap. */
function fakeProcess(heapMB: number) {
  let cpuMicros = 0;
  let now = 0;
  let heap = heapMB * MB;
  const collections: number[] = [];
  const probes: CompactorProbes = {
    gc: () => {
      collections.push(heap);
      heap = Math.round(heap * 0.6);
    },
    cpuMicros: () => cpuMicros,
    heapBytes: () => heap,
    now: () => now,
  };
  return {
    probes,
    collections,
    /** `ms` of wall time pass, of which `cpuMs` on the CPU. */
    pass(ms: number, cpuMs = 0) {
      now += ms;
      cpuMicros += cpuMs * 1000;
    },
    grow(bytes: number) {
      heap += bytes;
    },
    get heap() {
      return heap;
    },
  };
}

describe("IdleCompactor", () => {
  const opts = { log: silentLogger(), intervalMs: 500, idleCpuShare: 0.01, minGrowthBytes: 2 * MB, minGrowthShare: 0.25 };

  test("compacts at the first idle look after start-up, then not again while nothing grows", () => {
    const p = fakeProcess(20);
    const c = new IdleCompactor(p.probes, opts);
    p.pass(500, 1); // 0.2% of a core: idle
    const done = c.look();
    expect(done).toMatchObject({ beforeBytes: 20 * MB, afterBytes: 12 * MB });
    for (let i = 0; i < 10; i++) {
      p.pass(500, 1);
      expect(c.look()).toBeUndefined();
    }
    expect(c.compactions).toBe(1);
  });

  test("never while the process is busy, however much the heap grew; at once when it goes quiet", () => {
    const p = fakeProcess(20);
    const c = new IdleCompactor(p.probes, opts);
    for (let i = 0; i < 20; i++) {
      p.pass(500, 400); // 80% of a core
      p.grow(5 * MB);
      expect(c.look()).toBeUndefined();
    }
    p.pass(500, 6); // 1.2%: still traffic
    expect(c.look()).toBeUndefined();
    p.pass(500, 4); // 0.8%: quiet
    expect(c.look()).toMatchObject({ beforeBytes: 120 * MB });
    expect(p.collections).toEqual([120 * MB]);
  });

  test("after a compaction, only growth of minGrowthBytes or more is worth another", () => {
    const p = fakeProcess(20);
    const c = new IdleCompactor(p.probes, { ...opts, minGrowthShare: 0 });
    p.pass(500);
    c.look(); // 20 → 12 MB
    p.grow(2 * MB - 1);
    p.pass(500);
    expect(c.look()).toBeUndefined();
    p.grow(1);
    p.pass(500);
    expect(c.look()).toMatchObject({ beforeBytes: 14 * MB });
  });

  test("a large heap must grow by a quarter of itself too: its pause buys back memory in proportion", () => {
    const p = fakeProcess(100);
    const c = new IdleCompactor(p.probes, opts);
    p.pass(500);
    c.look(); // 100 → 60 MB
    p.grow(14 * MB); // 74 MB: 14 MB above, under 25% of 60
    p.pass(500);
    expect(c.look()).toBeUndefined();
    p.grow(1 * MB); // 75 MB: 25%
    p.pass(500);
    expect(c.look()).toMatchObject({ beforeBytes: 75 * MB });
  });

  test("growth counts from the lowest size seen: V8 shrinking on its own does not hide later growth", () => {
    const p = fakeProcess(20);
    const c = new IdleCompactor(p.probes, opts);
    p.pass(500);
    c.look(); // baseline 12 MB
    p.grow(-4 * MB); // 8 MB
    p.pass(500);
    expect(c.look()).toBeUndefined();
    p.grow(3 * MB); // 11 MB: below the old baseline, 3 MB above the lowest
    p.pass(500);
    expect(c.look()).toMatchObject({ beforeBytes: 11 * MB });
  });

  test("the collection's own CPU does not make the next look busy", () => {
    const p = fakeProcess(20);
    const gc = p.probes.gc;
    p.probes.gc = () => {
      gc();
      p.pass(40, 40); // a 40 ms collection
    };
    const c = new IdleCompactor(p.probes, opts);
    p.pass(500);
    c.look();
    p.grow(3 * MB);
    p.pass(500, 1);
    expect(c.look()).toBeDefined();
  });
});

describe("the data plane compacts when idle", () => {
  let dp: Dataplane | undefined;
  afterEach(async () => {
    await dp?.stop();
    dp = undefined;
  });

  const anonKB = (pid: number) => Number(/^Anonymous:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))![1]);

  test("after start-up and a configuration, a quiet process runs a memory-reducing collection and holds less", async () => {
    dp = await startDataplane({ env: { BALLAST_WORKERS: "0", BALLAST_LOG_LEVEL: "debug" } });
    const compactions = () => dp!.output().split("\n").filter((l) => l.includes('"idle: heap compacted"')).map((l) => JSON.parse(l) as { heapBeforeMB: number; heapAfterMB: number; ms: number });
    const deadline = Date.now() + 10_000;
    while (compactions().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const [first] = compactions();
    expect(first, dp.output().slice(-2000)).toBeDefined();
    expect(first!.heapAfterMB).toBeLessThan(first!.heapBeforeMB);

    // A configuration allocates (validation, snapshots): the next quiet moment gives it back.
    const before = compactions().length;
    for (let i = 0; i < 40; i++) {
      const res = await dp.api("/v1/server-groups", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: `g${i}`, type: "virtual", servers: Array.from({ length: 200 }, (_, j) => ({ address: "127.0.0.1", port: 10000 + j })) }),
      });
      expect(res.status).toBe(201);
    }
    const anonBusy = anonKB(dp.pid);
    const until = Date.now() + 10_000;
    while (compactions().length === before && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(compactions().length, dp.output().slice(-2000)).toBeGreaterThan(before);
    expect(anonKB(dp.pid)).toBeLessThan(anonBusy);
  });
});
