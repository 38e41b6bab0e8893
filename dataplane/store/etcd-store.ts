import { validate, type Kind, type Stored } from "../../model";
import { buildSnapshot, type Snapshot } from "../config/snapshot";
import { AdminError } from "../errors";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import { ListenError, type TrafficRuntime } from "../runtime/traffic-runtime";
import { configObjects, countObjects, emptyCollections, sortedObjects, withObject, withoutObject, type Collections } from "./collections";
import type { ConfigStore, ReplicaInfo, WriteReceipt } from "./config-store";
import { EtcdClient, EtcdUnavailableError, prefixEnd, type EtcdClientOptions, type WatchResponse } from "./etcd-client";
import { changeOps, decodePrefix, etcdLayout, parseObjectKey, type EtcdLayout } from "./etcd-layout";
import { mkdir } from "./fs-async";
import { integrityProblems } from "./integrity";
import { localCopyFile, readLocalCopy, writeLocalCopy } from "./local-copy";
import { planCreate, planRemove, planReplace, usageOf, type Plan, type ServerUsage } from "./plans";
import { waitUntil } from "./revision-waiters";

/**
 * The etcd store: one configuration under an etcd prefix, served by any number of replicas
 * (docs/replicas.md). Over 400 lines because its three parts share one queue and one state:
 * writes (plan → local port check → one transaction guarded on `config-revision`), the watch that
 * applies everyone's changes in revision order, and the partition handling (local copy, retries).
 *
 * Every change to this replica's objects, whether its own write or a watch event, runs alone on
 * one promise queue, so the runtime sees snapshots in revision order. A write is acknowledged only
 * after etcd committed it; it is then applied here at once (read-your-writes on this replica), and
 * the watch's copy of the same revision is skipped.
 */

export interface EtcdStoreOptions {
  client: EtcdClientOptions;
  prefix: string;
  replicaName: string;
  /** Where the local copy lives (`BALLAST_STATE_DIR`). */
  stateDir: string;
  runtime: TrafficRuntime;
  log: Logger;
}

/** Transaction attempts of one write before 409 `conflict`. */
export const WRITE_ATTEMPTS = 5;
/** How often the store's reachability is checked, and a listener that could not be bound retried. */
const PROBE_MS = 1_000;
const RETRY_LISTENERS_MS = 2_000;
const WATCH_BACKOFF_MIN_MS = 100;
const WATCH_BACKOFF_MAX_MS = 2_000;

export class EtcdStore implements ConfigStore {
  private objects: Collections = emptyCollections();
  private applied = 0;
  /** Mod revision of `config-revision` in the applied state: what a write's transaction compares. */
  private revisionMod = 0;
  private generation = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly wakers = new Set<() => void>();
  private unreachableSince: number | undefined;
  private unbound = new Set<string>();
  private closed = false;
  private watch: { cancel(): void } | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private copyWanted = false;
  private copyWriting: Promise<void> | undefined;
  private readonly layout: EtcdLayout;
  private readonly client: EtcdClient;
  private readonly copyFile: string;
  private readonly log: Logger;

  private constructor(private readonly options: EtcdStoreOptions) {
    this.layout = etcdLayout(options.prefix);
    this.client = new EtcdClient(options.client);
    this.copyFile = localCopyFile(options.stateDir);
    this.log = options.log.child({ component: "store", store: "etcd", prefix: this.layout.prefix });
  }

  /**
   * Loads the prefix and makes it live; when etcd cannot be reached, the local copy from the same
   * prefix instead (or nothing). Then watches and catches up in the background.
   */
  static async open(options: EtcdStoreOptions): Promise<EtcdStore> {
    await mkdir(options.stateDir, { recursive: true });
    const store = new EtcdStore(options);
    try {
      await store.reload();
    } catch (err) {
      if (!(err instanceof EtcdUnavailableError)) throw err;
      store.markUnreachable(err);
      await store.loadLocalCopy();
    }
    store.probeTimer = setInterval(() => void store.probe(), PROBE_MS);
    store.probeTimer.unref();
    void store.watchLoop();
    return store;
  }

  get revision(): number {
    return this.applied;
  }

  list<K extends Kind>(kind: K): Stored<K>[] {
    return sortedObjects(this.objects, kind);
  }

  get<K extends Kind>(kind: K, name: string): Stored<K> | undefined {
    return (this.objects[kind] as ReadonlyMap<string, Stored<K>>).get(name);
  }

  counts(): Record<Kind, number> {
    return countObjects(this.objects);
  }

  usage(address: string): ServerUsage {
    return usageOf(this.objects, address);
  }

  create<K extends Kind>(kind: K, body: unknown, receipt?: WriteReceipt): Promise<Stored<K>> {
    return this.write((objects) => planCreate(objects, kind, body), receipt);
  }

  replace<K extends Kind>(kind: K, name: string, body: unknown, ifMatch?: string, receipt?: WriteReceipt): Promise<Stored<K>> {
    return this.write((objects) => planReplace(objects, kind, name, body, ifMatch), receipt);
  }

  remove(kind: Kind, name: string, receipt?: WriteReceipt): Promise<void> {
    return this.write((objects) => planRemove(objects, kind, name), receipt);
  }

  waitForRevision(revision: number, timeoutMs: number): Promise<boolean> {
    return waitUntil(this.wakers, () => this.applied >= revision, timeoutMs);
  }

  staleSeconds(): number | undefined {
    return this.unreachableSince === undefined ? undefined : Math.floor((Date.now() - this.unreachableSince) / 1000);
  }

  replica(): ReplicaInfo {
    return {
      name: this.options.replicaName,
      store: "etcd",
      appliedRevision: this.applied,
      state:
        this.unreachableSince === undefined
          ? { status: "connected" }
          : { status: "unreachable", since: new Date(this.unreachableSince).toISOString(), endpoints: this.client.endpoints },
      unboundListeners: [...this.unbound].sort(),
    };
  }

  collectMetrics(out: Metrics): void {
    out.set("ballast_replica_info", "This replica's name (value 1).", { replica: this.options.replicaName }, 1);
    out.set("ballast_config_revision", "The etcd revision of the configuration this replica applied.", undefined, this.applied);
    out.set("ballast_store_connected", "1 while etcd answers, 0 while it cannot be reached.", undefined, this.unreachableSince === undefined ? 1 : 0);
    for (const name of this.objects.listeners.keys()) {
      out.set("ballast_listener_bound", "1 when this replica listens on the listener's port, 0 while it cannot bind it (it retries).", { listener: name }, this.unbound.has(name) ? 0 : 1);
    }
  }

  idle(): Promise<void> {
    return this.queue.then(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.probeTimer) clearInterval(this.probeTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.watch?.cancel();
    await this.idle();
    await this.copyWriting;
    await this.client.close();
  }

  /** Runs `task` after every change queued before it. */
  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private write<T>(plan: (objects: Collections) => Plan<T>, receipt?: WriteReceipt): Promise<T> {
    return this.enqueue(async () => {
      for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
        const { next, result } = plan(this.objects);
        if (!next) {
          if (receipt) receipt.revision = this.applied;
          return result;
        }
        // The replica that takes a write checks locally, as the file store does, that new ports bind.
        try {
          await this.makeLive(next, true);
        } catch (err) {
          if (err instanceof AdminError) throw err;
          this.log.error({ err }, "the runtime refused a snapshot; restoring the applied one");
          await this.makeLive(this.objects, false).catch(() => undefined);
          throw new AdminError("internal", "the traffic runtime could not apply the change; nothing changed");
        }
        let txn: { succeeded: boolean; revision: number };
        try {
          const stamp = JSON.stringify({ replica: this.options.replicaName, at: new Date().toISOString() });
          txn = await this.client.txn([{ key: this.layout.revisionKey, modRevision: this.revisionMod }], changeOps(this.layout, this.objects, next, stamp));
        } catch (err) {
          await this.makeLive(this.objects, false).catch(() => undefined);
          throw this.unavailable(err);
        }
        this.markReachable();
        if (txn.succeeded) {
          this.commit(next, txn.revision, txn.revision);
          if (receipt) receipt.revision = txn.revision;
          return result;
        }
        this.log.info({ attempt, revision: this.applied }, "a concurrent change won the transaction; re-reading and re-validating");
        try {
          await this.reloadNow();
        } catch (err) {
          throw this.unavailable(err);
        }
      }
      throw new AdminError("conflict", `the configuration kept changing concurrently; the change was refused after ${WRITE_ATTEMPTS} attempts: retry it`);
    });
  }

  private unavailable(err: unknown): AdminError {
    if (err instanceof EtcdUnavailableError) {
      this.markUnreachable(err);
      return new AdminError("store_unavailable", `${err.message}; nothing changed`);
    }
    if (err instanceof AdminError) return err;
    this.log.error({ err }, "etcd refused a request");
    return new AdminError("store_unavailable", `etcd at ${this.client.endpoints.join(", ")} refused the request: ${(err as Error).message}`);
  }

  /** Takes `objects` as the applied state at `revision`. */
  private commit(objects: Collections, revision: number, revisionMod: number): void {
    this.objects = objects;
    this.applied = Math.max(this.applied, revision);
    this.revisionMod = revisionMod;
    for (const wake of this.wakers) wake();
    this.saveCopy();
  }

  /** Reads the whole prefix and makes it live (queued). */
  private reload(): Promise<void> {
    return this.enqueue(() => this.reloadNow());
  }

  private async reloadNow(): Promise<void> {
    const { revision, kvs } = await this.client.range(this.layout.root, prefixEnd(this.layout.root));
    this.markReachable();
    const decoded = decodePrefix(this.layout, kvs, revision);
    if (!decoded.ok) {
      // Written by something other than a data plane: keep serving what is applied, say why.
      this.log.error({ problem: decoded.problem, revision }, "the configuration in etcd is invalid; keeping the applied one");
      this.applied = Math.max(this.applied, revision);
      return;
    }
    await this.makeLive(decoded.state.objects, false);
    this.commit(decoded.state.objects, revision, decoded.revisionModRevision);
    this.log.info({ revision, objects: countObjects(this.objects) }, "configuration loaded from etcd");
  }

  /** Applies a watch message's events in order (queued); events this replica already applied are skipped. */
  private applyWatch(response: WatchResponse): Promise<void> {
    return this.enqueue(async () => {
      let objects = this.objects;
      let revisionMod = this.revisionMod;
      let last = this.applied;
      for (const { type, kv } of response.events) {
        if (kv.modRevision <= this.applied) continue;
        last = Math.max(last, kv.modRevision);
        if (kv.key === this.layout.revisionKey) {
          revisionMod = type === "put" ? kv.modRevision : 0;
          continue;
        }
        const at = parseObjectKey(this.layout, kv.key);
        if (!at) continue;
        if (type === "delete") {
          objects = withoutObject(objects, at.kind, at.name);
          continue;
        }
        const object = decodeObject(at.kind, kv.value);
        if (!object) {
          this.log.error({ key: kv.key, revision: kv.modRevision }, "an object in etcd is invalid; ignoring it");
          continue;
        }
        objects = withObject(objects, at.kind, object);
      }
      if (last <= this.applied) return;
      const problems = integrityProblems(objects);
      if (problems.length > 0) {
        this.log.error({ problems, revision: last }, "the configuration in etcd breaks integrity; keeping the applied one");
        this.applied = last;
        return;
      }
      await this.makeLive(objects, false);
      this.commit(objects, last, revisionMod);
    });
  }

  /** The applied configuration as a snapshot, at the generation last handed to the runtime. */
  snapshot(): Snapshot {
    return buildSnapshot(configObjects(this.objects), this.generation);
  }

  /**
   * Hands `objects` to the runtime. A listener whose port this replica cannot bind is left out and
   * retried later (`tentative` false: a configuration from etcd); on a write (`tentative` true) a
   * new port that cannot be bound refuses the write with `port_unavailable`, as on the file store.
   */
  private async makeLive(objects: Collections, tentative: boolean): Promise<void> {
    const excluded = new Set([...this.unbound].filter((name) => objects.listeners.has(name)));
    for (let i = 0; i <= objects.listeners.size; i++) {
      const config = configObjects(objects);
      config.listeners = config.listeners.filter((l) => !excluded.has(l.name));
      try {
        await this.options.runtime.apply(buildSnapshot(config, ++this.generation));
        break;
      } catch (err) {
        const listener = (err as ListenError).listener;
        if (!(err instanceof ListenError || (err as { code?: unknown })?.code === "listen_failed") || excluded.has(listener)) throw err;
        if (tentative && !this.unbound.has(listener)) {
          await this.makeLive(this.objects, false).catch(() => undefined);
          throw new AdminError("port_unavailable", (err as Error).message, [{ path: "port", message: `listener '${listener}' cannot listen on port ${(err as ListenError).port}` }]);
        }
        this.log.warn({ listener, port: (err as ListenError).port, err: (err as Error).message }, "cannot bind a listener's port; serving the others and retrying");
        excluded.add(listener);
      }
    }
    if (tentative) return;
    this.unbound = excluded;
    if (excluded.size > 0 && !this.retryTimer && !this.closed) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (this.closed) return;
        const before = new Set(this.unbound);
        this.unbound = new Set();
        void this.enqueue(() => this.makeLive(this.objects, false)).then(
          () => {
            for (const name of before) if (!this.unbound.has(name)) this.log.info({ listener: name }, "listener bound after retrying");
          },
          (err: unknown) => this.log.error({ err }, "retrying the listeners failed"),
        );
      }, RETRY_LISTENERS_MS);
      this.retryTimer.unref();
    }
  }

  /** Watches from the applied revision; after any end of the stream, reloads the whole prefix and watches again. */
  private async watchLoop(): Promise<void> {
    let backoff = WATCH_BACKOFF_MIN_MS;
    let reload = this.unreachableSince !== undefined;
    while (!this.closed) {
      try {
        if (reload) await this.reload();
        reload = true;
        const ended = new Promise<Error>((resolve) => {
          void this.client
            .watch(this.layout.root, prefixEnd(this.layout.root), this.applied + 1, (r) => this.onWatch(r, resolve), resolve)
            .then(
              (handle) => {
                this.watch = handle;
                backoff = WATCH_BACKOFF_MIN_MS;
                if (this.closed) handle.cancel();
              },
              resolve,
            );
        });
        const err = await ended;
        this.watch?.cancel();
        this.watch = undefined;
        if (this.closed) return;
        this.log.warn({ err: err.message }, "etcd watch ended; reloading the prefix and watching again");
        if (err instanceof EtcdUnavailableError) this.markUnreachable(err);
      } catch (err) {
        if (err instanceof EtcdUnavailableError) this.markUnreachable(err);
        else this.log.error({ err }, "etcd watch failed");
      }
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, WATCH_BACKOFF_MAX_MS);
    }
  }

  private onWatch(response: WatchResponse, end: (err: Error) => void): void {
    if (response.compactRevision !== undefined || response.canceled) {
      this.log.warn({ compactRevision: response.compactRevision }, "etcd compacted the watched revision; reloading the prefix");
      return end(new Error("watch cancelled (compaction)"));
    }
    if (response.events.length > 0) void this.applyWatch(response).catch((err: unknown) => this.log.error({ err }, "applying a watch event failed"));
  }

  /** A cheap linearizable read: tells connected from unreachable (no leader included). */
  private async probe(): Promise<void> {
    // Without a leader a read takes the whole deadline: one probe at a time.
    if (this.closed || this.probing) return;
    this.probing = true;
    try {
      await this.client.range(this.layout.revisionKey);
      this.markReachable();
    } catch (err) {
      if (err instanceof EtcdUnavailableError) this.markUnreachable(err);
    } finally {
      this.probing = false;
    }
  }

  private markUnreachable(err: EtcdUnavailableError): void {
    if (this.unreachableSince !== undefined) return;
    this.unreachableSince = Date.now();
    this.log.warn({ endpoints: err.endpoints, reasons: err.reasons }, "etcd unreachable: serving the applied configuration, refusing writes");
  }

  private markReachable(): void {
    if (this.unreachableSince === undefined) return;
    this.log.info({ unreachableMs: Date.now() - this.unreachableSince }, "etcd reachable again");
    this.unreachableSince = undefined;
  }

  private async loadLocalCopy(): Promise<void> {
    const read = await readLocalCopy(this.copyFile);
    if (!read) return void this.log.warn({ file: this.copyFile }, "etcd unreachable at start and no local copy: serving an empty configuration until it answers");
    if (!read.ok) return void this.log.error({ file: this.copyFile, problem: read.problem }, "the local copy is unusable; serving an empty configuration until etcd answers");
    const { copy } = read;
    if (etcdLayout(copy.prefix).prefix !== this.layout.prefix) {
      return void this.log.warn({ file: this.copyFile, copyPrefix: copy.prefix }, "the local copy comes from another prefix; ignoring it");
    }
    await this.enqueue(async () => {
      await this.makeLive(copy.objects, false);
      this.objects = copy.objects;
      this.applied = copy.revision;
      // Unknown here: a write before the first reload fails its compare and re-reads.
      this.revisionMod = -1;
    });
    this.log.warn({ file: this.copyFile, revision: copy.revision, objects: countObjects(copy.objects) }, "etcd unreachable at start: serving the local copy");
  }

  /** Writes the local copy after the queue settles; several changes in a row cost one write. */
  private saveCopy(): void {
    this.copyWanted = true;
    if (this.copyWriting) return;
    this.copyWriting = (async () => {
      while (this.copyWanted) {
        this.copyWanted = false;
        try {
          await writeLocalCopy(this.copyFile, { endpoints: this.client.endpoints, prefix: this.layout.prefix, revision: this.applied, objects: this.objects });
        } catch (err) {
          this.log.warn({ err, file: this.copyFile }, "the local copy could not be written");
        }
      }
      this.copyWriting = undefined;
    })();
  }
}

function decodeObject(kind: Kind, text: string): Stored<Kind> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== "object" || raw === null) return undefined;
  const { version, ...spec } = raw as Record<string, unknown>;
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 1) return undefined;
  const result = validate(kind, spec);
  return result.ok ? ({ ...result.value, version } as Stored<Kind>) : undefined;
}
