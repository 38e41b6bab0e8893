import { createHash, randomBytes } from "node:crypto";

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

/**
 * A stable seed for a resource's autoname: the sdk hashes where the resource is declared (project,
 * stack, type, logical name), so `pulumi preview` and `pulumi up` (separate processes) pick the
 * same name, and two stacks that declare the same logical names on one balancer do not.
 */
export function nameSeed(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 16);
}

/** Deterministic bytes for attempt `attempt` of a seed: the same on every run, different per attempt. */
export function seededRandom(seed: string, attempt: number): (bytes: number) => Buffer {
  return (bytes) => {
    const out: Buffer[] = [];
    for (let block = 0; out.length * 32 < bytes; block++) {
      out.push(createHash("sha256").update(`${seed}\0${attempt}\0${block}`).digest());
    }
    return Buffer.concat(out).subarray(0, bytes);
  };
}

/** The random parts a `pulumi:autonaming` pattern may hold, as Pulumi writes them. */
const RANDOM_TOKEN = /\$\{(hex|alphanum|string|num)\((\d{1,2})\)\}|\$\{uuid\}/g;

/** True when the pattern has random parts (otherwise it names the object the same on every create). */
export function hasRandomParts(pattern: string): boolean {
  return new RegExp(RANDOM_TOKEN.source).test(pattern);
}

/**
 * Fills the random parts of an autonaming pattern: `${hex(n)}` lowercase hex, `${alphanum(n)}` and
 * `${string(n)}` lowercase letters and digits (Ballast names are lowercase), `${num(n)}` digits,
 * `${uuid}` a version-4-shaped UUID. Other parts were filled by the sdk already.
 */
export function expandPattern(pattern: string, random: (bytes: number) => Buffer = randomBytes): string {
  return pattern.replace(RANDOM_TOKEN, (_all, fn: string | undefined, n: string | undefined) => {
    if (fn === undefined) {
      const h = random(16).toString("hex");
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
    }
    const length = Number(n);
    const bytes = random(length);
    const alphabet = fn === "hex" ? "0123456789abcdef" : fn === "num" ? "0123456789" : "abcdefghijklmnopqrstuvwxyz0123456789";
    return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
  });
}
