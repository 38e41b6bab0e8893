import type { Kind, Stored } from "../../model";
import type { Snapshot } from "../config/snapshot";
import type { Metrics } from "../metrics";
import type { ServerUsage } from "./plans";

/**
 * What the admin API needs from a store backend: the file store (`Store`, one data plane) or the
 * etcd store (`EtcdStore`, any number of replicas sharing one configuration). Both run the same
 * plans (plans.ts) and hand the runtime snapshots built the same way.
 */

/** Filled by a write with the revision it committed at (`Ballast-Revision` of the response). */
export interface WriteReceipt {
  revision?: number;
}

/** `GET /v1/replica`. */
export interface ReplicaInfo {
  name: string;
  store: "file" | "etcd";
  /** Applied etcd revision (file store: the snapshot generation). */
  appliedRevision: number;
  /** `connected`, or `unreachable` with the ISO time since when (and the endpoints tried). */
  state: { status: "connected" } | { status: "unreachable"; since: string; endpoints: string[] };
  /** Listeners of the configuration this replica could not bind (it retries). */
  unboundListeners: string[];
}

export interface ConfigStore {
  /** The revision of the configuration this process serves: `Ballast-Revision` of a read. */
  readonly revision: number;
  list<K extends Kind>(kind: K): Stored<K>[];
  /** The configuration this process serves, as a snapshot (the status page reads it). */
  snapshot(): Snapshot;
  get<K extends Kind>(kind: K, name: string): Stored<K> | undefined;
  counts(): Record<Kind, number>;
  usage(address: string): ServerUsage;
  create<K extends Kind>(kind: K, body: unknown, receipt?: WriteReceipt): Promise<Stored<K>>;
  replace<K extends Kind>(kind: K, name: string, body: unknown, ifMatch?: string, receipt?: WriteReceipt): Promise<Stored<K>>;
  remove(kind: Kind, name: string, receipt?: WriteReceipt): Promise<void>;
  /** Resolves true once `revision` is applied here, false after `timeoutMs`. */
  waitForRevision(revision: number, timeoutMs: number): Promise<boolean>;
  /** Seconds since the store became unreachable (reads then answer from the applied state); undefined when connected. */
  staleSeconds(): number | undefined;
  replica(): ReplicaInfo;
  /** Adds the store's own series to `/metrics`. */
  collectMetrics(out: Metrics): void;
  /** Resolves once every change queued so far has finished (used on shutdown). */
  idle(): Promise<void>;
  close(): Promise<void>;
}
