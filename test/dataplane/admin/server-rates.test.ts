import { describe, expect, it } from "vitest";
import { MIN_SPAN_MS, ServerRates, WINDOW_MS, rateKey, totalsOf } from "../../../dataplane/admin/server-rates";
import { Metrics } from "../../../dataplane/metrics";

function dumpWith(fill: (m: Metrics) => void) {
  const m = new Metrics();
  fill(m);
  return m.dump();
}

describe("totalsOf", () => {
  it("sums requests over listeners and processes and counts 5xx and tcp connect failures as errors", () => {
    const a = dumpWith((m) => {
      m.inc("ballast_http_requests_total", "h", { listener: "a", service: "web", server: "10.0.0.1:80", code: "200" }, 7);
      m.inc("ballast_http_requests_total", "h", { listener: "b", service: "web", server: "10.0.0.1:80", code: "502" }, 2);
      m.inc("ballast_http_requests_total", "h", { listener: "a", service: "web", server: "", code: "503" }, 5);
      m.inc("ballast_tcp_connections_total", "h", { listener: "t", service: "db", server: "[::1]:5432" }, 4);
      m.inc("ballast_tcp_connect_failures_total", "h", { listener: "t", service: "db", server: "[::1]:5432", reason: "refused" }, 1);
    });
    const b = dumpWith((m) => m.inc("ballast_http_requests_total", "h", { listener: "a", service: "web", server: "10.0.0.1:80", code: "200" }, 3));
    const totals = totalsOf([a, b]);
    expect(totals.get(rateKey("web", "10.0.0.1:80"))).toEqual({ requests: 12, errors: 2 });
    expect(totals.get(rateKey("db", "[::1]:5432"))).toEqual({ requests: 4, errors: 1 });
    expect(totals.size).toBe(2);
  });
});

describe("ServerRates", () => {
  const key = rateKey("web", "10.0.0.1:80");

  it("has no rate until a sample is at least MIN_SPAN_MS old", () => {
    const rates = new ServerRates();
    expect(rates.hasBaseline(10_000)).toBe(false);
    expect(rates.sample(10_000, new Map([[key, { requests: 0, errors: 0 }]]))).toBeUndefined();
    expect(rates.hasBaseline(10_000 + MIN_SPAN_MS - 1)).toBe(false);
    expect(rates.hasBaseline(10_000 + MIN_SPAN_MS)).toBe(true);
  });

  it("divides the growth since the oldest sample of the window by the time between them", () => {
    const rates = new ServerRates();
    rates.sample(0, new Map([[key, { requests: 100, errors: 0 }]]));
    rates.sample(1_000, new Map([[key, { requests: 110, errors: 1 }]]));
    const r = rates.sample(4_000, new Map([[key, { requests: 140, errors: 4 }]]));
    expect(r?.get(key)).toEqual({ requestsPerSecond: 10, errorsPerSecond: 1 });
  });

  it("forgets samples older than the window and counts a reset counter from 0", () => {
    const rates = new ServerRates();
    rates.sample(0, new Map([[key, { requests: 1_000, errors: 0 }]]));
    rates.sample(WINDOW_MS, new Map([[key, { requests: 1_000, errors: 0 }]]));
    const r = rates.sample(WINDOW_MS + 2_000, new Map([[key, { requests: 10, errors: 0 }]]));
    expect(r?.get(key)).toEqual({ requestsPerSecond: 5, errorsPerSecond: 0 });
  });
});
