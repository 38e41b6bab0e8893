import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { buildSnapshot } from "../../../../dataplane/config/snapshot";
import { DrainSchedule, admitsNew, listenerIdentity } from "../../../../dataplane/engine/core/drain";
import { BackendService, ServerGroup } from "../../../../model";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_700_000_000_000);
});
afterEach(() => vi.useRealTimers());

function schedule() {
  const expired: string[] = [];
  const s = new DrainSchedule<string>(Date.now, (item) => expired.push(item));
  return { s, expired };
}

describe("DrainSchedule", () => {
  test("expires an item at start + timeout, not before", () => {
    const { s, expired } = schedule();
    s.start("c1", 3_000, "server");
    vi.advanceTimersByTime(2_999);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(["c1"]);
    expect(s.size).toBe(0);
  });

  test("a timeout of 0 expires at once", () => {
    const { s, expired } = schedule();
    s.start("c1", 0, "service");
    expect(expired).toEqual(["c1"]);
  });

  test("cancel stops the drain", () => {
    const { s, expired } = schedule();
    s.start("c1", 1_000, "server");
    s.cancel("c1");
    vi.advanceTimersByTime(5_000);
    expect(expired).toEqual([]);
    expect(s.isDraining("c1")).toBe(false);
  });

  test("a second start keeps the first start; a shorter one may only bring the deadline forward", () => {
    const { s, expired } = schedule();
    s.start("c1", 10_000, "server");
    vi.advanceTimersByTime(4_000);
    s.start("c1", 60_000, "listener");
    expect(s.reason("c1")).toBe("listener");
    s.start("c1", 1_000, "server");
    expect(s.reason("c1")).toBe("listener");
    vi.advanceTimersByTime(999);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(["c1"]);
  });

  test("retime moves the deadline to start + the new timeout, expiring at once if that has passed", () => {
    const { s, expired } = schedule();
    s.start("a", 60_000, "server");
    s.start("b", 60_000, "server");
    vi.advanceTimersByTime(2_000);
    s.retime("a", 5_000);
    s.retime("b", 1_000);
    expect(expired).toEqual(["b"]);
    vi.advanceTimersByTime(2_999);
    expect(expired).toEqual(["b"]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(["b", "a"]);
  });

  test("clear cancels everything", () => {
    const { s, expired } = schedule();
    s.start("a", 1_000, "server");
    s.start("b", 2_000, "listener");
    s.clear();
    vi.advanceTimersByTime(10_000);
    expect(expired).toEqual([]);
  });
});

describe("admitsNew and listenerIdentity", () => {
  const svc = buildSnapshot(
    {
      listeners: [],
      backendServices: [BackendService.parse({ name: "s", protocol: "tcp", port: 7, serverGroup: "g" })],
      serverGroups: [ServerGroup.parse({ name: "g", type: "virtual", servers: [{ address: "10.0.0.1" }, { address: "10.0.0.2", weight: 0 }] })],
      healthChecks: [],
    },
    1,
  ).services.s!;

  test("a server admits new connections only while it is in the service with weight > 0", () => {
    expect(admitsNew(svc, "10.0.0.1|7")).toBe(true);
    expect(admitsNew(svc, "10.0.0.2|7")).toBe(false);
    expect(admitsNew(svc, "10.0.0.3|7")).toBe(false);
    expect(admitsNew(undefined, "10.0.0.1|7")).toBe(false);
  });

  test("a listener is identified by name, protocol and port, not by its service", () => {
    expect(listenerIdentity({ name: "l", protocol: "tcp", port: 1 })).toBe(listenerIdentity({ name: "l", protocol: "tcp", port: 1 }));
    expect(listenerIdentity({ name: "l", protocol: "tcp", port: 1 })).not.toBe(listenerIdentity({ name: "l", protocol: "tls", port: 1 }));
  });
});
