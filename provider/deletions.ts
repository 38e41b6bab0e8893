import type { Kind } from "../model";
import type { Props } from "./props";

/**
 * What this provider process deleted, so a refused deletion can say what was already gone. The
 * engine runs one dynamic provider process per `pulumi up` and deletes dependents first: when a
 * service's deletion is refused (something outside the stack still uses it), its health check may
 * already be deleted in the same run.
 */
export interface Deletion {
  kind: Kind;
  /** Name on the balancer. */
  name: string;
  /** Admin URL of the balancer it was deleted from. */
  balancer: string;
  /** The objects it referred to: a health check's or listener's service, a service's group. */
  refersTo: ReadonlyArray<{ kind: Kind; name: string }>;
}

const deleted: Deletion[] = [];

export function recordDeletion(deletion: Deletion): void {
  deleted.push(deletion);
}

/** The references in a resource's properties: `backendService` and `serverGroup`, when they are names. */
export function referencesOf(props: Props): Deletion["refersTo"] {
  const out: Array<{ kind: Kind; name: string }> = [];
  if (typeof props.backendService === "string") out.push({ kind: "backend-services", name: props.backendService });
  if (typeof props.serverGroup === "string") out.push({ kind: "server-groups", name: props.serverGroup });
  return out;
}

/** Objects deleted in this run, on this balancer, that referred to the object `kind`/`name`. */
export function deletedDependents(balancer: string, kind: Kind, name: string): Deletion[] {
  return deleted.filter((d) => d.balancer === balancer && d.refersTo.some((r) => r.kind === kind && r.name === name));
}
