import { backendProtocolFor, type Kind } from "../model";
import { AdminClient, type AdminClientOptions, type BalancerConnection } from "./admin-client";
import type { Props } from "./props";
import { isUnknown } from "./unknown";

/**
 * A data plane integrity rule that `check` can judge at preview against what is already on the
 * balancer, for a reference given by name (the sdk judges references to resource objects itself): a
 * listener takes a service of its protocol family. (One health check per service is judged by the
 * sdk only: at `check` a replacement cannot be told from a second check on the same service.)
 * Anything the balancer cannot answer now is left to the operation that needs it.
 */
export async function liveIntegrityIssues(
  kind: Kind,
  inputs: Props,
  connection: BalancerConnection,
  settings: Omit<AdminClientOptions, "adminUrl" | "adminToken"> = {},
): Promise<string[]> {
  const service = inputs.backendService;
  const protocol = inputs.protocol;
  if (kind !== "listeners" || typeof service !== "string" || isUnknown(service)) return [];
  if (typeof protocol !== "string" || !["http", "https", "tcp", "tls"].includes(protocol)) return [];
  const client = new AdminClient({ ...settings, ...connection, connectTimeoutMs: 2_000, requestTimeoutMs: 5_000, backoff: { initialDelayMs: 1, maxDelayMs: 1, budgetMs: 0 } });
  try {
    const live = await client.get("backend-services", service);
    const wanted = backendProtocolFor(protocol as "http");
    if (live !== undefined && live.protocol !== wanted) {
      return [`backendService: a ${protocol} listener needs a ${wanted} service; BackendService "${service}" on the balancer is ${String(live.protocol)} (got "${service}")`];
    }
    return [];
  } catch {
    return [];
  } finally {
    await client.close();
  }
}
