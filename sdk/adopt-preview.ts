import * as pulumi from "@pulumi/pulumi";
import { kinds, type Kind } from "../model";
import { AdminClient } from "../provider/admin-client";
import { written } from "../provider/failure-text";
import { canonical, specFields } from "../provider/props";
import { unknownPaths } from "../provider/unknown";
import { knownValue } from "./preflight";

/**
 * What adopting an object will change, shown by `pulumi preview`.
 *
 * An adopting resource previews as a `create` (Pulumi has no state for it yet), which hides that the
 * first `up` overwrites the object's current values, including the ones the program leaves out
 * (they go back to their defaults). So during a preview the sdk reads the live object and reports,
 * against the resource, every field whose value on the balancer differs from what `up` will write.
 * Fields not known at preview are left out; a balancer that cannot be read says so and nothing more.
 */
export function showAdoptChanges(resource: pulumi.Resource, kind: Kind, props: Record<string, unknown>): void {
  if (!pulumi.runtime.isDryRun()) return;
  const declared = specFields(knownValue(props) as Record<string, unknown>);
  const name = declared.name;
  if (typeof name !== "string" || unknownPaths(name).length > 0) return;
  const connection = pulumi.all([props.adminUrl as pulumi.Input<string>, props.adminToken as pulumi.Input<string>]);
  connection.apply(async ([adminUrl, adminToken]) => {
    if (typeof adminUrl !== "string" || typeof adminToken !== "string") return;
    const message = await adoptChanges(kind, declared, { adminUrl, adminToken });
    if (message !== undefined) await pulumi.log.info(message, resource);
  });
}

/** The preview line for an adoption, or undefined when there is nothing to say. Exported for tests. */
export async function adoptChanges(
  kind: Kind,
  declared: Record<string, unknown>,
  connection: { adminUrl: string; adminToken: string },
): Promise<string | undefined> {
  const title = kinds[kind].title;
  const name = declared.name as string;
  const client = new AdminClient({ ...connection, connectTimeoutMs: 2_000, requestTimeoutMs: 5_000, backoff: { initialDelayMs: 1, maxDelayMs: 1, budgetMs: 0 } });
  let live: Record<string, unknown> | undefined;
  try {
    live = await client.get(kind, name);
  } catch (err) {
    return `adopt: cannot read ${title} "${name}" from the balancer to show what adopting it changes (${(err as Error).message.split("\n")[0]})`;
  } finally {
    await client.close();
  }
  if (live === undefined) return `adopt: ${title} "${name}" does not exist on the balancer yet; \`up\` creates it`;
  const lines = differences(kind, declared, live);
  if (lines.length === 0) return `adopt: ${title} "${name}" on the balancer already has the program's values; \`up\` takes it over unchanged`;
  return `adopt: \`up\` takes over ${title} "${name}" and changes ${lines.length} field${lines.length === 1 ? "" : "s"} on the balancer:\n${lines.map((l) => `  ${l}`).join("\n")}`;
}

/** One line per field whose live value differs from what `up` writes (the declared spec with defaults). */
export function differences(kind: Kind, declared: Record<string, unknown>, live: Record<string, unknown>): string[] {
  const unknown = new Set(unknownPaths(declared).map((p) => String(p[0])));
  const parsed = kinds[kind].schema.safeParse(declared);
  if (!parsed.success) return [];
  const after = parsed.data as Record<string, unknown>;
  const { version: _version, ...before } = live;
  const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((f) => f !== "name" && !unknown.has(f)).sort();
  const out: string[] = [];
  for (const field of fields) {
    if (canonical(before[field]) === canonical(after[field])) continue;
    const now = before[field] === undefined ? "unset" : written(before[field]);
    const next = after[field] === undefined ? "unset" : written(after[field]);
    const why = declared[field] === undefined ? (after[field] === undefined ? " (the program does not set it)" : " (the default; the program does not set it)") : "";
    out.push(field === "certificate" ? `certificate: replaced by the program's${why}` : `${field}: ${now} → ${next}${why}`);
  }
  return out;
}
