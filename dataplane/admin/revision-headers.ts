import { AdminError } from "../errors";
import type { ConfigStore, WriteReceipt } from "../store";
import type { Reply } from "./http-io";

/**
 * The revision headers of every authenticated `/v1` response (docs/admin-api.md, "Revisions"):
 * `Ballast-Revision` (the commit revision of a write, the applied revision otherwise) and, while the
 * store cannot be reached, `Ballast-Stale: <seconds>`. A read with `Ballast-Min-Revision: <n>`
 * waits until this replica applied `n`, up to `MIN_REVISION_WAIT_MS`.
 */

export const MIN_REVISION_WAIT_MS = 5_000;

export async function awaitMinRevision(store: ConfigStore, header: string | undefined): Promise<void> {
  if (header === undefined) return;
  const wanted = Number(header.trim());
  if (!/^\d{1,15}$/.test(header.trim()) || !Number.isSafeInteger(wanted)) {
    throw new AdminError("invalid", "Ballast-Min-Revision must be a whole number", [{ path: "Ballast-Min-Revision", message: "must be a whole number >= 0" }]);
  }
  if (await store.waitForRevision(wanted, MIN_REVISION_WAIT_MS)) return;
  throw new AdminError("revision_not_reached", `this replica applied revision ${store.revision}, not yet ${wanted}; retry, or ask another replica`);
}

export function withRevision(store: ConfigStore, reply: Reply, receipt: WriteReceipt): Reply {
  const headers: Record<string, string> = { ...reply.headers, "ballast-revision": String(receipt.revision ?? store.revision) };
  const stale = store.staleSeconds();
  if (stale !== undefined) headers["ballast-stale"] = String(stale);
  return { ...reply, headers };
}
