import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { buildSnapshot, type ServiceSnapshot } from "../../../../dataplane/config/snapshot";
import { ServicePicker } from "../../../../dataplane/engine/core/service-picker";
import type { ServerHealth } from "../../../../dataplane/engine/core/server-health";
import { BackendService, ServerGroup } from "../../../../model";
import { SmoothWrr } from "../../../../dataplane/scheduler/smooth-wrr";
import { clientIps } from "../../../helpers/random";

function service(opts: {
  scheduler?: "wrr" | "wlc" | "source-ip";
  servers: { address: string; port?: number; weight?: number; role?: "primary" | "secondary" }[];
  availability?: boolean;
  slowStart?: number;
}): ServiceSnapshot {
  const group = ServerGroup.parse(
    opts.availability ? { name: "g", type: "availability", servers: opts.servers } : { name: "g", type: "virtual", servers: opts.servers },
  );
  const svc = BackendService.parse({
    name: "web",
    protocol: "http",
    port: 80,
    scheduler: opts.scheduler ?? "wrr",
    serverGroup: "g",
    ...(opts.slowStart ? { slowStart: opts.slowStart } : {}),
  });
  return buildSnapshot({ listeners: [], backendServices: [svc], serverGroups: [group], healthChecks: [] }, 1).services.web!;
}

const key = (address: string) => `${address}|80`;

describe("ServicePicker", () => {
  test("returns undefined when the service has no usable server", () => {
    const p = new ServicePicker(service({ servers: [{ address: "10.0.0.1", weight: 0 }] }), { now: () => 0 });
    expect(p.pick("1.1.1.1")).toBeUndefined();
    expect(new ServicePicker(service({ servers: [] }), { now: () => 0 }).pick("1.1.1.1")).toBeUndefined();
  });

  test("skips unhealthy and weight-0 servers; unchecked servers are usable", () => {
    const p = new ServicePicker(
      service({ servers: [{ address: "10.0.0.1" }, { address: "10.0.0.2", weight: 0 }, { address: "10.0.0.3" }] }),
      { now: () => 0 },
    );
    p.setHealth({ [key("10.0.0.1")]: { status: "unhealthy" } });
    for (let i = 0; i < 10; i++) expect(p.pick("1.1.1.1")?.address).toBe("10.0.0.3");
    expect(p.isUsable(key("10.0.0.1"))).toBe(false);
    expect(p.isUsable(key("10.0.0.2"))).toBe(false);
    expect(p.isUsable(key("10.0.0.3"))).toBe(true);
  });

  test("keeps the wrr round across setHealth calls", () => {
    const p = new ServicePicker(service({ servers: [{ address: "a1" }, { address: "a2" }, { address: "a3" }] }), { now: () => 0 });
    expect(p.pick("")?.address).toBe("a1");
    p.setHealth({ [key("a3")]: { status: "healthy" } });
    expect(p.pick("")?.address).toBe("a2");
    p.setHealth({});
    expect(p.pick("")?.address).toBe("a3");
  });

  test("availability group: the primary while it is not unhealthy, else the secondary, and back", () => {
    const p = new ServicePicker(
      service({ availability: true, servers: [{ address: "sec", role: "secondary" }, { address: "pri", role: "primary" }] }),
      { now: () => 0 },
    );
    expect(p.pick("")?.address).toBe("pri");
    expect(p.isUsable(key("sec"))).toBe(false);
    p.setHealth({ [key("pri")]: { status: "unhealthy" } });
    expect(p.pick("")?.address).toBe("sec");
    // The secondary is never checked: a stray status for it is ignored.
    p.setHealth({ [key("pri")]: { status: "unhealthy" }, [key("sec")]: { status: "unhealthy" } });
    expect(p.pick("")?.address).toBe("sec");
    p.setHealth({ [key("pri")]: { status: "healthy" } });
    expect(p.pick("")?.address).toBe("pri");
  });

  test("byId finds a server by its opaque cookie id", () => {
    const svc = service({ servers: [{ address: "10.0.0.1" }, { address: "10.0.0.2" }] });
    const p = new ServicePicker(svc, { now: () => 0 });
    expect(p.byId(svc.servers[1]!.id)?.address).toBe("10.0.0.2");
    expect(p.byId("nope")).toBeUndefined();
  });

  test("wlc: acquire/release steer picks to the server with fewer in flight", () => {
    const p = new ServicePicker(service({ scheduler: "wlc", servers: [{ address: "a" }, { address: "b" }] }), { now: () => 0 });
    p.acquire(key("a"));
    p.acquire(key("a"));
    expect(p.pick("")?.address).toBe("b");
    p.acquire(key("b"));
    expect(p.pick("")?.address).toBe("b");
    p.acquire(key("b"));
    p.acquire(key("b"));
    expect(p.pick("")?.address).toBe("a");
    p.release(key("b"));
    p.release(key("b"));
    expect(p.active(key("b"))).toBe(1);
    expect(p.pick("")?.address).toBe("b");
  });

  test("pickExcluding skips the given servers and ends with undefined", () => {
    const p = new ServicePicker(service({ servers: [{ address: "a" }, { address: "b" }] }), { now: () => 0 });
    const first = p.pick("")!;
    const second = p.pickExcluding("", new Set([first.key]))!;
    expect(second.key).not.toBe(first.key);
    expect(p.pickExcluding("", new Set([first.key, second.key]))).toBeUndefined();
  });

  test("slow start: effective weight ramps linearly over the window", () => {
    let now = 1_000_000;
    const p = new ServicePicker(service({ slowStart: 100, servers: [{ address: "old" }, { address: "new" }] }), { now: () => now });
    p.setHealth({ [key("new")]: { status: "healthy", slowStartFrom: now } });
    expect(p.effectiveWeight(key("new"))).toBe(1); // the 1% floor of weight 100
    now += 50_000;
    expect(p.effectiveWeight(key("new"))).toBeCloseTo(50, 6);
    const counts = { old: 0, new: 0 };
    for (let i = 0; i < 1500; i++) counts[p.pick("")!.address as "old" | "new"]++;
    expect(counts.new / 1500).toBeCloseTo(50 / 150, 2);
    now += 60_000;
    expect(p.effectiveWeight(key("new"))).toBe(100);
  });

  test("source-ip: 1,000 clients spread by weight and only ~1/N move when one of N servers goes", () => {
    const svc = service({ scheduler: "source-ip", servers: ["s1", "s2", "s3", "s4", "s5"].map((address) => ({ address })) });
    const p = new ServicePicker(svc, { now: () => 0 });
    const other = new ServicePicker(svc, { now: () => 0 });
    const ips = clientIps(1000, 3);
    const before = ips.map((ip) => p.pick(ip)!.key);
    expect(ips.map((ip) => other.pick(ip)!.key)).toEqual(before);
    p.setHealth({ [key("s3")]: { status: "unhealthy" } });
    const after = ips.map((ip) => p.pick(ip)!.key);
    const moved = before.filter((k, i) => k !== after[i]).length;
    expect(before.filter((k, i) => k !== after[i] && k !== key("s3"))).toEqual([]);
    expect(Math.abs(moved / 1000 - 0.2)).toBeLessThan(0.07);
  });

  test("update keeps active counts and the round when the scheduler is unchanged", () => {
    const svc = service({ servers: [{ address: "a" }, { address: "b" }] });
    const p = new ServicePicker(svc, { now: () => 0 });
    p.acquire(key("a"));
    expect(p.pick("")?.address).toBe("a");
    p.update(service({ servers: [{ address: "a" }, { address: "b" }, { address: "c", weight: 0 }] }));
    expect(p.pick("")?.address).toBe("b");
    expect(p.active(key("a"))).toBe(1);
  });

  test("property: wrr picks exactly as smooth WRR over the usable servers' weights, through updates and health changes", () => {
    // The picker tells the scheduler when every usable server has the same weight (a faster path);
    // a stale or wrong hint would change picks, e.g. keep 1:1 after the weights became 3:1.
    const addresses = ["a", "b", "c", "d"];
    const op = fc.oneof(
      fc.record({ kind: fc.constant("update" as const), weights: fc.array(fc.constantFrom(0, 1, 3, 5), { minLength: 4, maxLength: 4 }) }),
      fc.record({ kind: fc.constant("health" as const), statuses: fc.array(fc.constantFrom<ServerHealth["status"]>("healthy", "unhealthy"), { minLength: 4, maxLength: 4 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 10 }), (ops) => {
        const p = new ServicePicker(service({ servers: addresses.map((address) => ({ address, weight: 1 })) }), { now: () => 0 });
        const reference = new SmoothWrr();
        let servers = addresses.map((address) => ({ address, weight: 1 }));
        for (const o of ops) {
          if (o.kind === "update") {
            servers = addresses.map((address, i) => ({ address, weight: o.weights[i]! }));
            p.update(service({ servers }));
          } else {
            p.setHealth(Object.fromEntries(addresses.map((a, i) => [key(a), { status: o.statuses[i]! }])));
          }
          for (let k = 0; k < 12; k++) {
            const usable = servers.filter((s) => p.isUsable(key(s.address))).map((s) => ({ key: key(s.address), weight: s.weight, active: 0 }));
            const expected = usable.length === 0 ? undefined : usable.length === 1 ? usable[0]!.key : usable[reference.pick({ candidates: usable, clientIp: "" })]!.key;
            expect(p.pick("")?.key).toBe(expected);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  test("a server that left keeps its in-flight count until the last release, and a new count if it comes back", () => {
    const both = service({ servers: [{ address: "a" }, { address: "b" }] });
    const p = new ServicePicker(both, { now: () => 0 });
    const held = p.tally(key("b"));
    held.active++;
    held.active++;
    p.update(service({ servers: [{ address: "a" }] }));
    expect(p.active(key("b"))).toBe(2);
    p.letGo(held);
    expect(p.active(key("b"))).toBe(1);
    p.update(both);
    expect(p.tally(key("b"))).toBe(held); // back while still in flight: the same count
    p.update(service({ servers: [{ address: "a" }] }));
    p.letGo(held);
    expect(p.active(key("b"))).toBe(0);
    expect(p.tally(key("b"))).not.toBe(held); // gone at 0 after leaving: a fresh count
  });

  test("property: never picks an unusable or weight-0 server", () => {
    const statusArb = fc.constantFrom<ServerHealth["status"] | undefined>("healthy", "unhealthy", "unchecked", undefined);
    fc.assert(
      fc.property(
        fc.constantFrom("wrr", "wlc", "source-ip" as const),
        fc.array(fc.record({ weight: fc.integer({ min: 0, max: 100 }), status: statusArb }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.ipV4(), { minLength: 1, maxLength: 20 }),
        (scheduler, rows, ips) => {
          const svc = service({ scheduler, servers: rows.map((r, i) => ({ address: `s${i}`, weight: r.weight })) });
          const health: Record<string, ServerHealth> = {};
          rows.forEach((r, i) => {
            if (r.status) health[key(`s${i}`)] = { status: r.status };
          });
          const p = new ServicePicker(svc, { now: () => 0 });
          p.setHealth(health);
          const usable = rows.some((r) => r.weight > 0 && r.status !== "unhealthy");
          for (const ip of ips) {
            const s = p.pick(ip);
            if (!usable) expect(s).toBeUndefined();
            else {
              const i = Number(s!.address.slice(1));
              expect(rows[i]!.weight).toBeGreaterThan(0);
              expect(rows[i]!.status).not.toBe("unhealthy");
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("ServicePicker failover and consistent picks", () => {
  const availability = () =>
    service({
      availability: true,
      servers: [
        { address: "10.0.0.1", role: "primary" },
        { address: "10.0.0.2", role: "secondary" },
      ],
    });

  test("a primary that refused falls through to the secondary before health notices", () => {
    const p = new ServicePicker(availability(), { now: () => 0 });
    expect(p.pick("1.1.1.1")?.address).toBe("10.0.0.1");
    expect(p.pickExcluding("1.1.1.1", new Set([key("10.0.0.1")]))?.address).toBe("10.0.0.2");
    expect(p.pickExcluding("1.1.1.1", new Set([key("10.0.0.1"), key("10.0.0.2")]))).toBeUndefined();
  });

  test("pickConsistent ignores the configured scheduler: pickers agree whatever their rotation", () => {
    const servers = [{ address: "10.0.0.1", weight: 10 }, { address: "10.0.0.2", weight: 30 }, { address: "10.0.0.3", weight: 60 }];
    const a = new ServicePicker(service({ scheduler: "wrr", servers }), { now: () => 0 });
    const b = new ServicePicker(service({ scheduler: "wlc", servers }), { now: () => 0 });
    const hash = new ServicePicker(service({ scheduler: "source-ip", servers }), { now: () => 0 });
    for (let i = 0; i < 7; i++) a.pick("advance the round"); // a's wrr state differs from b's
    const counts = new Map<string, number>();
    for (const ip of clientIps(2000, 7)) {
      const chosen = a.pickConsistent(ip)?.address;
      expect(chosen).toBe(b.pickConsistent(ip)?.address);
      expect(chosen).toBe(hash.pick(ip)?.address);
      counts.set(chosen!, (counts.get(chosen!) ?? 0) + 1);
    }
    // Still weighted: 10 / 30 / 60 % within a few points over 2,000 clients.
    expect((counts.get("10.0.0.3") ?? 0) / 2000).toBeGreaterThan(0.54);
    expect((counts.get("10.0.0.1") ?? 0) / 2000).toBeLessThan(0.14);
  });

  test("pickConsistent skips excluded and unusable servers", () => {
    const p = new ServicePicker(service({ servers: [{ address: "10.0.0.1" }, { address: "10.0.0.2" }] }), { now: () => 0 });
    p.setHealth({ [key("10.0.0.1")]: { status: "unhealthy" } });
    for (const ip of clientIps(50, 3)) expect(p.pickConsistent(ip)?.address).toBe("10.0.0.2");
    expect(p.pickConsistent("1.2.3.4", new Set([key("10.0.0.2")]))).toBeUndefined();
  });
});
