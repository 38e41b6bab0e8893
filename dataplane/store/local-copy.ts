import { join } from "node:path";
import type { Collections } from "./collections";
import { readFile } from "./fs-async";
import { decodeState, encodeState, isPlainObject, writeFileAtomic } from "./state-file";

/**
 * A replica's local copy of the configuration it last applied from etcd, in `BALLAST_STATE_DIR`,
 * written with the state file's atomic write. It records where it came from:
 *
 *   { "format": 1, "source": { "endpoints": [...], "prefix": "/ballast/default" },
 *     "revision": 42, "state": { ...a state file... } }
 *
 * It is read only when etcd cannot be reached at start; etcd is the truth whenever it answers.
 */

export const LOCAL_COPY_NAME = "etcd-copy.json";

export interface LocalCopy {
  endpoints: string[];
  prefix: string;
  revision: number;
  objects: Collections;
}

export function localCopyFile(stateDir: string): string {
  return join(stateDir, LOCAL_COPY_NAME);
}

export function writeLocalCopy(file: string, copy: LocalCopy, onDirSyncError?: (err: unknown) => void): Promise<void> {
  const state = JSON.parse(encodeState({ generation: copy.revision, objects: copy.objects })) as unknown;
  const text = JSON.stringify({ format: 1, source: { endpoints: copy.endpoints, prefix: copy.prefix }, revision: copy.revision, state }) + "\n";
  return writeFileAtomic(file, text, onDirSyncError);
}

export type ReadCopy = { ok: true; copy: LocalCopy } | { ok: false; problem: string } | undefined;

/** Reads the local copy; undefined when there is none. */
export async function readLocalCopy(file: string): Promise<ReadCopy> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return { ok: false, problem: `cannot be read (${(err as Error).message})` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, problem: "is not valid JSON" };
  }
  if (!isPlainObject(raw) || raw.format !== 1 || !isPlainObject(raw.source) || typeof raw.revision !== "number") {
    return { ok: false, problem: "is not a local copy of format 1" };
  }
  const { endpoints, prefix } = raw.source;
  if (!Array.isArray(endpoints) || typeof prefix !== "string") return { ok: false, problem: "does not record its endpoints and prefix" };
  const decoded = decodeState(JSON.stringify(raw.state));
  if (!decoded.ok) return { ok: false, problem: decoded.problem };
  return { ok: true, copy: { endpoints: endpoints.map(String), prefix, revision: raw.revision, objects: decoded.state.objects } };
}
