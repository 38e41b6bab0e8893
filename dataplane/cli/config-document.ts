import { readFileSync } from "node:fs";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { kindNames, type Kind } from "../../model";
import { CliError, EXIT } from "./exit-codes";

/**
 * The configuration as one document: what `ballast export` writes, `ballast validate` checks and
 * `ballast import` applies (docs/operators.md). JSON, or the same structure as YAML:
 *
 *     { "format": "ballast/v1",
 *       "server-groups": [ ... ], "backend-services": [ ... ],
 *       "health-checks": [ ... ], "listeners": [ ... ] }
 *
 * Each list holds objects exactly as the admin API takes them (`POST /v1/<kind>`), without
 * `version`. A missing list is an empty one. The lists come in dependency order (what an object
 * names comes before it), which is also the order `import` applies them in.
 */

export const FORMAT = "ballast/v1";

/** Dependency order: groups, services (name groups), checks and listeners (name services). */
export const KIND_ORDER: readonly Kind[] = ["server-groups", "backend-services", "health-checks", "listeners"];

export type ConfigDocument = { format: typeof FORMAT } & { [K in Kind]: Record<string, unknown>[] };

export type DocumentFormat = "json" | "yaml";

/** Reads and parses FILE (`-` for stdin): YAML for `.yaml`/`.yml`, JSON for `.json`, else by its first character. */
export function readDocument(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`, EXIT.failed);
  }
  return parseDocument(text, formatOf(file, text), file);
}

export function formatOf(file: string, text: string): DocumentFormat {
  if (/\.ya?ml$/i.test(file)) return "yaml";
  if (/\.json$/i.test(file)) return "json";
  return /^\s*[{[]/.test(text) ? "json" : "yaml";
}

export function parseDocument(text: string, format: DocumentFormat, file: string): unknown {
  try {
    return format === "json" ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (e) {
    throw new CliError(`${file} is not valid ${format.toUpperCase()}: ${(e as Error).message}`, EXIT.failed);
  }
}

/** The document of a configuration: every object of every kind, `version` dropped, sorted by name. */
export function toDocument(objects: { [K in Kind]: Record<string, unknown>[] }): ConfigDocument {
  const doc = { format: FORMAT } as ConfigDocument;
  for (const kind of KIND_ORDER) {
    doc[kind] = [...objects[kind]]
      .map(({ version: _version, ...spec }) => spec)
      .sort((a, b) => String(a.name).localeCompare(String(b.name)));
  }
  return doc;
}

export function serialize(doc: ConfigDocument, format: DocumentFormat): string {
  return format === "yaml" ? stringifyYaml(doc, { lineWidth: 0 }) : `${JSON.stringify(doc, null, 2)}\n`;
}

export const DOCUMENT_KEYS: readonly string[] = ["format", ...kindNames];
