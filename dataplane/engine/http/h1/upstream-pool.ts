import { ErrorCodes, codedError as coded } from "../error-codes";
import type { HttpLimits } from "../limits";
import type { Exchange } from "./exchange";
import { SlotList } from "../../core/slot-list";
import { monotonicMs } from "../../../clock";
import { UpstreamConnection, type UpstreamConnectionStates } from "./upstream-connection";

/** Keep-alive connections to one server: at most `maxConnectionsPerServer`, extra requests wait. */
export class UpstreamPool {
  private readonly idle: UpstreamConnection[] = [];
  private readonly conns = new SlotList<UpstreamConnection>("poolSlot");
  private readonly waiting: Exchange[] = [];
  /** Exchanges attached or queued here (for timeouts). */
  private readonly active = new SlotList<Exchange>("poolSlot");
  private closing = false;
  private closed: (() => void) | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly limits: HttpLimits,
  ) {}

  /** Upstream connections open (idle or busy). */
  get connected(): number {
    let n = 0;
    for (const c of this.conns) if (c.connected) n++;
    return n;
  }

  dispatch(ex: Exchange): void {
    if (this.closing) return ex.connectFailed(coded("the server left the service", ErrorCodes.serverRemoved));
    this.active.add(ex);
    let conn = this.idle.pop();
    while (conn && !conn.alive) conn = this.idle.pop();
    if (conn) return conn.assign(ex);
    if (this.conns.size < this.limits.maxConnectionsPerServer) {
      this.conns.add(new UpstreamConnection(this, this.host, this.port, this.limits.upstreamConnectTimeoutMs, ex));
      return;
    }
    this.waiting.push(ex);
  }

  /** @internal a new connection is up: its opener (if still waiting) or the queue gets it. */
  connectedFor(conn: UpstreamConnection, opener: Exchange | undefined): void {
    if (opener && this.active.has(opener)) return conn.assign(opener);
    this.release(conn);
  }

  /** @internal */
  release(conn: UpstreamConnection): void {
    if (!conn.alive) return;
    const next = this.waiting.shift();
    if (next) return conn.assign(next);
    if (this.closing) return conn.destroy();
    conn.idleSince = monotonicMs();
    this.idle.push(conn);
  }

  /** @internal the exchange settled. */
  finished(ex: Exchange): void {
    this.active.delete(ex);
  }

  /** @internal an exchange gave up while queued. */
  unqueue(ex: Exchange): void {
    const i = this.waiting.indexOf(ex);
    if (i >= 0) this.waiting.splice(i, 1);
    this.active.delete(ex);
  }

  /** @internal a connection closed. */
  remove(conn: UpstreamConnection): void {
    this.conns.delete(conn);
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    // Requests queued behind the connection limit get the freed slot.
    if (!this.closing && this.waiting.length > 0 && this.conns.size < this.limits.maxConnectionsPerServer) {
      const ex = this.waiting.shift()!;
      this.conns.add(new UpstreamConnection(this, this.host, this.port, this.limits.upstreamConnectTimeoutMs, ex));
    }
    if (this.closing && this.conns.size === 0 && this.closed) this.closed();
  }

  /** Timeouts of every exchange and connection here; `now` is monotonicMs(). */
  sweep(now: number): void {
    if (this.active.size > 0) for (const ex of this.active.toArray()) ex.sweep(now);
    for (const c of this.conns) c.sweep(now);
    const limit = this.limits.upstreamKeepAliveTimeoutMs;
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = this.idle[i]!;
      if (now - c.idleSince >= limit) c.destroy();
    }
  }

  get busy(): boolean {
    return this.active.size > 0;
  }

  /**
   * The connections to this server by state: held by an exchange, idle and fit for the next one,
   * or idle in a state that would stall it (must stay 0: `release` closes such connections).
   */
  connectionStates(): UpstreamConnectionStates {
    const out = { busy: 0, idle: 0, stalled: 0 };
    for (const c of this.conns) {
      if (c.busy) out.busy++;
      else if (this.idle.includes(c)) {
        if (c.reusable) out.idle++;
        else if (c.alive) out.stalled++;
      }
    }
    return out;
  }

  /** Graceful: running exchanges finish, then their connections close; idle ones close now. */
  close(): Promise<void> {
    this.closing = true;
    for (const c of this.idle.splice(0)) c.destroy();
    if (this.conns.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.closed = resolve));
  }

  /** Everything closes now (exchanges in flight fail). */
  destroy(reason?: Error): Promise<void> {
    this.closing = true;
    for (const ex of [...this.waiting]) ex.abort(reason ?? coded("the server left the service", ErrorCodes.serverRemoved));
    this.waiting.length = 0;
    const done = this.close();
    for (const c of [...this.conns]) c.destroy();
    return done;
  }
}
