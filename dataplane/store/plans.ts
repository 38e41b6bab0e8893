import { isDeepStrictEqual } from "node:util";
import { changedImmutableFields, kinds, validate, type Kind, type Specs, type Stored } from "../../model";
import { AdminError } from "../errors";
import { sortedObjects, specOf, withObject, withoutObject, type Collections } from "./collections";
import { conflictOf, deletionGuard, integrityIssues } from "./integrity";
import { isPlainObject } from "./state-file";

/**
 * The admin changes as pure functions of the current objects: each validates the request, runs the
 * integrity guards and answers the tentative collections (`next`, undefined when nothing changes)
 * with the result to send back. Both store backends run them: the file store once, the etcd store
 * again on fresh objects each time its transaction loses to a concurrent change.
 */

export interface Plan<T> {
  next: Collections | undefined;
  result: T;
}

/** `GET /v1/servers/<address>`: every group holding the address and every service bound to those groups. */
export interface ServerUsage {
  address: string;
  groups: { name: string; type: Specs["server-groups"]["type"]; servers: Specs["server-groups"]["servers"] }[];
  /** `port` is the service's port (the default port of its servers). */
  services: { name: string; group: string; port: number }[];
}

const notAnObject = () => new AdminError("invalid", "the body must be a JSON object", [{ path: "", message: "must be a JSON object" }]);

export function notFound(kind: Kind, name: string): AdminError {
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

function validated<K extends Kind>(kind: K, body: unknown): Specs[K] {
  const result = validate(kind, body);
  if (!result.ok) throw new AdminError("invalid", `invalid ${kinds[kind].title}`, result.issues);
  return result.value;
}

function checkIntegrity<K extends Kind>(objects: Collections, kind: K, spec: Specs[K]): void {
  const issues = integrityIssues(objects, kind, spec);
  if (issues.length > 0) {
    const certificate = issues.some((i) => i.path === "certificate" || i.path.startsWith("certificate."));
    throw new AdminError("invalid", `invalid ${kinds[kind].title}${certificate ? ": TLS cannot use its certificate" : ""}`, issues);
  }
  const clash = conflictOf(objects, kind, spec);
  if (clash) throw clash;
}

function current<K extends Kind>(objects: Collections, kind: K, name: string): Stored<K> | undefined {
  return (objects[kind] as ReadonlyMap<string, Stored<K>>).get(name);
}

/** POST: the stored object (version 1). */
export function planCreate<K extends Kind>(objects: Collections, kind: K, body: unknown): Plan<Stored<K>> {
  if (!isPlainObject(body)) throw notAnObject();
  const spec = validated(kind, body);
  if (objects[kind].has(spec.name)) {
    throw new AdminError("already_exists", `a ${kinds[kind].title} named '${spec.name}' already exists`, [{ path: "name", message: "is taken" }]);
  }
  checkIntegrity(objects, kind, spec);
  const stored = { ...spec, version: 1 } as Stored<K>;
  return { next: withObject(objects, kind, stored), result: stored };
}

/**
 * PUT: replaces the object named `name` with `body` (omitted optional fields take their defaults).
 * The body may omit `name` or repeat it. `ifMatch` is the raw If-Match header, if any. A body equal
 * to the stored spec changes nothing and keeps the version; otherwise the version goes up by one.
 */
export function planReplace<K extends Kind>(objects: Collections, kind: K, name: string, body: unknown, ifMatch?: string): Plan<Stored<K>> {
  const existing = current(objects, kind, name);
  if (!existing) throw notFound(kind, name);
  if (ifMatch !== undefined && !ifMatchAccepts(ifMatch, existing.version)) {
    throw new AdminError("precondition_failed", `If-Match ${ifMatch} does not match version ${existing.version} of '${name}'`);
  }
  if (!isPlainObject(body)) throw notAnObject();
  if (body.name !== undefined && body.name !== name) {
    throw new AdminError("invalid", "the body's name differs from the name in the URL", [
      { path: "name", message: `must be '${name}' (as in the URL) or omitted; a new name means a new object` },
    ]);
  }
  const spec = validated(kind, { ...body, name });
  const changed = changedImmutableFields(kind, specOf(existing), spec);
  if (changed.length > 0) {
    throw new AdminError(
      "immutable",
      `cannot change ${changed.join(", ")} of ${kinds[kind].title} '${name}'; replace the object instead`,
      changed.map((path) => ({ path, message: "is immutable" })),
    );
  }
  if (isDeepStrictEqual(spec, specOf(existing))) return { next: undefined, result: existing };
  checkIntegrity(objects, kind, spec);
  const stored = { ...spec, version: existing.version + 1 } as Stored<K>;
  return { next: withObject(objects, kind, stored), result: stored };
}

/** DELETE: refuses while referenced; deleting a backend service also deletes its health check. */
export function planRemove(objects: Collections, kind: Kind, name: string): Plan<void> {
  if (!objects[kind].has(name)) throw notFound(kind, name);
  const guard = deletionGuard(objects, kind, name);
  if (guard) throw guard;
  let next = withoutObject(objects, kind, name);
  if (kind === "backend-services") {
    for (const check of objects["health-checks"].values()) {
      if (check.backendService === name) next = withoutObject(next, "health-checks", check.name);
    }
  }
  return { next, result: undefined };
}

/** Reverse lookup of a server address (compared case-insensitively, as written in the groups). */
export function usageOf(objects: Collections, address: string): ServerUsage {
  const wanted = address.toLowerCase();
  const groups = sortedObjects(objects, "server-groups").flatMap((g) => {
    const servers = (g.servers as ReadonlyArray<{ address: string }>).filter((s) => s.address.toLowerCase() === wanted);
    return servers.length > 0 ? [{ name: g.name, type: g.type, servers: servers as Specs["server-groups"]["servers"] }] : [];
  });
  const names = new Set(groups.map((g) => g.name));
  const services = sortedObjects(objects, "backend-services")
    .filter((s) => s.serverGroup !== undefined && names.has(s.serverGroup))
    .map((s) => ({ name: s.name, group: s.serverGroup as string, port: s.port }));
  return { address, groups, services };
}
