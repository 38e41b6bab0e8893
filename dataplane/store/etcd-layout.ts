import { kindNames, type Kind, type Stored } from "../../model";
import { sortedObjects, type Collections } from "./collections";
import type { KeyValue, Op } from "./etcd-client";
import { STATE_FORMAT, decodeState, type PersistedState } from "./state-file";

/**
 * How a configuration lies under an etcd prefix:
 *
 *   <prefix>/objects/<kind>/<name>   the stored object (its spec and `version`) as JSON
 *   <prefix>/config-revision         rewritten by every change: the one key a write's transaction
 *                                    compares, so any change under the prefix (a delete too) makes
 *                                    a concurrent transaction fail
 *
 * Two prefixes are two independent balancers on one etcd.
 */

export interface EtcdLayout {
  prefix: string;
  /** Every key of this balancer starts with this (`<prefix>/`). */
  root: string;
  revisionKey: string;
}

export function etcdLayout(prefix: string): EtcdLayout {
  const trimmed = prefix.replace(/\/+$/, "");
  return { prefix: trimmed, root: `${trimmed}/`, revisionKey: `${trimmed}/config-revision` };
}

export function objectKey(layout: EtcdLayout, kind: Kind, name: string): string {
  return `${layout.root}objects/${kind}/${name}`;
}

/** The kind and name of an object key; undefined for any other key. */
export function parseObjectKey(layout: EtcdLayout, key: string): { kind: Kind; name: string } | undefined {
  const rest = key.startsWith(`${layout.root}objects/`) ? key.slice(layout.root.length + "objects/".length) : undefined;
  if (rest === undefined) return undefined;
  const slash = rest.indexOf("/");
  const kind = rest.slice(0, slash);
  if (slash < 0 || !(kindNames as string[]).includes(kind)) return undefined;
  return { kind: kind as Kind, name: rest.slice(slash + 1) };
}

export type DecodedPrefix = { ok: true; state: PersistedState; revisionModRevision: number } | { ok: false; problem: string };

/**
 * The objects of a prefix's key-values, validated and checked for integrity exactly as a state file
 * is (`decodeState`). `revisionModRevision` is the mod revision of `config-revision` (0 if absent).
 */
export function decodePrefix(layout: EtcdLayout, kvs: KeyValue[], revision: number): DecodedPrefix {
  const raw: Record<string, unknown> = { format: STATE_FORMAT, generation: revision };
  for (const kind of kindNames) raw[kind] = [];
  let revisionModRevision = 0;
  const problems: string[] = [];
  for (const kv of kvs) {
    if (kv.key === layout.revisionKey) {
      revisionModRevision = kv.modRevision;
      continue;
    }
    const at = parseObjectKey(layout, kv.key);
    if (!at) continue;
    try {
      (raw[at.kind] as unknown[]).push(JSON.parse(kv.value));
    } catch {
      problems.push(`${kv.key}: is not JSON`);
    }
  }
  if (problems.length > 0) return { ok: false, problem: problems.join("; ") };
  const decoded = decodeState(JSON.stringify(raw));
  return decoded.ok ? { ok: true, state: decoded.state, revisionModRevision } : decoded;
}

/** The puts and deletes that turn `from` into `to`, plus the `config-revision` put. */
export function changeOps(layout: EtcdLayout, from: Collections, to: Collections, stamp: string): Op[] {
  const ops: Op[] = [];
  for (const kind of kindNames) {
    const before = from[kind] as ReadonlyMap<string, Stored<Kind>>;
    const after = to[kind] as ReadonlyMap<string, Stored<Kind>>;
    for (const [name, object] of after) if (before.get(name) !== object) ops.push({ put: { key: objectKey(layout, kind, name), value: JSON.stringify(object) } });
    for (const name of before.keys()) if (!after.has(name)) ops.push({ deleteRange: { key: objectKey(layout, kind, name) } });
  }
  ops.push({ put: { key: layout.revisionKey, value: stamp } });
  return ops;
}

/**
 * Every object of `objects` as puts (the move command's upload), those an object refers to before
 * it: groups, services, health checks, listeners. Uploaded in several transactions, every prefix
 * of this order is a configuration whose references hold.
 */
export function allPuts(layout: EtcdLayout, objects: Collections): Op[] {
  const order: Kind[] = ["server-groups", "backend-services", "health-checks", "listeners"];
  return order.flatMap((kind) => sortedObjects(objects, kind).map((object) => ({ put: { key: objectKey(layout, kind, object.name), value: JSON.stringify(object) } })));
}
