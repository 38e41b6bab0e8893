import { afterEach, describe, expect, test } from "vitest";
import { HealthManager } from "../../../../dataplane/health/health-manager";
import { silentLogger } from "../../../../dataplane/log";
import { Metrics } from "../../../../dataplane/metrics";
import { FakeClock } from "../../../helpers/fake-clock";
import { startOrigin, type Origin } from "../../../helpers/origin";
import { Harness, snapshotOf } from "./harness";

/** Slow start with a fake clock shared by the HealthManager (sets the start) and the Engine (weights). */
describe("slow start over real sockets", () => {
  let h: Harness;
  let mgr: HealthManager;
  const origins: Origin[] = [];
  afterEach(async () => {
    mgr?.close();
    await h?.close();
    await Promise.all(origins.splice(0).map((o) => o.close()));
  });

  async function share(name: string, n: number): Promise<number> {
    const agent = h.agent();
    let hits = 0;
    for (let i = 0; i < n; i++) if ((await h.get("/", { dispatcher: agent })).body === name) hits++;
    return hits / n;
  }

  async function apply(clock: FakeClock, servers: Origin[]) {
    const snapshot = snapshotOf({ service: { slowStart: 100 }, servers: servers.map((o) => ({ port: o.port })) });
    mgr.apply(snapshot);
    h.engine.setHealth(mgr.table());
    await h.engine.apply(snapshot);
  }

  test("a server added to a serving group ramps its share linearly over the window", async () => {
    const os = await Promise.all(["old", "new"].map((n) => startOrigin(n)));
    origins.push(...os);
    const clock = new FakeClock();
    h = new Harness({ clock });
    mgr = new HealthManager({ log: silentLogger(), metrics: new Metrics(), clock });
    await apply(clock, [os[0]!]);
    await apply(clock, os);
    // Effective weights 100 : w(t); smooth wrr makes the share exact up to one pick per cycle.
    expect(await share("new", 200)).toBeLessThanOrEqual(0.02); // t = 0: the 1% floor, 1/101
    await clock.advance(25_000);
    expect(Math.abs((await share("new", 250)) - 25 / 125)).toBeLessThanOrEqual(0.02);
    await clock.advance(25_000);
    expect(Math.abs((await share("new", 300)) - 50 / 150)).toBeLessThanOrEqual(0.02);
    await clock.advance(50_000);
    expect(Math.abs((await share("new", 200)) - 0.5)).toBeLessThanOrEqual(0.02);
  });

  test("the first servers of an empty group get their full weight at once", async () => {
    const os = await Promise.all(["a", "b"].map((n) => startOrigin(n)));
    origins.push(...os);
    const clock = new FakeClock();
    h = new Harness({ clock });
    mgr = new HealthManager({ log: silentLogger(), metrics: new Metrics(), clock });
    await apply(clock, []);
    await apply(clock, os);
    expect(await share("a", 100)).toBe(0.5);
  });
});
