import type { MetricsDump } from "../metrics";

/**
 * Requests and errors per second per (service, server), for the status page. The traffic path
 * already counts both in its metrics (`ballast_http_requests_total`, `ballast_tcp_connections_total`,
 * `ballast_tcp_connect_failures_total`), so nothing is added to it: the primary samples those
 * counters whenever a status is asked for, and a rate is the difference between this sample and
 * the oldest one of the last `WINDOW_MS`, over the time between them. A status asked for with no
 * sample at least `MIN_SPAN_MS` old samples twice, `MIN_SPAN_MS` apart. Nothing runs in between:
 * an idle data plane does no work for a page nobody looks at.
 *
 * An error is an HTTP answer with a 5xx status attributed to a server (its own 5xx, or the
 * balancer's 502/504 after trying it) or a TCP connection that could not reach it. For a tcp
 * service a "request" is a connection.
 */

/** Counters of one server in one service. */
export interface Totals {
  requests: number;
  errors: number;
}

export interface Rate {
  requestsPerSecond: number;
  errorsPerSecond: number;
}

/** Rates are measured over at most this long. */
export const WINDOW_MS = 15_000;
/** ... and at least this long. */
export const MIN_SPAN_MS = 1_000;

/** `service` and `server` (`address:port`) as one map key. */
export function rateKey(service: string, server: string): string {
  return `${service}\u0000${server}`;
}

const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

function labelsOf(key: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of key.matchAll(LABEL)) out[m[1]!] = m[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
  return out;
}

/** The per-server totals in a set of metrics dumps (one per process), summed over listeners and processes. */
export function totalsOf(dumps: readonly MetricsDump[]): Map<string, Totals> {
  const out = new Map<string, Totals>();
  const add = (labels: Record<string, string>, requests: number, errors: number) => {
    if (!labels.service || !labels.server) return;
    const key = rateKey(labels.service, labels.server);
    const t = out.get(key) ?? { requests: 0, errors: 0 };
    t.requests += requests;
    t.errors += errors;
    out.set(key, t);
  };
  for (const dump of dumps) {
    for (const [name, family] of Object.entries(dump.families)) {
      if (name !== "ballast_http_requests_total" && name !== "ballast_tcp_connections_total" && name !== "ballast_tcp_connect_failures_total") continue;
      for (const [key, value] of family.series) {
        if (typeof value !== "number") continue;
        const labels = labelsOf(key);
        if (name === "ballast_http_requests_total") add(labels, value, labels.code?.startsWith("5") ? value : 0);
        else if (name === "ballast_tcp_connections_total") add(labels, value, 0);
        else add(labels, 0, value);
      }
    }
  }
  return out;
}

interface Sample {
  at: number;
  totals: Map<string, Totals>;
}

export class ServerRates {
  private samples: Sample[] = [];

  /** Whether a sample taken at `now` would have a baseline at least `MIN_SPAN_MS` old. */
  hasBaseline(now: number): boolean {
    return this.samples.some((s) => s.at <= now - MIN_SPAN_MS && s.at >= now - WINDOW_MS);
  }

  /**
   * Records `totals` taken at `now` and returns the rates since the oldest sample of the window
   * (undefined when there is none at least `MIN_SPAN_MS` old). A counter that went down (a worker
   * restarted) counts from 0.
   */
  sample(now: number, totals: Map<string, Totals>): Map<string, Rate> | undefined {
    this.samples = this.samples.filter((s) => s.at >= now - WINDOW_MS);
    const base = this.samples.find((s) => s.at <= now - MIN_SPAN_MS);
    this.samples.push({ at: now, totals });
    if (!base) return undefined;
    const seconds = (now - base.at) / 1000;
    const rates = new Map<string, Rate>();
    for (const [key, t] of totals) {
      const b = base.totals.get(key) ?? { requests: 0, errors: 0 };
      const requests = t.requests >= b.requests ? t.requests - b.requests : t.requests;
      const errors = t.errors >= b.errors ? t.errors - b.errors : t.errors;
      rates.set(key, { requestsPerSecond: round(requests / seconds), errorsPerSecond: round(errors / seconds) });
    }
    return rates;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
