/**
 * An unordered collection with O(1) add, delete and membership, for objects that join and leave on
 * every request or connection (requests in flight, open connections). Each member stores its own
 * position in a numeric field named by the list (`-1` when not in the list), so the list is a plain
 * array with swap-remove.
 *
 * Why not a `Set`: V8's Set and Map tables rehash under add/delete churn, and every table replaced
 * by a rehash keeps a pointer to its successor (for live iterators). Once one table has been
 * promoted to the old generation, that dead table is a root for every young-generation collection
 * until the next full GC, so each successor table (and every request it held) survives the
 * scavenges and is promoted in turn. Under load this chain made part of what every request
 * allocated survive, the young generation grew and each scavenge became a stall (docs/benchmarks.md).
 * An array's replaced backing store points nowhere.
 */
export class SlotList<T extends object> {
  private readonly items: T[] = [];

  /** `field`: the member's own numeric field this list keeps its position in (one field per list). */
  constructor(private readonly field: SlotField<T>) {}

  get size(): number {
    return this.items.length;
  }

  has(item: T): boolean {
    const i = (item[this.field] as number | undefined) ?? -1;
    return i >= 0 && this.items[i] === item;
  }

  /** Adds `item` (once: adding a member again does nothing). */
  add(item: T): void {
    if (this.has(item)) return;
    (item[this.field] as number) = this.items.length;
    this.items.push(item);
  }

  /** Removes `item`; false when it was not in the list. */
  delete(item: T): boolean {
    if (!this.has(item)) return false;
    const i = item[this.field] as number;
    const last = this.items.pop()!;
    if (last !== item) {
      this.items[i] = last;
      (last[this.field] as number) = i;
    }
    (item[this.field] as number) = -1;
    return true;
  }

  /** A copy of the members, safe to iterate while members leave. */
  toArray(): T[] {
    return this.items.slice();
  }

  /** Iterates a copy (members may leave or join meanwhile), in no particular order. */
  [Symbol.iterator](): Iterator<T> {
    return this.items.slice()[Symbol.iterator]();
  }
}

/** The name of a member's numeric position field. */
export type SlotField<T> = { [K in keyof T]: T[K] extends number ? K : never }[keyof T];
