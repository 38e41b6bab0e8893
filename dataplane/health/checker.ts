import type { HealthCheck } from "../../model";
import type { Clock, TimerHandle } from "../clock";
import type { Probe, ProbeResult } from "./probe";

/**
 * The health of one server in one service and the probe loop that drives it.
 *
 * State machine (docs/traffic.md, "Health checks"): a server starts `pending` (reported unhealthy: no traffic before its first
 * probe). Its first probe decides at once: success ⇒ healthy, failure ⇒ unhealthy. After that an
 * unhealthy server needs `healthyThreshold` consecutive successes to come back, and a healthy one
 * goes out after `unhealthyThreshold` consecutive failures.
 *
 * The state lives in `CheckState`, apart from the loop, so that a changed check configuration can
 * restart the loop (new timers, new probe settings) while keeping the server's current status.
 */

export type CheckStatus = "pending" | "healthy" | "unhealthy";

export interface LastCheck {
  /** Epoch ms the probe finished. */
  readonly at: number;
  readonly ok: boolean;
  readonly reason: string;
  /** How long the probe took, in ms. */
  readonly ms: number;
}

export class CheckState {
  status: CheckStatus;
  successes = 0;
  failures = 0;
  lastCheck: LastCheck | null = null;

  constructor(initial: CheckStatus = "pending") {
    this.status = initial;
  }

  /** Applies one probe result; returns the new status if it changed. */
  record(result: ProbeResult, at: number, check: Pick<HealthCheck, "healthyThreshold" | "unhealthyThreshold">, ms = 0): CheckStatus | undefined {
    this.lastCheck = { at, ok: result.ok, reason: result.reason, ms };
    const before = this.status;
    if (result.ok) {
      this.failures = 0;
      this.successes++;
      if (before === "pending" || (before === "unhealthy" && this.successes >= check.healthyThreshold)) this.status = "healthy";
    } else {
      this.successes = 0;
      this.failures++;
      if (before === "pending" || (before === "healthy" && this.failures >= check.unhealthyThreshold)) this.status = "unhealthy";
    }
    return this.status === before ? undefined : this.status;
  }
}

export interface CheckerOptions {
  readonly address: string;
  /** The port to probe (the check's port or the server's). */
  readonly port: number;
  readonly check: HealthCheck;
  readonly state: CheckState;
  readonly clock: Clock;
  /** Multiplies interval and timeout; 1 in production (see HealthManagerOptions.timeScale). */
  readonly timeScale: number;
  readonly probe: Probe;
  /** Called after every probe with the status it changed to, if it changed. */
  readonly onResult: (changedTo: CheckStatus | undefined, result: ProbeResult) => void;
}

/** The probe loop: one probe at once, then one every `interval` (measured start to start). */
export class HealthChecker {
  private timer: TimerHandle | undefined;
  private inFlight: AbortController | undefined;
  private stopped = false;

  constructor(private readonly opts: CheckerOptions) {}

  start(): void {
    this.run();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.inFlight?.abort(new Error("checker stopped"));
  }

  private run(): void {
    if (this.stopped) return;
    const { clock, check, timeScale } = this.opts;
    const startedAt = clock.now();
    const timeoutMs = check.timeout * 1000 * timeScale;
    const ac = new AbortController();
    this.inFlight = ac;
    // A probe never outlives the check's timeout: the signal aborts its socket.
    const deadline = clock.setTimeout(() => ac.abort(new Error(`timeout after ${check.timeout}s`)), timeoutMs);
    this.opts
      .probe({ address: this.opts.address, port: this.opts.port }, check, ac.signal)
      .catch((err: unknown): ProbeResult => ({ ok: false, reason: String((err as Error)?.message ?? err) }))
      .then((result) => {
        deadline.cancel();
        this.inFlight = undefined;
        if (this.stopped) return;
        const finishedAt = clock.now();
        const changed = this.opts.state.record(result, finishedAt, check, finishedAt - startedAt);
        this.opts.onResult(changed, result);
        if (this.stopped) return;
        const intervalMs = check.interval * 1000 * timeScale;
        const wait = Math.max(0, intervalMs - (clock.now() - startedAt));
        this.timer = clock.setTimeout(() => this.run(), wait);
      });
  }
}
