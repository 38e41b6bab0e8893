import { kindNames, type Kind, type Specs, type Stored } from "../../model";
import type { ConfigObjects } from "../config/snapshot";

/**
 * The store's objects: one read-only map per kind, keyed by name. A change never edits a map in
 * place; it builds the tentative collections (`withObject`, `withoutObject` copy the one map they
 * touch) and the store swaps them in only once the runtime and the state file have taken them.
 */
export type Collections = { readonly [K in Kind]: ReadonlyMap<string, Stored<K>> };

export function emptyCollections(): Collections {
  return { listeners: new Map(), "backend-services": new Map(), "server-groups": new Map(), "health-checks": new Map() };
}

/** The objects of one kind, sorted by name (the order of every list the admin API returns). */
export function sortedObjects<K extends Kind>(objects: Collections, kind: K): Stored<K>[] {
  return [...(objects[kind] as ReadonlyMap<string, Stored<K>>).values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function withObject<K extends Kind>(objects: Collections, kind: K, object: Stored<K>): Collections {
  const map = new Map(objects[kind] as ReadonlyMap<string, Stored<K>>);
  map.set(object.name, object);
  return { ...objects, [kind]: map };
}

export function withoutObject(objects: Collections, kind: Kind, name: string): Collections {
  const map = new Map<string, unknown>(objects[kind]);
  map.delete(name);
  return { ...objects, [kind]: map } as Collections;
}

/** Strips `version`: what a snapshot and a comparison of specs need. */
export function specOf<K extends Kind>(stored: Stored<K>): Specs[K] {
  const { version: _version, ...spec } = stored;
  return spec as unknown as Specs[K];
}

/** The objects in the shape `buildSnapshot` takes. */
export function configObjects(objects: Collections): ConfigObjects {
  return {
    listeners: sortedObjects(objects, "listeners").map(specOf),
    backendServices: sortedObjects(objects, "backend-services").map(specOf),
    serverGroups: sortedObjects(objects, "server-groups").map(specOf),
    healthChecks: sortedObjects(objects, "health-checks").map(specOf),
  };
}

/** Object count per kind (for metrics). */
export function countObjects(objects: Collections): Record<Kind, number> {
  return Object.fromEntries(kindNames.map((k) => [k, objects[k].size])) as Record<Kind, number>;
}
