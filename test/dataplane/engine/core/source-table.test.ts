import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { SourceTable } from "../../../../dataplane/engine/core/source-table";

const T0 = 1_700_000_000_000;

describe("SourceTable", () => {
  test("pins a client while a connection is open, however long", () => {
    const t = new SourceTable(10);
    t.open("10.0.0.1", "a|1");
    expect(t.lookup("10.0.0.1", T0)).toBe("a|1");
    expect(t.lookup("10.0.0.1", T0 + 86_400_000)).toBe("a|1");
  });

  test("keeps the client for `timeout` seconds after its LAST connection closes, then forgets it", () => {
    const t = new SourceTable(10);
    t.open("10.0.0.1", "a|1");
    t.open("10.0.0.1", "a|1");
    t.close("10.0.0.1", "a|1", T0);
    // One connection still open: pinned regardless of time.
    expect(t.lookup("10.0.0.1", T0 + 60_000)).toBe("a|1");
    t.close("10.0.0.1", "a|1", T0 + 60_000);
    expect(t.lookup("10.0.0.1", T0 + 60_000 + 9_999)).toBe("a|1");
    expect(t.lookup("10.0.0.1", T0 + 60_000 + 10_000)).toBeUndefined();
    expect(t.size).toBe(0);
  });

  test("a reconnect within the timeout keeps the server and restarts the timeout from its close", () => {
    const t = new SourceTable(10);
    t.open("c", "a|1");
    t.close("c", "a|1", T0);
    expect(t.lookup("c", T0 + 9_000)).toBe("a|1");
    t.open("c", "a|1");
    t.close("c", "a|1", T0 + 9_500);
    expect(t.lookup("c", T0 + 19_000)).toBe("a|1");
    expect(t.lookup("c", T0 + 19_500)).toBeUndefined();
  });

  test("re-pinning to a new server (the old one became unusable) ignores closes of old connections", () => {
    const t = new SourceTable(10);
    t.open("c", "a|1");
    t.open("c", "b|1");
    t.close("c", "a|1", T0);
    expect(t.lookup("c", T0 + 100_000)).toBe("b|1");
    t.close("c", "b|1", T0 + 100_000);
    expect(t.lookup("c", T0 + 105_000)).toBe("b|1");
  });

  test("abandon forgets a stickiness whose connection never got established", () => {
    const t = new SourceTable(10);
    t.open("c", "a|1");
    t.abandon("c", "a|1");
    expect(t.lookup("c", T0)).toBeUndefined();
    t.open("c", "a|1");
    t.open("c", "a|1");
    t.abandon("c", "a|1");
    expect(t.lookup("c", T0)).toBe("a|1");
  });

  test("a shorter timeout applies to closes from then on", () => {
    const t = new SourceTable(100);
    t.open("c", "a|1");
    t.setTimeout(1);
    t.close("c", "a|1", T0);
    expect(t.lookup("c", T0 + 999)).toBe("a|1");
    expect(t.lookup("c", T0 + 1_000)).toBeUndefined();
  });

  test("is bounded: past maxEntries the least recently used client is forgotten", () => {
    const t = new SourceTable(10, 3);
    for (const ip of ["a", "b", "c"]) {
      t.open(ip, "s|1");
      t.close(ip, "s|1", T0);
    }
    t.open("a", "s|1"); // touch a: b is now the oldest
    t.open("d", "s|1");
    expect(t.size).toBe(3);
    expect(t.lookup("b", T0)).toBeUndefined();
    expect(t.lookup("a", T0)).toBe("s|1");
    expect(t.lookup("c", T0)).toBe("s|1");
    expect(t.lookup("d", T0)).toBe("s|1");
  });

  test("sweep removes expired entries, looks at no more than its budget, and keeps open ones", () => {
    const t = new SourceTable(1);
    for (let i = 0; i < 100; i++) {
      t.open(`c${i}`, "s|1");
      if (i % 10 !== 0) t.close(`c${i}`, "s|1", T0);
    }
    expect(t.sweep(T0 + 500)).toBe(0);
    expect(t.sweep(T0 + 1_000, 50)).toBe(45);
    expect(t.size).toBe(55);
    expect(t.sweep(T0 + 1_000)).toBe(45);
    expect(t.size).toBe(10);
  });

  test("property: size never exceeds the bound and lookups only name servers the client was pinned to", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("open", "close", "lookup"), fc.nat(20), fc.constantFrom("x|1", "y|1"), fc.nat(5_000)), { maxLength: 300 }),
        (ops) => {
          const t = new SourceTable(2, 8);
          const pinned = new Map<string, Set<string>>();
          let now = T0;
          for (const [op, ipn, server, dt] of ops) {
            now += dt;
            const ip = `10.0.0.${ipn}`;
            if (op === "open") {
              t.open(ip, server);
              pinned.set(ip, (pinned.get(ip) ?? new Set()).add(server));
            } else if (op === "close") t.close(ip, server, now);
            else {
              const got = t.lookup(ip, now);
              if (got !== undefined) expect(pinned.get(ip)?.has(got)).toBe(true);
            }
            expect(t.size).toBeLessThanOrEqual(8);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
