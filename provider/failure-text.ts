import type { CheckFailure } from "@pulumi/pulumi/dynamic";
import type { Props } from "./props";
import { isUnknown } from "./unknown";

/**
 * How a failed field reads in `pulumi preview`: its path, what is wrong (the limit), and the value
 * as the program wrote it, nested ones included: `sessionPersistence.cookieTimeout: must be a whole
 * number from 0 to 86400 seconds (got 99999)`.
 *
 * The engine prints a check failure that names a `property` as `property <p> value <v>`, with `<v>`
 * looked up as a top-level key and printed in Go's notation (`{70000}`, and `{<nil>}` for a nested
 * path). So the provider hands the engine failures without a property, the path and the value
 * written out in the reason; `checkInputs` keeps the structured path for code and tests.
 */
export function failureText(path: string, message: string, props: Props): string {
  const value = valueAt(props, path);
  const shown = value.found && value.value !== undefined && !isUnknown(value.value) && !SECRET_FIELDS.test(path);
  const got = shown ? ` (got ${written(value.value)})` : "";
  return `${path || "(object)"}: ${message}${got}`;
}

/** Fields whose values are secret: their failures never print the value. */
const SECRET_FIELDS = /^(certificate|adminToken)(?![\w-])/;

/** Check failures in the form the engine prints best: no property, everything in the reason. */
export function engineFailures(failures: ReadonlyArray<CheckFailure>, props: Props): CheckFailure[] {
  return failures.map((f) => ({ property: "", reason: failureText(f.property, f.reason, props) }));
}

/** A value as it would be written in a program: JSON, with strings quoted. */
export function written(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The value at a dotted path (`servers[2].port`) of a property bag. */
export function valueAt(props: unknown, path: string): { found: boolean; value?: unknown } {
  if (path === "") return { found: true, value: props };
  let at: unknown = props;
  for (const part of path.match(/[^.[\]]+/g) ?? []) {
    if (at === null || typeof at !== "object") return { found: false };
    const key = Array.isArray(at) && /^\d+$/.test(part) ? Number(part) : part;
    if (!Object.hasOwn(at, key)) return { found: false };
    at = (at as Record<string | number, unknown>)[key];
  }
  return { found: true, value: at };
}
