import type * as z from "zod";
import { BackendService, backendServiceReplaceOnChange } from "./backend-service";
import { HealthCheck, healthCheckReplaceOnChange } from "./health-check";
import { Listener, listenerReplaceOnChange } from "./listener";
import { ServerGroup, serverGroupReplaceOnChange } from "./server-group";
import { fieldIssues, type FieldIssue } from "./issues";

/**
 * The four kinds of object, keyed by their admin API collection name. One table drives the admin
 * routes, the store, the provider and the sdk, so a kind is described once.
 */
export const kinds = {
  listeners: { title: "Listener", schema: Listener, replaceOnChange: listenerReplaceOnChange },
  "backend-services": { title: "BackendService", schema: BackendService, replaceOnChange: backendServiceReplaceOnChange },
  "server-groups": { title: "ServerGroup", schema: ServerGroup, replaceOnChange: serverGroupReplaceOnChange },
  "health-checks": { title: "HealthCheck", schema: HealthCheck, replaceOnChange: healthCheckReplaceOnChange },
} as const;

export type Kind = keyof typeof kinds;
export const kindNames = Object.keys(kinds) as Kind[];

export function isKind(value: string): value is Kind {
  return Object.hasOwn(kinds, value);
}

/** The validated (defaults filled) body of each kind. */
export interface Specs {
  listeners: Listener;
  "backend-services": BackendService;
  "server-groups": ServerGroup;
  "health-checks": HealthCheck;
}

/** What the data plane stores and returns: the validated spec plus its version (1 on create, +1 per update). */
export type Stored<K extends Kind> = Specs[K] & { version: number };

export type Validation<T> = { ok: true; value: T } | { ok: false; issues: FieldIssue[] };

/** Validates a body of the given kind with its schema: every failing field at once, defaults filled. */
export function validate<K extends Kind>(kind: K, body: unknown): Validation<Specs[K]> {
  const schema = kinds[kind].schema as unknown as z.ZodType<Specs[K]>;
  const result = schema.safeParse(body);
  return result.success ? { ok: true, value: result.data } : { ok: false, issues: fieldIssues(result.error) };
}

/** The immutable fields whose values differ between two specs of a kind. */
export function changedImmutableFields<K extends Kind>(kind: K, before: Specs[K], after: Specs[K]): string[] {
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  return kinds[kind].replaceOnChange.filter((f) => JSON.stringify(b[f]) !== JSON.stringify(a[f]));
}
