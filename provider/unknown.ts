/**
 * Pulumi's placeholder for a value not known yet (during `preview`, an output of a resource that is
 * still to be created). The dynamic provider host passes it to `check` and `diff` as this exact
 * string (`@pulumi/pulumi/runtime/rpc` `unknownValue`); it is restated here so the provider
 * implementation does not load the Pulumi runtime.
 */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isUnknown(value: unknown): boolean {
  return value === UNKNOWN;
}

/** Every path (as key arrays) at which a value is unknown. */
export function unknownPaths(value: unknown, at: PropertyKey[] = []): PropertyKey[][] {
  if (isUnknown(value)) return [at];
  if (Array.isArray(value)) return value.flatMap((v, i) => unknownPaths(v, [...at, i]));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => unknownPaths(v, [...at, k]));
  }
  return [];
}
