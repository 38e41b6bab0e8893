import { kinds, validate, type Kind, type Specs, type Stored } from "../../model";
import { emptyCollections, withObject, type Collections } from "../store/collections";
import { AdminClient, ApiError, connection } from "./admin-client";
import { err, out, runCommand } from "./command";
import { KIND_ORDER, readDocument } from "./config-document";
import { checkDocument, formatIssues, immutableChanges, integrityOf, type DocumentIssue } from "./document-issues";
import { CliError, EXIT } from "./exit-codes";
import { CONNECTION_HELP, CONNECTION_OPTIONS, fetchConfiguration } from "./export";

/**
 * `ballast import FILE`: applies a configuration document through the admin API.
 *
 * - Refuses up front, changing nothing, when the document does not validate (as `ballast validate`),
 *   when laid over the live configuration it breaks an integrity rule (a port another listener
 *   holds), or when it would change an immutable field of an existing object.
 * - Then, kind by kind in dependency order (server groups, backend services, health checks,
 *   listeners): creates what is missing, updates what differs (guarded by the version it read),
 *   leaves what is equal. It deletes nothing: objects the document does not name stay.
 * - Not one transaction: the admin API applies one object at a time. A refusal on the way stops the
 *   import, exit 1, and what was applied before it stays (the output lists it); running the same
 *   import again after fixing the cause completes it.
 */
export function importCommand(args: string[]): Promise<number> {
  return runCommand(
    {
      name: "import",
      usage: "FILE [--dry-run] [--admin-url URL] [--token TOKEN]",
      help: `Applies a configuration document (what \`ballast export\` writes; FILE '-' reads stdin) to a
data plane through its admin API: creates the objects that are missing, updates those that differ,
in dependency order; deletes nothing. Refuses up front, changing nothing, when the document does
not validate, conflicts with the live configuration, or changes an immutable field.

  --dry-run        only say what would be created and updated
${CONNECTION_HELP}`,
      options: { "dry-run": { type: "boolean" }, ...CONNECTION_OPTIONS },
      positionals: 1,
    },
    args,
    async (values, [file]) => {
      const { issues, valid } = checkDocument(readDocument(file!));
      if (issues.length > 0) return refuse(file!, "does not validate", issues);
      const { url, token } = connection(values);
      const client = new AdminClient(url, token);
      const live = toCollections(await fetchConfiguration(client));
      const blocking = [...integrityOf(valid, live), ...immutableChanges(valid, live)];
      if (blocking.length > 0) return refuse(file!, `cannot be applied to ${url}`, blocking);

      const dryRun = values["dry-run"] === true;
      const counts = { created: 0, updated: 0, unchanged: 0 };
      for (const kind of KIND_ORDER) {
        for (const { spec } of valid[kind]) {
          const current = live[kind].get(spec.name) as Stored<Kind> | undefined;
          const action = !current ? "created" : same(kind, current, spec) ? "unchanged" : "updated";
          counts[action]++;
          if (action === "unchanged") continue;
          const label = `${kinds[kind].title} '${spec.name}'`;
          if (!dryRun) {
            try {
              if (current) await client.call("PUT", `/v1/${kind}/${encodeURIComponent(spec.name)}`, spec, current.version);
              else await client.call("POST", `/v1/${kind}`, spec);
            } catch (e) {
              if (e instanceof ApiError) {
                const detail = e.issues.length ? `\n${formatIssues(e.issues)}` : "";
                throw new CliError(`${label}: ${e.message}${detail}\n(objects before it were applied; fix the cause and import again)`, EXIT.failed);
              }
              throw e;
            }
          }
          out(`${dryRun ? "would be " : ""}${action}: ${label}`);
        }
      }
      out(`${dryRun ? "dry run: " : ""}${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged`);
      return EXIT.ok;
    },
  );
}

function refuse(file: string, why: string, issues: DocumentIssue[]): number {
  err(`${file} ${why}; nothing was applied. ${issues.length} issue${issues.length === 1 ? "" : "s"}:\n${formatIssues(issues)}`);
  return EXIT.failed;
}

function toCollections(objects: { [K in Kind]: Record<string, unknown>[] }): Collections {
  let all = emptyCollections();
  for (const kind of KIND_ORDER) for (const o of objects[kind]) all = withObject(all, kind, o as unknown as Stored<typeof kind>);
  return all;
}

/** Whether the live object already is what the document says (both with their defaults filled). */
function same(kind: Kind, current: Stored<Kind>, spec: Specs[Kind]): boolean {
  const { version: _v, ...rest } = current;
  const normalized = validate(kind, rest);
  return normalized.ok && canonical(normalized.value) === canonical(spec);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}
