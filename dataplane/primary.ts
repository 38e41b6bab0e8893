import { createAdminServer, parseHostPort } from "./admin/admin-server";
import type { Logger } from "./log";
import type { TrafficRuntime } from "./runtime/traffic-runtime";
import { Store, type ConfigStore } from "./store";
import type { StoreSettings } from "./store/store-settings";

/**
 * The primary process's parts, wired together: the store (loaded from the state file), the traffic
 * runtime (given the loaded configuration before the admin API opens) and the admin server.
 * `main.ts` reads the environment and calls this; tests call it in-process with a fake runtime.
 */

export interface PrimaryOptions {
  /** `host:port` of the admin API; port 0 picks a free port (see `url`). */
  adminAddr: string;
  /** Bearer token of `/v1`. */
  token: string;
  /** Directory of the state file. */
  stateDir: string;
  /** Name shown on the status page (BALLAST_REPLICA_NAME); default: the host name. */
  replica?: string | undefined;
  log: Logger;
  /**
   * Carries the traffic. Once `startPrimary` resolves, the primary owns it and closes it in
   * `close`; if `startPrimary` rejects, the caller still owns it.
   */
  runtime: TrafficRuntime;
  /** The store backend; default the file store in `stateDir`. */
  store?: StoreSettings;
}

export interface Primary {
  /** Base URL of the admin API, e.g. `http://127.0.0.1:9180`. */
  url: string;
  store: ConfigStore;
  /**
   * Stops the admin API, waits for the change in progress, then closes the runtime, which lets
   * in-flight traffic finish; everything within about `graceMs`.
   */
  close(graceMs: number): Promise<void>;
}

/** Longest wait for in-flight admin requests on shutdown (they are short; traffic gets the rest). */
const ADMIN_CLOSE_MS = 2_000;

/** Raised when the loaded configuration cannot be made live (e.g. a listener's port is taken). */
export class StartupError extends Error {
  override readonly name = "StartupError";
}

export async function startPrimary(options: PrimaryOptions): Promise<Primary> {
  const { log, runtime } = options;
  const { host, port } = parseHostPort(options.adminAddr);
  const store = await openStore(options);
  const admin = createAdminServer({ store, runtime, token: options.token, log: log.child({ component: "admin" }), replica: options.replica });
  let url: string;
  try {
    url = await admin.listen(host, port, options.store?.kind === "etcd");
  } catch (err) {
    throw new StartupError(`the admin API cannot listen on ${options.adminAddr}: ${(err as Error).message}`, { cause: err });
  }
  log.info({ url }, "admin listening");

  let closing: Promise<void> | undefined;
  return {
    url,
    store,
    close(graceMs) {
      closing ??= (async () => {
        const deadline = Date.now() + graceMs;
        await admin.close(Math.min(graceMs, ADMIN_CLOSE_MS));
        await store.close();
        await runtime.close(Math.max(0, deadline - Date.now()));
        log.info("primary closed");
      })();
      return closing;
    },
  };
}

/**
 * The file store, its configuration made live here (a port that cannot be bound stops the start);
 * or the etcd store, which makes its configuration live itself and retries what it cannot bind.
 */
async function openStore(options: PrimaryOptions): Promise<ConfigStore> {
  const { log, runtime } = options;
  const settings = options.store;
  if (settings?.kind === "etcd") {
    // Loaded only here: a data plane on the file store never loads the etcd client.
    const { EtcdStore } = require("./store/etcd-store") as typeof import("./store/etcd-store");
    return EtcdStore.open({ client: settings.etcd, prefix: settings.etcd.prefix, replicaName: settings.replicaName, stateDir: options.stateDir, runtime, log });
  }
  const store = await Store.open({ stateDir: options.stateDir, runtime, log, ...(settings ? { replicaName: settings.replicaName } : {}) });
  try {
    await runtime.apply(store.snapshot());
  } catch (err) {
    throw new StartupError(`the configuration in ${store.stateFile} cannot be made live: ${(err as Error).message}`, { cause: err });
  }
  return store;
}
