import type { ListenerSnapshot, ServiceSnapshot } from "../../config/snapshot";

/**
 * The drain rule, for every protocol (docs/traffic.md, "Draining (HTTP and TCP)"): which servers
 * stop taking new flows under a new snapshot, and a schedule that ends each draining flow (an HTTP
 * request or tunnel, a TCP connection) at its deadline. `ServiceRuntime` applies it.
 *
 * When a server leaves its service's servers (removed from the group, or the group swapped for one
 * without it) or its weight goes to 0, its flows may finish for up to the service's
 * `connectionDrainTimeout` seconds, then are ended; 0 ends them at once. A server that is still in
 * the service with weight > 0 is never touched, whatever else changed — including a group swap to
 * a group that also holds it (it is still in the configuration).
 */

/** Whether `key` may take new connections of `svc` by configuration (health aside). */
export function admitsNew(svc: ServiceSnapshot | undefined, key: string): boolean {
  if (!svc) return false;
  for (const s of svc.servers) if (s.key === key) return s.weight > 0;
  return false;
}

/**
 * A listener's identity across snapshots: name, protocol and port (protocol and port are immutable,
 * so a different one means the listener was replaced). Its backend service is not part of it:
 * repointing a listener keeps existing connections where they are.
 */
export function listenerIdentity(l: Pick<ListenerSnapshot, "name" | "protocol" | "port">): string {
  return `${l.name}|${l.protocol}|${l.port}`;
}

/** Why a connection drains; a `server` drain ends if the server takes traffic again. */
export type DrainReason = "server" | "service" | "listener";

interface Draining {
  readonly startedAt: number;
  timeoutMs: number;
  reason: DrainReason;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Deadlines of draining flows. One timer per flow, only while it drains: Node
 * keeps timers of one duration in one list, so thousands cost little, and each flow's
 * deadline stays exact when a drain timeout changes mid-drain.
 */
export class DrainSchedule<T> {
  private readonly items = new Map<T, Draining>();

  /**
   * @param now epoch-ms clock the deadlines are measured with.
   * @param expire closes a connection whose deadline passed.
   */
  constructor(
    private readonly now: () => number,
    private readonly expire: (item: T) => void,
  ) {}

  get size(): number {
    return this.items.size;
  }

  isDraining(item: T): boolean {
    return this.items.has(item);
  }

  reason(item: T): DrainReason | undefined {
    return this.items.get(item)?.reason;
  }

  /** Epoch ms at which `item` is closed, or undefined when it is not draining. */
  deadline(item: T): number | undefined {
    const d = this.items.get(item);
    return d ? d.startedAt + d.timeoutMs : undefined;
  }

  /**
   * Starts draining `item` with `timeoutMs` from now. Already draining: keeps its start, and the
   * earlier deadline wins; a `listener`/`service` reason outranks `server` (it cannot be undone).
   */
  start(item: T, timeoutMs: number, reason: DrainReason): void {
    const d = this.items.get(item);
    if (!d) {
      this.schedule(item, { startedAt: this.now(), timeoutMs, reason, timer: undefined });
      return;
    }
    if (reason !== "server") d.reason = reason;
    if (timeoutMs < d.timeoutMs) {
      // A later start with a shorter timeout may still end before the current deadline.
      const deadline = Math.min(d.startedAt + d.timeoutMs, this.now() + timeoutMs);
      d.timeoutMs = deadline - d.startedAt;
      this.schedule(item, d);
    }
  }

  /** The service's drain timeout changed mid-drain: the deadline becomes start + `timeoutMs`. */
  retime(item: T, timeoutMs: number): void {
    const d = this.items.get(item);
    if (!d || d.timeoutMs === timeoutMs) return;
    d.timeoutMs = timeoutMs;
    this.schedule(item, d);
  }

  /** Stops draining (the server takes traffic again, or the connection ended by itself). */
  cancel(item: T): void {
    const d = this.items.get(item);
    if (!d) return;
    if (d.timer) clearTimeout(d.timer);
    this.items.delete(item);
  }

  /** Cancels every timer (shutdown). */
  clear(): void {
    for (const item of [...this.items.keys()]) this.cancel(item);
  }

  private schedule(item: T, d: Draining): void {
    if (d.timer) clearTimeout(d.timer);
    d.timer = undefined;
    this.items.set(item, d);
    const delay = d.startedAt + d.timeoutMs - this.now();
    if (delay <= 0) {
      this.items.delete(item);
      this.expire(item);
      return;
    }
    d.timer = setTimeout(() => {
      d.timer = undefined;
      this.items.delete(item);
      this.expire(item);
    }, delay);
    d.timer.unref();
  }
}
