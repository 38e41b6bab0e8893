import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { changedImmutableFields, kinds, validate, type Kind, type Specs, type Stored } from "../../model";
import { buildSnapshot, type Snapshot } from "../config/snapshot";
import { AdminError } from "../errors";
import type { Logger } from "../log";
import { mkdir } from "./fs-async";
import { ListenError, type TrafficRuntime } from "../runtime/traffic-runtime";
import { configObjects, countObjects, emptyCollections, sortedObjects, specOf, withObject, withoutObject, type Collections } from "./collections";
import { conflictOf, deletionGuard, integrityIssues } from "./integrity";
import { STATE_FILE_NAME, isPlainObject, readStateFile, removeStaleTempFiles, writeStateFile } from "./state-file";

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
}

/** `GET /v1/servers/<address>`: every group holding the address and every service bound to those groups. */
export interface ServerUsage {
  address: string;
  groups: { name: string; type: Specs["server-groups"]["type"]; servers: Specs["server-groups"]["servers"] }[];
  /** `port` is the service's port (the default port of its servers). */
  services: { name: string; group: string; port: number }[];
}

const notAnObject = () => new AdminError("invalid", "the body must be a JSON object", [{ path: "", message: "must be a JSON object" }]);

function notFound(kind: Kind, name: string): AdminError {
  return new AdminError("not_found", `no ${kinds[kind].title} named '${name}'`);
}

/**
 * True when an `If-Match` header matches `version`. Accepts `3`, `"3"`, `W/"3"`, a comma-separated
 * list of those, and `*` (any existing object).
 */
export function ifMatchAccepts(header: string, version: number): boolean {
  return header.split(",").some((raw) => {
    const tag = raw.trim().replace(/^W\//, "");
    return tag === "*" || tag.replace(/^"(.*)"$/, "$1") === String(version);
  });
}

export class Store {
  private objects: Collections;
  /** Generation of the last snapshot handed to the runtime; strictly increases, gaps allowed. */
  private lastGeneration: number;
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private readonly runtime: TrafficRuntime,
    private readonly log: Logger,
    loaded: { generation: number; objects: Collections },
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
    return new Store(file, options.runtime, log, loaded);
  }

  get stateFile(): string {
    return this.file;
  }

  /** Generation of the snapshot last handed to the runtime. */
  get generation(): number {
    return this.lastGeneration;
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
  create<K extends Kind>(kind: K, body: unknown): Promise<Stored<K>> {
    return this.change(() => {
      if (!isPlainObject(body)) throw notAnObject();
      const spec = this.validated(kind, body);
      if (this.objects[kind].has(spec.name)) {
        throw new AdminError("already_exists", `a ${kinds[kind].title} named '${spec.name}' already exists`, [
          { path: "name", message: "is taken" },
        ]);
      }
      this.checkIntegrity(kind, spec);
      const stored = { ...spec, version: 1 } as Stored<K>;
      return { next: withObject(this.objects, kind, stored), result: stored };
    });
  }

  /**
   * PUT: replaces the object named `name` with `body` (omitted optional fields take their defaults).
   * The body may omit `name` or repeat it. `ifMatch` is the raw If-Match header, if any. A body equal
   * to the stored spec changes nothing and keeps the version; otherwise the version goes up by one.
   */
  replace<K extends Kind>(kind: K, name: string, body: unknown, ifMatch?: string): Promise<Stored<K>> {
    return this.change(() => {
      const current = this.get(kind, name);
      if (!current) throw notFound(kind, name);
      if (ifMatch !== undefined && !ifMatchAccepts(ifMatch, current.version)) {
        throw new AdminError("precondition_failed", `If-Match ${ifMatch} does not match version ${current.version} of '${name}'`);
      }
      if (!isPlainObject(body)) throw notAnObject();
      if (body.name !== undefined && body.name !== name) {
        throw new AdminError("invalid", "the body's name differs from the name in the URL", [
          { path: "name", message: `must be '${name}' (as in the URL) or omitted; a new name means a new object` },
        ]);
      }
      const spec = this.validated(kind, { ...body, name });
      const changed = changedImmutableFields(kind, specOf(current), spec);
      if (changed.length > 0) {
        throw new AdminError(
          "immutable",
          `cannot change ${changed.join(", ")} of ${kinds[kind].title} '${name}'; replace the object instead`,
          changed.map((path) => ({ path, message: "is immutable" })),
        );
      }
      if (isDeepStrictEqual(spec, specOf(current))) return { next: undefined, result: current };
      this.checkIntegrity(kind, spec);
      const stored = { ...spec, version: current.version + 1 } as Stored<K>;
      return { next: withObject(this.objects, kind, stored), result: stored };
    });
  }

  /** DELETE: refuses while referenced; deleting a backend service also deletes its health check. */
  remove(kind: Kind, name: string): Promise<void> {
    return this.change(() => {
      if (!this.objects[kind].has(name)) throw notFound(kind, name);
      const guard = deletionGuard(this.objects, kind, name);
      if (guard) throw guard;
      let next = withoutObject(this.objects, kind, name);
      if (kind === "backend-services") {
        for (const check of this.objects["health-checks"].values()) {
          if (check.backendService === name) next = withoutObject(next, "health-checks", check.name);
        }
      }
      return { next, result: undefined };
    });
  }

  /** Reverse lookup of a server address (compared case-insensitively, as written in the groups). */
  usage(address: string): ServerUsage {
    const wanted = address.toLowerCase();
    const groups = sortedObjects(this.objects, "server-groups").flatMap((g) => {
      const servers = (g.servers as ReadonlyArray<{ address: string }>).filter((s) => s.address.toLowerCase() === wanted);
      return servers.length > 0 ? [{ name: g.name, type: g.type, servers: servers as Specs["server-groups"]["servers"] }] : [];
    });
    const names = new Set(groups.map((g) => g.name));
    const services = sortedObjects(this.objects, "backend-services")
      .filter((s) => s.serverGroup !== undefined && names.has(s.serverGroup))
      .map((s) => ({ name: s.name, group: s.serverGroup as string, port: s.port }));
    return { address, groups, services };
  }

  /** Resolves once every change queued so far has finished (used on shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  private validated<K extends Kind>(kind: K, body: unknown): Specs[K] {
    const result = validate(kind, body);
    if (!result.ok) throw new AdminError("invalid", `invalid ${kinds[kind].title}`, result.issues);
    return result.value;
  }

  private checkIntegrity<K extends Kind>(kind: K, spec: Specs[K]): void {
    const issues = integrityIssues(this.objects, kind, spec);
    if (issues.length > 0) {
      const certificate = issues.some((i) => i.path === "certificate" || i.path.startsWith("certificate."));
      throw new AdminError("invalid", `invalid ${kinds[kind].title}${certificate ? ": TLS cannot use its certificate" : ""}`, issues);
    }
    const clash = conflictOf(this.objects, kind, spec);
    if (clash) throw clash;
  }

  /**
   * Runs `plan` alone (after every earlier change), then commits its tentative collections.
   * `next: undefined` means nothing to change.
   */
  private change<T>(plan: () => { next: Collections | undefined; result: T }): Promise<T> {
    const run = async () => {
      const { next, result } = plan();
      if (next) await this.commit(next);
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
