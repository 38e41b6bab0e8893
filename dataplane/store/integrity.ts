import { MAX_LISTENERS, backendProtocolFor, kindNames, type FieldIssue, type Kind, type Specs } from "../../model";
import { AdminError } from "../errors";
import { sortedObjects, type Collections } from "./collections";

/**
 * Integrity rules between objects (SPEC §1 "Deletion guards and integrity"). The schemas check one
 * object; these check it against the others. Pure functions over `Collections`, so the store, the
 * state-file loader and the tests share them.
 *
 * - A reference to a missing object, or to a service of the wrong protocol, is a fault of the
 *   request body: 400 `invalid` with the field's path (`referenceIssues`).
 * - A clash with another object (a listener port taken, the 51st listener, a second health check of
 *   a service, a service protocol its listeners cannot take) is 409 `conflict` (`conflictOf`).
 * - Deleting something still referenced is 409 `in_use`, naming the referrers (`deletionGuard`).
 */

const quoted = (names: readonly string[]) => names.map((n) => `'${n}'`).join(", ");

/** Missing references and listener/service protocol mismatches of `spec`, each with its field path. */
export function referenceIssues<K extends Kind>(objects: Collections, kind: K, spec: Specs[K]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (kind === "listeners") {
    const listener = spec as Specs["listeners"];
    const service = objects["backend-services"].get(listener.backendService);
    if (!service) {
      issues.push({ path: "backendService", message: `no backend service named '${listener.backendService}'` });
    } else {
      const wanted = backendProtocolFor(listener.protocol);
      if (service.protocol !== wanted) {
        issues.push({
          path: "backendService",
          message: `a ${listener.protocol} listener takes only ${wanted} backend services; '${service.name}' is ${service.protocol}`,
        });
      }
    }
  } else if (kind === "backend-services") {
    const service = spec as Specs["backend-services"];
    if (service.serverGroup !== undefined && !objects["server-groups"].has(service.serverGroup)) {
      issues.push({ path: "serverGroup", message: `no server group named '${service.serverGroup}'` });
    }
  } else if (kind === "health-checks") {
    const check = spec as Specs["health-checks"];
    if (!objects["backend-services"].has(check.backendService)) {
      issues.push({ path: "backendService", message: `no backend service named '${check.backendService}'` });
    }
  }
  return issues;
}

/**
 * The first clash of `spec` with the other objects, or undefined. `spec` may already be in
 * `objects` under its own name (an update, or a whole state being checked): it never clashes with
 * itself.
 */
export function conflictOf<K extends Kind>(objects: Collections, kind: K, spec: Specs[K]): AdminError | undefined {
  if (kind === "listeners") {
    const listener = spec as Specs["listeners"];
    const others = sortedObjects(objects, "listeners").filter((l) => l.name !== listener.name);
    const holder = others.find((l) => l.port === listener.port);
    if (holder) {
      return new AdminError("conflict", `port ${listener.port} is already used by listener '${holder.name}'`, [
        { path: "port", message: `is already used by listener '${holder.name}'` },
      ]);
    }
    if (others.length >= MAX_LISTENERS) {
      return new AdminError("conflict", `a balancer has at most ${MAX_LISTENERS} listeners; delete one first`);
    }
  } else if (kind === "backend-services") {
    const service = spec as Specs["backend-services"];
    const mismatched = sortedObjects(objects, "listeners").filter(
      (l) => l.backendService === service.name && backendProtocolFor(l.protocol) !== service.protocol,
    );
    if (mismatched.length > 0) {
      return new AdminError(
        "conflict",
        `listeners ${quoted(mismatched.map((l) => l.name))} cannot take a ${service.protocol} backend service`,
        [{ path: "protocol", message: `is incompatible with listeners ${quoted(mismatched.map((l) => l.name))}` }],
      );
    }
  } else if (kind === "health-checks") {
    const check = spec as Specs["health-checks"];
    const existing = sortedObjects(objects, "health-checks").find(
      (h) => h.backendService === check.backendService && h.name !== check.name,
    );
    if (existing) {
      return new AdminError(
        "conflict",
        `backend service '${check.backendService}' already has health check '${existing.name}' (one per service)`,
        [{ path: "backendService", message: `already has health check '${existing.name}'` }],
      );
    }
  }
  return undefined;
}

/** 409 `in_use` when deleting `name` would leave a reference dangling; undefined when it may go. */
export function deletionGuard(objects: Collections, kind: Kind, name: string): AdminError | undefined {
  if (kind === "backend-services") {
    const users = sortedObjects(objects, "listeners").filter((l) => l.backendService === name).map((l) => l.name);
    if (users.length > 0) {
      return new AdminError("in_use", `backend service '${name}' is used by listeners ${quoted(users)}; delete or repoint them first`);
    }
  } else if (kind === "server-groups") {
    const users = sortedObjects(objects, "backend-services").filter((s) => s.serverGroup === name).map((s) => s.name);
    if (users.length > 0) {
      return new AdminError("in_use", `server group '${name}' is bound to backend services ${quoted(users)}; unbind them first`);
    }
  }
  return undefined;
}

/** Every integrity problem of a whole set of objects, as `kind/name: problem` lines (for the loader). */
export function integrityProblems(objects: Collections): string[] {
  const problems: string[] = [];
  for (const kind of kindNames) {
    for (const object of sortedObjects(objects, kind)) {
      const spec = object as unknown as Specs[typeof kind];
      for (const issue of referenceIssues(objects, kind, spec)) problems.push(`${kind}/${object.name}: ${issue.path}: ${issue.message}`);
      const clash = conflictOf(objects, kind, spec);
      if (clash) problems.push(`${kind}/${object.name}: ${clash.message}`);
    }
  }
  return problems;
}
