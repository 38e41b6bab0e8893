import type * as z from "zod";

/** One failing field: a dotted property path (`servers[3].weight`) and what is wrong with it. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Formats a property path the way Pulumi and JavaScript write it: `a.b[2].c`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

/**
 * Flattens a zod error into one issue per failing field. An unknown-keys issue becomes one issue
 * per key, so the path names the offending field rather than its parent object.
 */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ path: formatPath([...issue.path, key]), message: issue.message });
      continue;
    }
    out.push({ path: formatPath(issue.path), message: issue.message });
  }
  return out;
}

/** A readable one-line-per-field summary, as shown by the provider and in error messages. */
export function describeIssues(issues: ReadonlyArray<FieldIssue>): string {
  return issues.map((i) => `${i.path || "(object)"}: ${i.message}`).join("\n");
}
