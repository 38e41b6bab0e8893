import type { DiffResult } from "@pulumi/pulumi/dynamic";
import { kinds, type Kind } from "../model";
import { canonical, specFields, type Props } from "./props";
import { unknownPaths } from "./unknown";

/**
 * Fields whose equal value on the old and the new object would make them collide on one balancer
 * if both existed at once, beside the name: a listener's port is unique on a balancer, and a
 * backend service holds one health check.
 */
const collidingFields: Record<Kind, readonly string[]> = {
  listeners: ["port"],
  "backend-services": [],
  "server-groups": [],
  "health-checks": ["backendService"],
};

/** The decision behind `diff`, with the changed fields spelled out for tests and messages. */
export interface DiffDecision extends DiffResult {
  /** Every top-level property whose value differs (or is not known yet). */
  readonly changed: string[];
}

/**
 * `diff` between the stored outputs (`olds`) and the checked inputs (`news`):
 * - `changes: false` when the normalized specs and the connection are equal (a second preview after
 *   `up` is empty);
 * - `replaces` for every changed field of the kind's replace-on-change list, and for a change of
 *   balancer (`adminUrl`): the object must be created anew;
 * - `deleteBeforeReplace` when the replacement would collide with the old object: it keeps an
 *   explicit name (autonamed replacements get a fresh name from `check`), a listener keeps its port,
 *   or a health check keeps its backend service.
 * A value not known yet counts as changed.
 */
export function diffProps(kind: Kind, olds: Props, news: Props): DiffDecision {
  const before = normalizedSpec(kind, specFields(olds));
  const after = normalizedSpec(kind, specFields(news));
  const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((key) => differs(before[key], after[key]))
    .sort();
  const replaceOnChange: readonly string[] = kinds[kind].replaceOnChange;
  const replaces = changed.filter((key) => replaceOnChange.includes(key));
  if (differs(olds.adminUrl, news.adminUrl)) {
    changed.push("adminUrl");
    replaces.push("adminUrl");
  }
  if (differs(olds.adminToken, news.adminToken)) changed.push("adminToken");
  // Another set of replicas of the same balancer: an update that records it, never a replacement.
  if (differs(olds.adminUrls, news.adminUrls)) changed.push("adminUrls");

  if (changed.length === 0) return { changes: false, changed };
  if (replaces.length === 0) return { changes: true, changed };
  const explicitName = news.namePrefix === undefined && news.namePattern === undefined;
  const keeps = (key: string) => !differs(before[key], after[key]);
  const collides = (explicitName && keeps("name")) || collidingFields[kind].some(keeps);
  return { changes: true, replaces, deleteBeforeReplace: collides, changed };
}

/** The spec with the schema's defaults filled, so a stored object and its inputs compare equal. */
function normalizedSpec(kind: Kind, spec: Props): Props {
  if (unknownPaths(spec).length > 0) return spec;
  const result = kinds[kind].schema.safeParse(spec);
  return result.success ? (result.data as Props) : spec;
}

function differs(a: unknown, b: unknown): boolean {
  if (unknownPaths(a).length > 0 || unknownPaths(b).length > 0) return true;
  return canonical(a) !== canonical(b);
}
