import { createHash } from "node:crypto";
import { AdminClient, type AdminClientOptions, type BalancerConnection } from "./admin-client";
import { isProviderError } from "./errors";
import type { Kind } from "../model";

/**
 * Whether a balancer refuses an admin token, asked once per balancer and token per provider process
 * (one `pulumi preview` or `up`), so `check` can fail a wrong token at preview instead of letting the
 * changed secret show as an update of every object. Only a definite refusal (401/403) counts: a
 * balancer not running yet (one this program is about to start) is judged later, by the operation
 * that needs it, with its retries.
 */
const probes = new Map<string, Promise<string | undefined>>();

/** The reason to show when the balancer refuses the token, or undefined. */
export function tokenRefusal(connection: BalancerConnection, kind: Kind, settings: Omit<AdminClientOptions, "adminUrl" | "adminToken"> = {}): Promise<string | undefined> {
  const key = `${connection.adminUrl}\0${createHash("sha256").update(connection.adminToken).digest("hex")}`;
  let probe = probes.get(key);
  if (probe === undefined) {
    probe = ask(connection, kind, settings);
    probes.set(key, probe);
  }
  return probe;
}

/** A name no object can have (names start with a letter): the answer is 404, or 401 before it. */
const PROBE_NAME = "0-token-probe";

async function ask(connection: BalancerConnection, kind: Kind, settings: Omit<AdminClientOptions, "adminUrl" | "adminToken">): Promise<string | undefined> {
  const client = new AdminClient({
    ...settings,
    ...connection,
    connectTimeoutMs: Math.min(settings.connectTimeoutMs ?? 2_000, 2_000),
    requestTimeoutMs: Math.min(settings.requestTimeoutMs ?? 5_000, 5_000),
    backoff: { initialDelayMs: 1, maxDelayMs: 1, budgetMs: 0 },
  });
  try {
    await client.get(kind, PROBE_NAME);
    return undefined;
  } catch (err) {
    if (!isProviderError(err, "BALLAST_PROVIDER_UNAUTHORIZED")) return undefined;
    return (
      `adminToken: the balancer at ${client.adminUrl} refused the admin token (${err.answer?.status ?? 401}); ` +
      "check that it is the balancer's BALLAST_ADMIN_TOKEN [BALLAST_PROVIDER_UNAUTHORIZED]"
    );
  } finally {
    await client.close();
  }
}
