import type { Snapshot } from "../../../dataplane/config/snapshot";
import type { MetricsDump } from "../../../dataplane/metrics";
import { ListenError, type ServerStatus, type TrafficRuntime } from "../../../dataplane/runtime/traffic-runtime";

/**
 * A TrafficRuntime for in-process tests: records every snapshot it is given and the live one, and
 * can be told to refuse listener ports (ListenError) or to fail outright.
 */
export class FakeRuntime implements TrafficRuntime {
  /** Every snapshot passed to apply, accepted or not. */
  readonly applied: Snapshot[] = [];
  live: Snapshot | undefined;
  /** Ports whose listeners "cannot be bound". */
  readonly busyPorts = new Set<number>();
  /** When set, apply rejects with this error (after the port check). */
  failWith: Error | undefined;
  /** Milliseconds each apply takes (lets concurrent changes overlap). */
  delayMs = 0;
  status: ServerStatus[] = [];
  dumps: MetricsDump[] = [];
  closedWith: number | undefined;

  async apply(snapshot: Snapshot): Promise<void> {
    this.applied.push(snapshot);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const busy = snapshot.listeners.find((l) => this.busyPorts.has(l.port));
    if (busy) throw new ListenError(busy.name, busy.port, Object.assign(new Error("listen EADDRINUSE"), { code: "EADDRINUSE" }));
    if (this.failWith) throw this.failWith;
    this.live = snapshot;
  }

  async serviceStatus(_service: string): Promise<ServerStatus[]> {
    return this.status;
  }

  async metrics(): Promise<MetricsDump[]> {
    return this.dumps;
  }

  async close(graceMs: number): Promise<void> {
    this.closedWith = graceMs;
  }
}
