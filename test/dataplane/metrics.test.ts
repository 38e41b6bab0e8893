import { describe, expect, test } from "vitest";
import { Metrics } from "../../dataplane/metrics";

describe("Metrics: series bound to labels", () => {
  test("a bound counter and histogram render exactly as inc/observe with the same labels", () => {
    const bound = new Metrics();
    const plain = new Metrics();
    const labels = { listener: "l1", service: "web", server: "127.0.0.1:80", code: "200" };
    const c = bound.counter("req_total", "Requests.", labels);
    const h = bound.histogram("dur_seconds", "Duration.", { listener: "l1", service: "web" });
    for (const v of [0.0004, 0.003, 0.2, 7]) {
      c.inc();
      h.observe(v);
      plain.inc("req_total", "Requests.", { code: "200", server: "127.0.0.1:80", service: "web", listener: "l1" });
      plain.observe("dur_seconds", "Duration.", { listener: "l1", service: "web" }, v);
    }
    c.inc(3);
    plain.inc("req_total", "Requests.", labels, 3);
    expect(bound.render()).toBe(plain.render());
    expect(bound.render()).toContain('req_total{code="200",listener="l1",server="127.0.0.1:80",service="web"} 7');
    expect(bound.render()).toContain('dur_seconds_bucket{listener="l1",service="web",le="0.005"} 2');
  });

  test("a bound series appears only once it has counted something", () => {
    const m = new Metrics();
    m.counter("never_total", "Never.", { a: "b" });
    expect(m.render()).not.toContain("never_total{");
    expect(m.dump().families.never_total?.series ?? []).toHaveLength(0);
  });
});
