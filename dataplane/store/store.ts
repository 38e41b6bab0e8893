import { hostname } from "node:os";
import { join } from "node:path";
import { type Kind, type Stored } from "../../model";
import { buildSnapshot, type Snapshot } from "../config/snapshot";
import { AdminError } from "../errors";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import { mkdir } from "./fs-async";
import { ListenError, type TrafficRuntime } from "../runtime/traffic-runtime";
import { configObjects, countObjects, emptyCollections, sortedObjects, type Collections } from "./collections";
import type { ConfigStore, ReplicaInfo, WriteReceipt } from "./config-store";
import { planCreate, planRemove, planReplace, usageOf, type Plan, type ServerUsage } from "./plans";
import { STATE_FILE_NAME, readStateFile, removeStaleTempFiles, writeStateFile } from "./state-file";
import { waitUntil } from "./revision-waiters";

export { ifMatchAccepts, type ServerUsage } from "./plans";

/**
 * The balancer's objects, their integrity and their persistence. Every change runs the pipeline of
 * docs/architecture.md, one change at a time (a promise queue), so concurrent requests see each
 * other's results:
 *
 *   validate → integrity → tentative collections → runtime.apply(snapshot) → state file → commit
 *
 * Anything refused before the commit leaves memory, the runtime and the state file as they were.
 */

export interface StoreOptions {
  /** Directory of the state file; created if missing. */
  stateDir: string;
  runtime: TrafficRuntime;
  log: Logger;
  /** `GET /v1/replica`'s name. Default: the hostname. */
  replicaName?: string;
}

export class Store implements ConfigStore {
  private objects: Collections;
  /** Generation of the last snapshot handed to the runtime; strictly increases, gaps allowed. */
  private lastGeneration: number;
  private queue: Promise<void> = Promise.resolve();
  private readonly applied = new Set<() => void>();

  private constructor(
    private readonly file: string,
    private readonly runtime: TrafficRuntime,
    private readonly log: Logger,
    loaded: { generation: number; objects: Collections },
    private readonly replicaName: string,
  ) {
    this.objects = loaded.objects;
    this.lastGeneration = loaded.generation;
  }

  /** Loads the state file (missing = empty). Rejects with StateFileError when it is corrupt. */
  static async open(options: StoreOptions): Promise<Store> {
    await mkdir(options.stateDir, { recursive: true });
    const file = join(options.stateDir, STATE_FILE_NAME);
    const log = options.log.child({ component: "store" });
    const loaded = (await readStateFile(file)) ?? { generation: 0, objects: emptyCollections() };
    const stale = await removeStaleTempFiles(file);
    if (stale.length > 0) log.warn({ files: stale }, "removed temp files left by an interrupted write");
    log.info({ file, generation: loaded.generation, objects: countObjects(loaded.objects) }, "state loaded");
    return new Store(file, options.runtime, log, loaded, options.replicaName ?? hostname());
  }

  get stateFile(): string {
    return this.file;
  }

  /** Generation of the snapshot last handed to the runtime. */
  get generation(): number {
    return this.lastGeneration;
  }

  /** The file store's revision is its generation. */
  get revision(): number {
    return this.lastGeneration;
  }

  waitForRevision(revision: number, timeoutMs: number): Promise<boolean> {
    return waitUntil(this.applied, () => this.lastGeneration >= revision, timeoutMs);
  }

  staleSeconds(): undefined {
    return undefined;
  }

  replica(): ReplicaInfo {
    return { name: this.replicaName, store: "file", appliedRevision: this.lastGeneration, state: { status: "connected" }, unboundListeners: [] };
  }

  collectMetrics(out: Metrics): void {
    out.set("ballast_config_generation", "Generation of the configuration snapshot last applied.", undefined, this.lastGeneration);
    out.set("ballast_replica_info", "This replica's name (value 1).", { replica: this.replicaName }, 1);
  }

  async close(): Promise<void> {
    await this.queue;
  }

  /** The committed configuration as a snapshot, at the generation last applied. */
  snapshot(): Snapshot {
    return buildSnapshot(configObjects(this.objects), this.lastGeneration);
  }

  counts(): Record<Kind, number> {
    return countObjects(this.objects);
  }

  list<K extends Kind>(kind: K): Stored<K>[] {
    return sortedObjects(this.objects, kind);
  }

  get<K extends Kind>(kind: K, name: string): Stored<K> | undefined {
    return (this.objects[kind] as ReadonlyMap<string, Stored<K>>).get(name);
  }

  /** POST: validates `body`, checks integrity, applies and persists. Resolves with the stored object (version 1). */
  create<K extends Kind>(kind: K, body: unknown, receipt?: WriteReceipt): Promise<Stored<K>> {
    return this.change(() => planCreate(this.objects, kind, body), receipt);
  }

  /** PUT: see `planReplace`. `ifMatch` is the raw If-Match header, if any. */
  replace<K extends Kind>(kind: K, name: string, body: unknown, ifMatch?: string, receipt?: WriteReceipt): Promise<Stored<K>> {
    return this.change(() => planReplace(this.objects, kind, name, body, ifMatch), receipt);
  }

  /** DELETE: refuses while referenced; deleting a backend service also deletes its health check. */
  remove(kind: Kind, name: string, receipt?: WriteReceipt): Promise<void> {
    return this.change(() => planRemove(this.objects, kind, name), receipt);
  }

  /** Reverse lookup of a server address (compared case-insensitively, as written in the groups). */
  usage(address: string): ServerUsage {
    return usageOf(this.objects, address);
  }

  /** Resolves once every change queued so far has finished (used on shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  /**
   * Runs `plan` alone (after every earlier change), then commits its tentative collections.
   * `next: undefined` means nothing to change.
   */
  private change<T>(plan: () => Plan<T>, receipt?: WriteReceipt): Promise<T> {
    const run = async () => {
      const { next, result } = plan();
      if (next) await this.commit(next);
      if (receipt) receipt.revision = this.lastGeneration;
      return result;
    };
    const done = this.queue.then(run);
    this.queue = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  private async commit(next: Collections): Promise<void> {
    const generation = ++this.lastGeneration;
    try {
      await this.runtime.apply(buildSnapshot(configObjects(next), generation));
    } catch (err) {
      if (err instanceof ListenError || (err as { code?: unknown })?.code === "listen_failed") {
        const { listener, port } = err as ListenError;
        throw new AdminError("port_unavailable", (err as Error).message, [
          { path: "port", message: `listener '${listener}' cannot listen on port ${port}` },
        ]);
      }
      this.log.error({ err }, "the runtime refused a snapshot; restoring the previous one");
      await this.reapplyCurrent();
      throw new AdminError("internal", "the traffic runtime could not apply the change; nothing changed");
    }
    try {
      await writeStateFile(this.file, { generation, objects: next }, (err) =>
        this.log.warn({ err, file: this.file }, "state file written but its directory could not be synced"),
      );
    } catch (err) {
      this.log.error({ err, file: this.file }, "state file write failed; restoring the previous configuration");
      await this.reapplyCurrent();
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new AdminError("state_write_failed", `the state file could not be written (${reason}); nothing changed`);
    }
    this.objects = next;
    for (const wake of this.applied) wake();
  }

  /** Makes the committed configuration live again after a failed change (best effort, logged). */
  private async reapplyCurrent(): Promise<void> {
    const generation = ++this.lastGeneration;
    try {
      await this.runtime.apply(buildSnapshot(configObjects(this.objects), generation));
    } catch (err) {
      this.log.error({ err }, "could not restore the previous configuration in the runtime");
    }
  }
}
