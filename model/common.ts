import * as z from "zod";

/**
 * Field types and limits shared by every resource. Every limit of a resource (docs/admin-api.md, docs/sdk.md) lives in this folder;
 * the data plane, the provider and the sdk import it from here and never restate a number.
 */

/** At most this many listeners on one balancer (UCloud ALB limit). */
export const MAX_LISTENERS = 50;
/** At most this many servers in one virtual server group. */
export const MAX_SERVERS_PER_GROUP = 1000;
/** Longest free-text description of a server. */
export const MAX_DESCRIPTION_LENGTH = 255;

/** A whole number in [min, max]; the message names the range so the field path plus message reads well. */
export function intRange(min: number, max: number, unit = "") {
  const suffix = unit ? ` ${unit}` : "";
  const message = `must be a whole number from ${min} to ${max}${suffix}`;
  return z
    .number({ error: (iss) => (iss.input === undefined ? "is required" : message) })
    .int({ error: message })
    .min(min, { error: message })
    .max(max, { error: message });
}

/**
 * A resource name: 1–63 characters of `a-z 0-9 -`, starting with a letter. Names are the identity
 * of every object on a balancer (the admin API's URLs and the Pulumi id).
 */
export const Name = z
  .string({ error: (iss) => (iss.input === undefined ? "is required" : "must be a string") })
  .regex(/^[a-z][a-z0-9-]{0,62}$/, {
    error: "must be 1-63 characters of a-z, 0-9 and '-', starting with a letter",
  });
export type Name = z.infer<typeof Name>;

/** A TCP port, 1–65535. */
export const Port = intRange(1, 65535);

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const ipv6 = z.ipv6();

/** True for an IPv4 literal. */
export function isIpv4(value: string): boolean {
  return IPV4.test(value);
}
/** True for an IPv6 literal (without brackets). */
export function isIpv6(value: string): boolean {
  return ipv6.safeParse(value).success;
}

/** A server address: an IPv4 or IPv6 literal (IPv6 without brackets), or a DNS name. */
export const Address = z
  .string({ error: (iss) => (iss.input === undefined ? "is required" : "must be a string") })
  .refine((v) => isIpv4(v) || isIpv6(v) || (HOSTNAME.test(v) && !/^[\d.]+$/.test(v)), {
    error: "must be an IPv4 address, an IPv6 address (without brackets) or a DNS name",
  });

/** A duration in whole seconds within [min, max]. */
export function seconds(min: number, max: number) {
  return intRange(min, max, "seconds");
}

/** An error map for strict objects: an unknown key names the context it is not allowed in. */
export function unknownKeyIn(context: string) {
  return (iss: { code?: string }) =>
    iss.code === "unrecognized_keys" ? `is not a field of ${context}` : undefined;
}
