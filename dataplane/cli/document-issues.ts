import { changedImmutableFields, kinds, validate, type FieldIssue, type Kind, type Specs, type Stored } from "../../model";
import { emptyCollections, withObject, type Collections } from "../store/collections";
import { conflictOf, integrityIssues } from "../store/integrity";
import { DOCUMENT_KEYS, FORMAT, KIND_ORDER } from "./config-document";

/**
 * Every problem of a configuration document, each with its path (`listeners[1].port`), found
 * offline with the data plane's own rules: the model's schemas (every field of every object), then
 * the store's integrity rules over the whole set (references, protocols, certificates TLS can
 * load, ports, one health check per service, the listener limit) and duplicate names. What the
 * admin API would refuse object by object, this lists at once.
 */

export interface DocumentIssue {
  path: string;
  message: string;
}

/** A document's objects once valid: validated specs (defaults filled) by kind, with their index. */
export type ValidObjects = { [K in Kind]: { index: number; spec: Specs[K] }[] };

export interface Checked {
  issues: DocumentIssue[];
  valid: ValidObjects;
}

const at = (kind: Kind, index: number, field?: string) => `${kind}[${index}]${field ? `.${field}` : ""}`;

export function checkDocument(doc: unknown): Checked {
  const issues: DocumentIssue[] = [];
  const valid = { listeners: [], "backend-services": [], "server-groups": [], "health-checks": [] } as ValidObjects;
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    return { issues: [{ path: "", message: `must be an object with "format": "${FORMAT}" and lists of objects by kind` }], valid };
  }
  const body = doc as Record<string, unknown>;
  /** Names of objects that failed their schema: a reference to one is not also "missing". */
  const invalidNames = new Set<string>();
  if (body.format !== FORMAT) issues.push({ path: "format", message: `must be "${FORMAT}"` });
  for (const key of Object.keys(body)) {
    if (!DOCUMENT_KEYS.includes(key)) issues.push({ path: key, message: `is not a kind of object; use ${KIND_ORDER.join(", ")}` });
  }
  for (const kind of KIND_ORDER) {
    const list = body[kind];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      issues.push({ path: kind, message: "must be a list of objects" });
      continue;
    }
    const seen = new Map<string, number>();
    list.forEach((item, index) => {
      const result = validate(kind, item);
      if (!result.ok) {
        for (const issue of result.issues) issues.push({ path: at(kind, index, issue.path), message: issue.message });
        const name = (item as { name?: unknown } | null)?.name;
        if (typeof name === "string") invalidNames.add(`${kind}/${name}`);
        return;
      }
      const first = seen.get(result.value.name);
      if (first !== undefined) {
        issues.push({ path: at(kind, index, "name"), message: `'${result.value.name}' is already the name of ${at(kind, first)}` });
        return;
      }
      seen.set(result.value.name, index);
      (valid[kind] as { index: number; spec: Specs[Kind] }[]).push({ index, spec: result.value });
    });
  }
  for (const issue of integrityOf(valid, emptyCollections())) {
    const missing = /^no (backend service|server group) named '(.*)'$/.exec(issue.message);
    const kind = missing?.[1] === "server group" ? "server-groups" : "backend-services";
    if (missing && invalidNames.has(`${kind}/${missing[2]}`)) {
      issues.push({ path: issue.path, message: `names ${missing[1]} '${missing[2]}', which is invalid itself (see its issues)` });
    } else issues.push(issue);
  }
  return { issues, valid };
}

/**
 * The integrity problems of the document's valid objects laid over `base` (the live configuration
 * for `import`, nothing for `validate`). Only the document's objects are reported.
 */
export function integrityOf(valid: ValidObjects, base: Collections): DocumentIssue[] {
  let all = base;
  for (const kind of KIND_ORDER) {
    for (const { spec } of valid[kind]) all = withObject(all, kind, { ...spec, version: 0 } as Stored<typeof kind>);
  }
  const issues: DocumentIssue[] = [];
  for (const kind of KIND_ORDER) {
    for (const { index, spec } of valid[kind]) {
      for (const issue of integrityIssues(all, kind, spec as Specs[typeof kind])) issues.push({ path: at(kind, index, issue.path), message: issue.message });
      const clash = conflictOf(all, kind, spec as Specs[typeof kind]);
      if (clash) {
        const fieldIssues: FieldIssue[] = clash.issues ?? [];
        if (fieldIssues.length === 0) issues.push({ path: at(kind, index), message: clash.message });
        for (const issue of fieldIssues) issues.push({ path: at(kind, index, issue.path), message: issue.message });
      }
    }
  }
  return issues;
}

/** Immutable fields the document would change on objects that already exist (import refuses them). */
export function immutableChanges(valid: ValidObjects, live: Collections): DocumentIssue[] {
  const issues: DocumentIssue[] = [];
  for (const kind of KIND_ORDER) {
    for (const { index, spec } of valid[kind]) {
      const current = live[kind].get(spec.name);
      if (!current) continue;
      const { version: _v, ...currentSpec } = current;
      for (const field of changedImmutableFields(kind, currentSpec as unknown as Specs[typeof kind], spec as Specs[typeof kind])) {
        issues.push({
          path: at(kind, index, field),
          message: `cannot change on the existing ${kinds[kind].title} '${spec.name}' (it is immutable: delete the object first, or keep ${JSON.stringify((currentSpec as Record<string, unknown>)[field])})`,
        });
      }
    }
  }
  return issues;
}

/** `  path: message` lines, in the order found. */
export function formatIssues(issues: readonly DocumentIssue[]): string {
  return issues.map((i) => `  ${i.path || "(document)"}: ${i.message}`).join("\n");
}
