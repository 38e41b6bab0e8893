import { describe, expect, it } from "vitest";
import { SlotList } from "../../../../dataplane/engine/core/slot-list";

class Item {
  slot = -1;
  other = -1;
  constructor(readonly n: number) {}
}

describe("SlotList", () => {
  it("adds, finds and removes members in O(1) with swap-remove", () => {
    const list = new SlotList<Item>("slot");
    const items = [0, 1, 2, 3, 4].map((n) => new Item(n));
    for (const it of items) list.add(it);
    expect(list.size).toBe(5);
    expect(list.delete(items[1]!)).toBe(true);
    expect(list.has(items[1]!)).toBe(false);
    expect(items[1]!.slot).toBe(-1);
    // The last member moved into the freed position and is still found there.
    expect(items[4]!.slot).toBe(1);
    expect(list.has(items[4]!)).toBe(true);
    expect([...list].map((i) => i.n).sort()).toEqual([0, 2, 3, 4]);
    expect(list.delete(items[1]!)).toBe(false);
    expect(list.size).toBe(4);
  });

  it("ignores a second add of the same member", () => {
    const list = new SlotList<Item>("slot");
    const a = new Item(1);
    list.add(a);
    list.add(a);
    expect(list.size).toBe(1);
    expect(list.delete(a)).toBe(true);
    expect(list.size).toBe(0);
  });

  it("keeps one object in two lists by two fields", () => {
    const one = new SlotList<Item>("slot");
    const two = new SlotList<Item>("other");
    const a = new Item(1);
    const b = new Item(2);
    one.add(a);
    one.add(b);
    two.add(b);
    expect(two.has(a)).toBe(false);
    expect(two.delete(a)).toBe(false);
    expect(one.size).toBe(2);
    expect(two.delete(b)).toBe(true);
    expect(one.has(b)).toBe(true);
  });

  it("does not mistake a member of another list at the same position for its own", () => {
    const one = new SlotList<Item>("slot");
    const two = new SlotList<Item>("slot");
    const a = new Item(1);
    const b = new Item(2);
    one.add(a);
    two.add(b);
    // Both sit at position 0 of their list.
    expect(one.has(b)).toBe(false);
    expect(one.delete(b)).toBe(false);
    expect(two.has(b)).toBe(true);
  });

  it("iterates a copy, so members may leave while it runs", () => {
    const list = new SlotList<Item>("slot");
    const items = Array.from({ length: 10 }, (_, n) => new Item(n));
    for (const it of items) list.add(it);
    const seen: number[] = [];
    for (const it of list) {
      seen.push(it.n);
      list.delete(it);
      if (it.n === 0) list.delete(items[9]!);
    }
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(list.size).toBe(0);
  });

  it("stays consistent under random churn (against a Set)", () => {
    const list = new SlotList<Item>("slot");
    const ref = new Set<Item>();
    const pool = Array.from({ length: 50 }, (_, n) => new Item(n));
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 50);
    for (let i = 0; i < 5000; i++) {
      const it = pool[rnd()]!;
      if (i % 3 === 0) {
        expect(list.delete(it)).toBe(ref.delete(it));
      } else {
        list.add(it);
        ref.add(it);
      }
      expect(list.size).toBe(ref.size);
    }
    for (const it of pool) expect(list.has(it)).toBe(ref.has(it));
  });
});
