import { randomBytes } from "node:crypto";

/**
 * Autonaming, as Pulumi's own providers do it: `<logical name>-<7 random lowercase hex digits>`
 * (the suffix of `resource.NewUniqueHex(name+"-", 7, maxlen)` in Pulumi's Go SDK). The random part
 * lets a replacement be created before the old object is deleted without the names colliding.
 */

/** Length of the random suffix. */
export const AUTONAME_SUFFIX_LENGTH = 7;
/** Longest Ballast name (model `Name`). */
const MAX_NAME_LENGTH = 63;
/** Longest prefix: leaves room for "-" and the suffix. */
export const MAX_AUTONAME_PREFIX_LENGTH = MAX_NAME_LENGTH - 1 - AUTONAME_SUFFIX_LENGTH;

/**
 * Turns a Pulumi logical name into a valid name prefix: lower case, every character outside
 * `a-z 0-9 -` becomes `-`, leading characters up to the first letter dropped (names start with a
 * letter), cut to 55 characters; `ballast` when nothing is left.
 */
export function autonamePrefix(logicalName: string): string {
  const cleaned = logicalName
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, MAX_AUTONAME_PREFIX_LENGTH)
    .replace(/-+$/, "");
  return cleaned === "" ? "ballast" : cleaned;
}

/** A fresh name: the prefix, a dash and 7 random hex digits. `random` is injectable for tests. */
export function autoname(prefix: string, random: (bytes: number) => Buffer = randomBytes): string {
  const suffix = random(4).toString("hex").slice(0, AUTONAME_SUFFIX_LENGTH);
  return `${prefix}-${suffix}`;
}

/** True when `name` could have been generated from `prefix`. */
export function isAutonameOf(name: string, prefix: string): boolean {
  return name.length === prefix.length + 1 + AUTONAME_SUFFIX_LENGTH && name.startsWith(`${prefix}-`) && /^[0-9a-f]+$/.test(name.slice(prefix.length + 1));
}
