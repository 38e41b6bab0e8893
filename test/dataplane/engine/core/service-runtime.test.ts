import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { buildSnapshot, type ServiceSnapshot } from "../../../../dataplane/config/snapshot";
import { ServiceRuntime, type Flow } from "../../../../dataplane/engine/core/service-runtime";
import { SLOW_START_FLOOR, SlowStarts, effectiveWeight } from "../../../../dataplane/engine/core/slow-start";
import { BackendService, ServerGroup } from "../../../../model";
import { capturedLog } from "../../../helpers/log-lines";

// The service core both proxies use (docs/traffic.md, "Draining" and "Slow start"): these tests pin
// the rule once, whatever protocol the flows belong to. Timers are fake: deadlines are asserted
// exactly, without waiting.

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_700_000_000_000);
});
afterEach(() => vi.useRealTimers());

type Server = { address: string; weight?: number };

function service(servers: Server[], opts: { drain?: number; protocol?: "http" | "tcp" } = {}): ServiceSnapshot {
  return buildSnapshot(
    {
      listeners: [],
      backendServices: [BackendService.parse({ name: "s", protocol: opts.protocol ?? "tcp", port: 7, serverGroup: "g", connectionDrainTimeout: opts.drain ?? 10 })],
      serverGroups: [ServerGroup.parse({ name: "g", type: "virtual", servers })],
      healthChecks: [],
    },
    1,
  ).services.s!;
}

interface TestFlow extends Flow {
  readonly name: string;
}

function flow(name: string): TestFlow {
  return { name, inflightSlot: -1 };
}

function runtime(svc: ServiceSnapshot) {
  const expired: string[] = [];
  const left: string[] = [];
  const rt = new ServiceRuntime<TestFlow, string>(svc, {
    log: capturedLog().log,
    now: Date.now,
    expire: (f) => {
      expired.push(f.name);
      const s = rt.server(f.name.split("@")[1]!);
      if (s) rt.untrack(s, f);
    },
    left: (s) => {
      left.push(s.key);
      s.attachment = undefined;
    },
  });
  return { rt, expired, left };
}

const A = "10.0.0.1|7";
const B = "10.0.0.2|7";

describe("ServiceRuntime", () => {
  test("counts flows per server, and the picker's tally with them", () => {
    const svc = service([{ address: "10.0.0.1" }, { address: "10.0.0.2" }]);
    const { rt } = runtime(svc);
    const a1 = flow(`a1@${A}`);
    const a2 = flow(`a2@${A}`);
    const sa = rt.track(svc.servers[0]!, a1);
    rt.track(svc.servers[0]!, a2);
    expect(rt.active).toBe(2);
    expect(rt.activeOf(A)).toBe(2);
    expect(sa.tally.active).toBe(2);
    rt.untrack(sa, a1);
    rt.untrack(sa, a1);
    expect(rt.activeOf(A)).toBe(1);
    expect(sa.tally.active).toBe(1);
    expect([...rt.load()]).toEqual([[A, { active: 1 }]]);
  });

  test("a server removed from the service: its flows drain for the drain timeout, then expire; new flows are not offered to it", () => {
    const svc = service([{ address: "10.0.0.1" }, { address: "10.0.0.2" }], { drain: 10 });
    const { rt, expired, left } = runtime(svc);
    const s = rt.track(svc.servers[0]!, flow(`x@${A}`));
    s.attachment = "pool-a";
    rt.update(service([{ address: "10.0.0.2" }], { drain: 10 }));
    expect(left).toEqual([A]);
    expect(rt.picker.byKey(A)).toBeUndefined();
    expect(rt.load().get(A)).toEqual({ active: 1, drainingUntil: Date.now() + 10_000 });
    vi.advanceTimersByTime(9_999);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual([`x@${A}`]);
    expect(rt.active).toBe(0);
    expect(rt.server(A)).toBeUndefined();
  });

  test("weight 0 drains the server's flows; weight back above 0 before the deadline stops the drain", () => {
    const { rt, expired } = runtime(service([{ address: "10.0.0.1" }, { address: "10.0.0.2" }]));
    const svc = rt.service;
    rt.track(svc.servers[0]!, flow(`x@${A}`));
    rt.track(svc.servers[1]!, flow(`y@${B}`));
    rt.update(service([{ address: "10.0.0.1", weight: 0 }, { address: "10.0.0.2" }]));
    expect(rt.load().get(A)?.drainingUntil).toBe(Date.now() + 10_000);
    expect(rt.load().get(B)).toEqual({ active: 1 });
    vi.advanceTimersByTime(5_000);
    rt.update(service([{ address: "10.0.0.1" }, { address: "10.0.0.2" }]));
    vi.advanceTimersByTime(60_000);
    expect(expired).toEqual([]);
    expect(rt.load().get(A)).toEqual({ active: 1 });
  });

  test("a drain timeout changed mid-drain moves the deadline to start + the new timeout", () => {
    const { rt, expired } = runtime(service([{ address: "10.0.0.1" }, { address: "10.0.0.2" }], { drain: 60 }));
    rt.track(rt.service.servers[0]!, flow(`x@${A}`));
    rt.update(service([{ address: "10.0.0.2" }], { drain: 60 }));
    vi.advanceTimersByTime(2_000);
    rt.update(service([{ address: "10.0.0.2" }], { drain: 5 }));
    vi.advanceTimersByTime(2_999);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual([`x@${A}`]);
  });

  test("a drain timeout of 0 ends the flows at once", () => {
    const { rt, expired } = runtime(service([{ address: "10.0.0.1" }, { address: "10.0.0.2" }], { drain: 0 }));
    rt.track(rt.service.servers[0]!, flow(`x@${A}`));
    rt.update(service([{ address: "10.0.0.2" }], { drain: 0 }));
    expect(expired).toEqual([`x@${A}`]);
  });

  test("a flow that ends by itself ends its drain; a failed connect keeps a listener's drain for the next server", () => {
    const { rt, expired } = runtime(service([{ address: "10.0.0.1" }, { address: "10.0.0.2" }]));
    const done = flow(`done@${A}`);
    const retry = flow(`retry@${A}`);
    const s = rt.track(rt.service.servers[0]!, done);
    rt.track(rt.service.servers[0]!, retry);
    rt.update(service([{ address: "10.0.0.2" }]));
    rt.untrack(s, done);
    rt.drain(retry, "listener");
    rt.untrack(s, retry, false);
    vi.advanceTimersByTime(10_000);
    expect(expired).toEqual([`retry@${A}`]);
  });

  test("retire: the service left the configuration; every flow drains under its last timeout and every server's attachment is let go", () => {
    const { rt, expired, left } = runtime(service([{ address: "10.0.0.1" }, { address: "10.0.0.2" }], { drain: 3 }));
    rt.track(rt.service.servers[0]!, flow(`x@${A}`)).attachment = "pool-a";
    rt.track(rt.service.servers[1]!, flow(`y@${B}`)).attachment = "pool-b";
    rt.retire();
    expect(left.sort()).toEqual([A, B]);
    expect(rt.load().get(A)?.drainingUntil).toBe(Date.now() + 3_000);
    vi.advanceTimersByTime(3_000);
    expect(expired.sort()).toEqual([`x@${A}`, `y@${B}`]);
    expect(rt.active).toBe(0);
  });

  test("a listener's drain is not the server's: load() reports no server drain for it", () => {
    const { rt } = runtime(service([{ address: "10.0.0.1" }]));
    const f = flow(`x@${A}`);
    rt.track(rt.service.servers[0]!, f);
    rt.drain(f, "listener");
    expect(rt.load().get(A)).toEqual({ active: 1 });
  });

  test("stopDraining cancels every deadline (shutdown)", () => {
    const { rt, expired } = runtime(service([{ address: "10.0.0.1" }, { address: "10.0.0.2" }]));
    rt.track(rt.service.servers[0]!, flow(`x@${A}`));
    rt.update(service([{ address: "10.0.0.2" }]));
    rt.stopDraining();
    vi.advanceTimersByTime(60_000);
    expect(expired).toEqual([]);
  });
});

describe("slow start", () => {
  test("the effective weight ramps linearly from the floor to the configured weight over the window", () => {
    const from = 1_000_000;
    const h = { status: "healthy" as const, slowStartFrom: from };
    expect(effectiveWeight(100, h, 30, from)).toBe(100 * SLOW_START_FLOOR);
    expect(effectiveWeight(100, h, 30, from + 15_000)).toBe(50);
    expect(effectiveWeight(100, h, 30, from + 30_000)).toBe(100);
    expect(effectiveWeight(100, { status: "healthy" }, 30, from)).toBe(100);
    expect(effectiveWeight(100, h, undefined, from)).toBe(100);
  });

  test("only servers added to a non-empty set ramp, from the moment they first take traffic, once", () => {
    const s = new SlowStarts();
    s.joined(["a"], false, true);
    s.began("a", 1_000);
    expect(s.rampingFrom("a", 1_000, 30)).toBeUndefined();
    s.joined(["a", "b"], true, true);
    expect(s.rampingFrom("b", 1_000, 30)).toBeUndefined();
    s.began("b", 5_000);
    expect(s.rampingFrom("b", 6_000, 30)).toBe(5_000);
    s.began("b", 9_000);
    expect(s.rampingFrom("b", 9_000, 30)).toBe(5_000);
    expect(s.rampingFrom("b", 35_000, 30)).toBeUndefined();
    s.joined(["a", "b"], true, true);
    s.began("b", 40_000);
    expect(s.rampingFrom("b", 41_000, 30)).toBeUndefined();
  });

  test("a service without slowStart when the server is added gives it none", () => {
    const s = new SlowStarts();
    s.joined(["a", "c"], true, false);
    s.began("c", 1_000);
    expect(s.rampingFrom("c", 1_000, 30)).toBeUndefined();
  });
});
