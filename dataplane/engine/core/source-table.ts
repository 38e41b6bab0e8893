/**
 * Source-IP persistence for one tcp service: which server a client address sticks to.
 *
 * A client is pinned to its server while it has a connection open, and for `timeout` seconds
 * after its LAST connection closes (the cloud NLB semantics of "session persistence by source IP").
 * Memory is bounded: at most `maxEntries` addresses; past that the least recently used address is
 * forgotten (a `Map` iterates in insertion order, and every touch re-inserts, so the first entry is
 * always the least recently used). Expired entries go lazily on lookup and in `sweep`, a bounded
 * walk from the oldest end that the proxy runs periodically. The clock is passed in (`now`, epoch ms)
 * so tests are exact.
 */

/** Default bound on remembered client addresses per service (about 10 MB at worst). */
export const DEFAULT_MAX_SOURCE_ENTRIES = 100_000;

interface Entry {
  /** The server key (`address|port`) the client sticks to. */
  server: string;
  /** Connections of this client to `server` open now (or being opened). */
  open: number;
  /** When the stickiness ends; only meaningful when `open` is 0. */
  expiresAt: number;
}

export class SourceTable {
  private readonly entries = new Map<string, Entry>();
  private timeoutMs: number;

  /**
   * @param timeoutSeconds stickiness after the last connection closes (the service's
   *   `sessionPersistence.timeout`, 1–86400).
   * @param maxEntries bound on remembered addresses. Default {@link DEFAULT_MAX_SOURCE_ENTRIES}.
   */
  constructor(
    timeoutSeconds: number,
    private readonly maxEntries = DEFAULT_MAX_SOURCE_ENTRIES,
  ) {
    this.timeoutMs = timeoutSeconds * 1000;
  }

  /** A new timeout applies to entries whose expiry starts from now on; running ones keep theirs. */
  setTimeout(timeoutSeconds: number): void {
    this.timeoutMs = timeoutSeconds * 1000;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The server `ip` sticks to at `now`, or undefined. An expired entry is removed. */
  lookup(ip: string, now: number): string | undefined {
    const e = this.entries.get(ip);
    if (!e) return undefined;
    if (e.open === 0 && e.expiresAt <= now) {
      this.entries.delete(ip);
      return undefined;
    }
    return e.server;
  }

  /**
   * A connection of `ip` to `server` starts. Pins the client to `server`; if it stuck to another
   * server (one no longer usable), the entry now names `server` and counts only the new connection.
   */
  open(ip: string, server: string): void {
    const e = this.entries.get(ip);
    if (e) this.entries.delete(ip);
    if (e && e.server === server) {
      e.open++;
      this.entries.set(ip, e);
    } else {
      this.entries.set(ip, { server, open: 1, expiresAt: Number.POSITIVE_INFINITY });
    }
    this.evict();
  }

  /**
   * A connection of `ip` to `server` ended (or never got established). When it was the client's last
   * one, the `timeout` starts now. A connection to a server the entry no longer names is ignored.
   */
  close(ip: string, server: string, now: number): void {
    const e = this.entries.get(ip);
    if (!e || e.server !== server) return;
    e.open = Math.max(0, e.open - 1);
    if (e.open === 0) {
      e.expiresAt = now + this.timeoutMs;
      this.entries.delete(ip);
      this.entries.set(ip, e);
    }
  }

  /**
   * A connection of `ip` to `server` was never established (the server refused or timed out). When
   * no other connection holds the entry, the client's stickiness to that server is forgotten.
   */
  abandon(ip: string, server: string): void {
    const e = this.entries.get(ip);
    if (!e || e.server !== server) return;
    e.open = Math.max(0, e.open - 1);
    if (e.open === 0) this.entries.delete(ip);
  }

  /** Forgets the client's stickiness at once. */
  forget(ip: string): void {
    this.entries.delete(ip);
  }

  /**
   * Removes expired entries, looking at no more than `budget` entries from the least recently used
   * end. Returns how many were removed. Bounded so a sweep never stalls the event loop.
   */
  sweep(now: number, budget = 10_000): number {
    let seen = 0;
    let removed = 0;
    for (const [ip, e] of this.entries) {
      if (seen++ >= budget) break;
      if (e.open === 0 && e.expiresAt <= now) {
        this.entries.delete(ip);
        removed++;
      }
    }
    return removed;
  }

  private evict(): void {
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) return;
      this.entries.delete(oldest.value);
    }
  }
}
