import type { CheckResult } from "@pulumi/pulumi/dynamic";
import type { Kind } from "../model";
import { AdminClient, type AdminClientOptions, type BalancerConnection } from "./admin-client";
import { checkInputs } from "./check";
import type { Props } from "./props";

/** Attempts at a free autoname before the last one is used as it is (create then names the clash). */
const MAX_ATTEMPTS = 8;

/**
 * Names handed out by `check` in this provider process, with the seed they were made for, so two
 * resources created in one run never get the same name before either exists on the balancer.
 */
const handedOut = new Map<string, string>();

/**
 * `checkInputs` for a resource that gets a new autoname: the first attempt whose name is neither on
 * the balancer nor handed out to another resource in this run. Both preview and up ask the same
 * questions in the same order, so they pick the same name; on a replacement, the old object still
 * holds the first name, so the replacement takes the next. Without a seed, a connection, or when
 * the balancer cannot be asked, the first attempt is used.
 */
export async function checkWithFreshName(
  kind: Kind,
  olds: Props,
  news: Props,
  connection: BalancerConnection | undefined,
  settings: Omit<AdminClientOptions, "adminUrl" | "adminToken"> = {},
): Promise<CheckResult<Props>> {
  let result = checkInputs(kind, olds, news, undefined, 0);
  const seed = news.nameSeed;
  const fresh = typeof seed === "string" && news.name === undefined && result.inputs?.name !== olds.name;
  if (!fresh) return result;
  const client = connection
    ? new AdminClient({ ...settings, ...connection, connectTimeoutMs: 2_000, requestTimeoutMs: 5_000, backoff: { initialDelayMs: 1, maxDelayMs: 1, budgetMs: 0 } })
    : undefined;
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      result = checkInputs(kind, olds, news, undefined, attempt);
      const name = result.inputs?.name;
      if (typeof name !== "string") return result;
      const holder = handedOut.get(name);
      const taken = (holder !== undefined && holder !== seed) || (client !== undefined && (await exists(client, kind, name)));
      if (!taken) {
        handedOut.set(name, seed);
        return result;
      }
    }
    return result;
  } finally {
    await client?.close();
  }
}

async function exists(client: AdminClient, kind: Kind, name: string): Promise<boolean> {
  try {
    return (await client.get(kind, name)) !== undefined;
  } catch {
    return false; // not reachable or not valid yet: judged by the operation that needs it
  }
}
