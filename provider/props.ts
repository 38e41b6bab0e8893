import type { BalancerConnection } from "./admin-client";
import { isUnknown } from "./unknown";

/**
 * The shape of a Ballast resource's Pulumi properties. Inputs are the object's spec (model fields)
 * plus provider-only keys; outputs are the stored object (spec + `version`) plus the connection.
 * Connection info is kept in the outputs so `read`, `update` and `delete` can reach the balancer
 * from state alone (refresh and destroy run without the program's inputs).
 */

/** Provider-only input keys: never sent to the data plane, never validated by the model. */
export const PROVIDER_KEYS = ["adminUrl", "adminToken", "adopt", "namePrefix", "namePattern", "nameSeed", "__provider", "adminUrls"] as const;

/** The reserved key under which Pulumi stores the serialized provider. */
export const PROVIDER_KEY = "__provider";

/** The provider-only inputs, as the sdk sends them. */
export interface ProviderInputs {
  /** Admin URL of the balancer (from `balancer`). */
  adminUrl?: string;
  /** Admin token of the balancer (secret). */
  adminToken?: string;
  /** Every replica's admin URL (replicas on the etcd store); `adminUrl` is tried first. */
  adminUrls?: string[];
  /** Take over an object of the same name that already exists on the balancer. */
  adopt?: boolean;
  /** Set by the sdk when no explicit `name` was given: the prefix `check` autonames from. */
  namePrefix?: string;
  /** Set by the sdk instead of `namePrefix` under a `pulumi:autonaming` pattern: its random parts still to fill. */
  namePattern?: string;
  /** Set by the sdk with either: makes the new name the same in preview and up (see `check.ts`). */
  nameSeed?: string;
}

export type Props = Record<string, unknown>;

/** The model fields of a property bag: everything but the provider-only keys and `version`. */
export function specFields(props: Props): Props {
  const out: Props = {};
  for (const [key, value] of Object.entries(props)) {
    if (key === "version" || (PROVIDER_KEYS as readonly string[]).includes(key)) continue;
    if (value === undefined) continue;
    out[key] = value;
  }
  return out;
}

/** The connection info of a property bag, or undefined when it is missing or not yet known. */
export function connectionOf(props: Props): BalancerConnection | undefined {
  const { adminUrl, adminToken } = props;
  if (typeof adminUrl !== "string" || typeof adminToken !== "string") return undefined;
  if (isUnknown(adminUrl) || isUnknown(adminToken)) return undefined;
  const urls = props.adminUrls;
  const adminUrls = Array.isArray(urls) && urls.every((u) => typeof u === "string" && !isUnknown(u)) ? (urls as string[]) : undefined;
  return adminUrls ? { adminUrl, adminToken, adminUrls } : { adminUrl, adminToken };
}

/** The outputs of a resource: the stored object as the data plane returned it, plus the connection. */
export function outputsOf(stored: Props, connection: BalancerConnection): Props {
  return { ...stored, adminUrl: connection.adminUrl, adminToken: connection.adminToken, ...(connection.adminUrls ? { adminUrls: connection.adminUrls } : {}) };
}

/**
 * A canonical JSON text of a value: object keys sorted, `undefined` members dropped, so two
 * property bags compare equal exactly when Pulumi would show no difference between them.
 */
export function canonical(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) out[key] = sortKeys(member);
    }
    return out;
  }
  return value;
}
