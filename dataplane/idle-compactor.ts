import type { Logger } from "./log";
import { monotonicMs } from "./clock";
import { GC_GLOBAL } from "./node-internals";

/**
 * Gives memory back once a busy process goes quiet.
 *
 * V8 sizes the heap for the allocation it last saw and keeps it: start-up, a configuration or a
 * burst of traffic grows the young generation to its cap (`--max-semi-space-size`, node-flags.ts)
 * and leaves old-generation pages behind, and an idle process keeps all of it for good. V8's own
 * memory reducer only starts after a full collection, which a process that allocates nothing never
 * runs. What one memory-reducing collection gives back: docs/benchmarks.md, change 26.
 *
 * So every `intervalMs` the compactor looks at two numbers, and runs one memory-reducing full
 * collection when both say so:
 * - the process was idle: it used less than `idleCpuShare` of a core since the last look (no
 *   traffic to delay; a request arriving during the collection waits for it);
 * - there is something to give back: the heap's committed size grew since the last compaction by
 *   `minGrowthBytes`, and by `minGrowthShare` of what that compaction left. The share bounds how
 *   often a large heap pays for one: a collection's pause grows with the heap (the pauses measured:
 *   docs/benchmarks.md, change 26), so it must buy back memory in proportion.
 * A steadily idle process is compacted once, not every interval; one with light traffic only when
 * its heap has grown again.
 *
 * The collection is V8's "last resort" flavour (`CollectAllAvailableGarbage`: shrinks the young
 * generation, releases empty pages), reached through the gc function that `--expose-gc-as`
 * (node-flags.ts) installs. Without it (a process not started through main.js's re-execution)
 * there is nothing to call and the compactor does not start.
 */

export interface CompactorProbes {
  /** Runs the memory-reducing collection. */
  gc(): void;
  /** CPU time used by the process so far, in microseconds. */
  cpuMicros(): number;
  /** The heap's committed size in bytes (`process.memoryUsage().heapTotal`). */
  heapBytes(): number;
  /** A monotonic clock in milliseconds. */
  now(): number;
}

export interface CompactorOptions {
  log: Logger;
  /** How often to look (ms). */
  intervalMs?: number;
  /** Idle means less than this share of one core used since the last look. */
  idleCpuShare?: number;
  /** Compact only when the heap grew this much since the last compaction (bytes)… */
  minGrowthBytes?: number;
  /** …and by this share of the heap that compaction left. */
  minGrowthShare?: number;
}

export interface Compaction {
  beforeBytes: number;
  afterBytes: number;
  ms: number;
}

export const COMPACTOR_DEFAULTS = { intervalMs: 500, idleCpuShare: 0.01, minGrowthBytes: 2 * 1024 * 1024, minGrowthShare: 0.25 } as const;

export class IdleCompactor {
  private readonly intervalMs: number;
  private readonly idleCpuShare: number;
  private readonly minGrowthBytes: number;
  private readonly minGrowthShare: number;
  private lastCpu: number;
  private lastAt: number;
  /** Heap size the last compaction left (0 before the first: the first idle look compacts). */
  private baseline = 0;
  private timer: NodeJS.Timeout | undefined;
  private count = 0;

  constructor(
    private readonly probes: CompactorProbes,
    private readonly opts: CompactorOptions,
  ) {
    this.intervalMs = opts.intervalMs ?? COMPACTOR_DEFAULTS.intervalMs;
    this.idleCpuShare = opts.idleCpuShare ?? COMPACTOR_DEFAULTS.idleCpuShare;
    this.minGrowthBytes = opts.minGrowthBytes ?? COMPACTOR_DEFAULTS.minGrowthBytes;
    this.minGrowthShare = opts.minGrowthShare ?? COMPACTOR_DEFAULTS.minGrowthShare;
    this.lastCpu = probes.cpuMicros();
    this.lastAt = probes.now();
  }

  /** Compactions so far. */
  get compactions(): number {
    return this.count;
  }

  start(): this {
    this.timer ??= setInterval(() => this.look(), this.intervalMs).unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look (the timer's callback; tests call it directly). Returns the compaction it ran, if any. */
  look(): Compaction | undefined {
    const cpu = this.probes.cpuMicros();
    const at = this.probes.now();
    const busyShare = (cpu - this.lastCpu) / 1000 / Math.max(1, at - this.lastAt);
    this.lastCpu = cpu;
    this.lastAt = at;
    const heap = this.probes.heapBytes();
    // V8 may shrink on its own: growth counts from the lowest size seen since the last compaction.
    if (heap < this.baseline) this.baseline = heap;
    const growth = heap - this.baseline;
    if (busyShare >= this.idleCpuShare || growth < this.minGrowthBytes || growth < this.baseline * this.minGrowthShare) return undefined;

    const started = this.probes.now();
    this.probes.gc();
    const compaction = { beforeBytes: heap, afterBytes: this.probes.heapBytes(), ms: this.probes.now() - started };
    this.baseline = compaction.afterBytes;
    this.count++;
    // The collection's own CPU is not traffic: the next look starts after it.
    this.lastCpu = this.probes.cpuMicros();
    this.lastAt = this.probes.now();
    const mb = (n: number) => Math.round(n / 104857.6) / 10;
    this.opts.log.debug({ heapBeforeMB: mb(compaction.beforeBytes), heapAfterMB: mb(compaction.afterBytes), ms: Math.round(compaction.ms) }, "idle: heap compacted");
    return compaction;
  }
}

type GcFunction = (options?: { type?: string; execution?: string; flavor?: string }) => void;

/**
 * Starts a compactor for this process when V8's gc function is there (under `GC_GLOBAL`, a name
 * nothing else uses; V8 makes it a non-deletable global). Undefined when the process runs without
 * `--expose-gc-as`.
 */
export function startIdleCompactor(opts: CompactorOptions): IdleCompactor | undefined {
  const gc = (globalThis as Record<string, unknown>)[GC_GLOBAL] as GcFunction | undefined;
  if (typeof gc !== "function") {
    opts.log.debug("no gc function (started without main.js's flags): idle compaction is off");
    return undefined;
  }
  const probes: CompactorProbes = {
    gc: () => gc({ type: "major", execution: "sync", flavor: "last-resort" }),
    cpuMicros: () => {
      const u = process.cpuUsage();
      return u.user + u.system;
    },
    // Not node:v8's statistics: loading that module costs an idle process more than it tells.
    heapBytes: () => process.memoryUsage().heapTotal,
    now: () => monotonicMs(),
  };
  return new IdleCompactor(probes, opts).start();
}
