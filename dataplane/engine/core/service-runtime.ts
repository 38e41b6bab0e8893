import type { ServerSnapshot, ServiceSnapshot } from "../../config/snapshot";
import type { ServerHealth } from "./server-health";
import type { Logger } from "../../log";
import { DrainSchedule, admitsNew, type DrainReason } from "./drain";
import { ServicePicker, type Tally } from "./service-picker";
import { SlotList } from "./slot-list";

/**
 * One backend service in one process, whatever its protocol: the picker (members, scheduler,
 * effective weights with slow start), what is in flight to each server, and draining. The HTTP
 * proxy's flows are requests and tunnels, the TCP proxy's are client connections; the proxies
 * only move bytes and keep what is theirs (HTTP: a keep-alive pool per server, TCP: sockets and
 * source-IP persistence).
 *
 * - `track(server, flow)` counts a flow on its server (for wlc, stats and draining) and returns the
 *   server's `ServerFlows`, which `untrack` takes back, so counting costs no lookup by key.
 * - `update(svc)` applies the drain rule of drain.ts to every flow of a server that stops taking
 *   new ones; `retire()` drains every flow when the service itself goes; `drain(flow, reason)`
 *   drains one flow (its listener went). A flow whose deadline passes is handed to `expire`.
 * - A server's `ServerFlows` stays while the server is in the service or has flows, so a server
 *   taking requests costs no Map churn.
 */

/** A request, tunnel or connection in flight to one server. */
export interface Flow {
  /** Position in its server's flow list (SlotList); -1 when not tracked. */
  inflightSlot: number;
}

/**
 * One server of the service as its flows see it: what is in flight to it, its tally in the picker,
 * and one slot the protocol keeps there (HTTP: its keep-alive pool).
 */
export interface ServerFlows<F extends Flow, A> {
  readonly key: string;
  readonly flows: SlotList<F>;
  readonly tally: Tally;
  attachment: A | undefined;
}

export interface ServiceRuntimeOptions<F extends Flow, A> {
  readonly log: Logger;
  /** Epoch milliseconds: slow start and drain deadlines. */
  readonly now: () => number;
  /** Ends a flow whose drain deadline passed (the flow is then untracked by its owner). */
  readonly expire: (flow: F) => void;
  /** A server left the service (or the service went): what the protocol keeps for it may close. */
  readonly left?: (server: ServerFlows<F, A>) => void;
}

/** Per server key: flows in flight, and while some of them drain, when the last is cut. */
export interface ServerLoad {
  readonly active: number;
  readonly drainingUntil?: number;
}

export class ServiceRuntime<F extends Flow, A = never> {
  readonly picker: ServicePicker;
  private svc: ServiceSnapshot;
  private readonly servers = new Map<string, ServerFlows<F, A>>();
  private readonly drains: DrainSchedule<F>;

  constructor(
    svc: ServiceSnapshot,
    private readonly opts: ServiceRuntimeOptions<F, A>,
  ) {
    this.svc = svc;
    this.picker = new ServicePicker(svc, { now: opts.now });
    this.drains = new DrainSchedule<F>(opts.now, opts.expire);
  }

  get service(): ServiceSnapshot {
    return this.svc;
  }

  /**
   * Swaps in a new snapshot of the same service. Flows of a server that no longer admits new ones
   * start draining, flows of a server that admits them again stop, and a changed drain timeout
   * moves the deadline of every flow already draining.
   */
  update(svc: ServiceSnapshot): void {
    if (svc === this.svc) return;
    const timeoutChanged = svc.connectionDrainTimeout !== this.svc.connectionDrainTimeout;
    this.svc = svc;
    this.picker.update(svc);
    const drainMs = svc.connectionDrainTimeout * 1000;
    // picker.update has set each tally's `member` for the new snapshot.
    for (const [key, s] of this.servers) {
      if (!s.tally.member && s.attachment !== undefined) this.opts.left?.(s);
      if (s.flows.size === 0) {
        if (!s.tally.member) this.servers.delete(key);
        continue;
      }
      const admits = admitsNew(svc, key);
      let started = 0;
      for (const f of s.flows.toArray()) {
        const reason = this.drains.reason(f);
        if (!admits && reason === undefined) {
          started++;
          this.drains.start(f, drainMs, "server");
        } else if (admits && reason === "server") this.drains.cancel(f);
        else if (reason !== undefined && timeoutChanged) this.drains.retime(f, drainMs);
      }
      if (started > 0) this.opts.log.info({ service: svc.name, server: key, flows: started, drainSeconds: svc.connectionDrainTimeout }, "server draining");
    }
  }

  setHealth(byServer: Readonly<Record<string, ServerHealth>> | undefined): void {
    this.picker.setHealth(byServer);
  }

  /** Counts `flow` on `server` until `untrack`; returns the server's flows. */
  track(server: ServerSnapshot, flow: F): ServerFlows<F, A> {
    let s = this.servers.get(server.key);
    if (!s) this.servers.set(server.key, (s = { key: server.key, flows: new SlotList<F>("inflightSlot" as never), tally: this.picker.tally(server.key), attachment: undefined }));
    s.flows.add(flow);
    s.tally.active++;
    return s;
  }

  /**
   * The flow left its server: it ended (`over`, its drain ends with it), or its connect failed and
   * it tries another server (a drain of its listener or service goes on).
   */
  untrack(s: ServerFlows<F, A>, flow: F, over = true): void {
    if (!s.flows.delete(flow)) return;
    this.picker.letGo(s.tally);
    if (this.drains.size > 0 && (over || this.drains.reason(flow) === "server")) this.drains.cancel(flow);
    // A server that left the service: its entry goes with its last flow.
    if (s.flows.size === 0 && !s.tally.member && this.servers.get(s.key) === s) this.servers.delete(s.key);
  }

  /** Drains one flow for a reason of its own (its listener was removed). */
  drain(flow: F, reason: DrainReason): void {
    this.drains.start(flow, this.svc.connectionDrainTimeout * 1000, reason);
  }

  /** Ends a flow's drain without untracking it (it ended before it was tracked). */
  forget(flow: F): void {
    if (this.drains.size > 0) this.drains.cancel(flow);
  }

  /** The service left the configuration: every flow drains under its last drain timeout. */
  retire(): void {
    const drainMs = this.svc.connectionDrainTimeout * 1000;
    for (const s of [...this.servers.values()]) {
      s.tally.member = false;
      if (s.attachment !== undefined) this.opts.left?.(s);
      for (const f of s.flows.toArray()) this.drains.start(f, drainMs, "service");
      if (s.flows.size === 0 && this.servers.get(s.key) === s) this.servers.delete(s.key);
    }
  }

  /** The flows of a server key, or undefined when none is kept. */
  server(key: string): ServerFlows<F, A> | undefined {
    return this.servers.get(key);
  }

  /** Every server kept: in the service or with flows in flight. */
  allServers(): IterableIterator<ServerFlows<F, A>> {
    return this.servers.values();
  }

  /** Flows in flight to the server. */
  activeOf(key: string): number {
    return this.servers.get(key)?.flows.size ?? 0;
  }

  /** Flows in flight to every server. */
  get active(): number {
    let n = 0;
    for (const s of this.servers.values()) n += s.flows.size;
    return n;
  }

  /** Whether `flow` drains because its server or its service left (not its listener). */
  private isDrainingForServer(flow: F): boolean {
    const r = this.drains.reason(flow);
    return r === "server" || r === "service";
  }

  /**
   * Flows per server that has some, with the latest deadline of those draining because their
   * server or service left (a listener's drain is the listener's, not the server's).
   */
  load(): Map<string, ServerLoad> {
    const out = new Map<string, ServerLoad>();
    for (const [key, s] of this.servers) {
      if (s.flows.size === 0) continue;
      let until: number | undefined;
      if (this.drains.size > 0) {
        for (const f of s.flows) {
          if (!this.isDrainingForServer(f)) continue;
          const d = this.drains.deadline(f);
          if (d !== undefined && (until === undefined || d > until)) until = d;
        }
      }
      out.set(key, until === undefined ? { active: s.flows.size } : { active: s.flows.size, drainingUntil: until });
    }
    return out;
  }

  /** Every flow in flight (a copy: flows may end meanwhile). */
  flows(): F[] {
    const out: F[] = [];
    for (const s of this.servers.values()) for (const f of s.flows) out.push(f);
    return out;
  }

  /** Cancels every drain timer (shutdown). */
  stopDraining(): void {
    this.drains.clear();
  }
}
