import { basename, dirname, join } from "node:path";
import { kindNames, validate, type Kind, type Stored } from "../../model";
import { emptyCollections, sortedObjects, withObject, type Collections } from "./collections";
import { close, fsync, open, readFile, readdir, rename, unlink, writeFile } from "./fs-async";
import { integrityProblems } from "./integrity";

/**
 * The state file: every object of the balancer, so a restart loses nothing. JSON with a format
 * version and the generation of the snapshot it describes:
 *
 *   { "format": 1, "generation": 7, "listeners": [...], "backend-services": [...],
 *     "server-groups": [...], "health-checks": [...] }
 *
 * each object being its validated spec plus `version`. Written atomically: a temp file in the same
 * directory, fsync, rename over the old file, fsync the directory, so a crash leaves either the old
 * or the new file, never a torn one. A file that does not decode is never replaced or repaired: the
 * start stops with a `StateFileError` naming the file and the problem.
 */

export const STATE_FILE_NAME = "state.json";
export const STATE_FORMAT = 1;
/** Problems listed in a StateFileError before "and N more". */
const MAX_PROBLEMS_SHOWN = 10;

export interface PersistedState {
  generation: number;
  objects: Collections;
}

/** A state file that exists but cannot be used. The message names the file and the problem. */
export class StateFileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`state file ${file} ${problem}; the file was left untouched: fix it or move it away, then start again`);
    this.name = "StateFileError";
  }
}

export function encodeState(state: PersistedState): string {
  const body: Record<string, unknown> = { format: STATE_FORMAT, generation: state.generation };
  for (const kind of kindNames) body[kind] = sortedObjects(state.objects, kind);
  return JSON.stringify(body, null, 2) + "\n";
}

/** True for a JSON object (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export type Decoded = { ok: true; state: PersistedState } | { ok: false; problem: string };

/** Decodes and checks a state file's text; a failure carries a one-line description of the problem. */
export function decodeState(text: string): Decoded {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // V8's message may quote the file's text (which can hold private keys): keep only what it says.
    const reason = (err as Error).message.replace(/, (\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, "");
    return { ok: false, problem: `is not valid JSON (${reason})` };
  }
  if (!isPlainObject(raw)) return { ok: false, problem: "is not a JSON object" };
  if (raw.format !== STATE_FORMAT) {
    return { ok: false, problem: `has format ${JSON.stringify(raw.format)}; this data plane reads format ${STATE_FORMAT}` };
  }
  const problems: string[] = [];
  const generation = raw.generation;
  if (typeof generation !== "number" || !Number.isSafeInteger(generation) || generation < 0) {
    problems.push("generation: must be a whole number >= 0");
  }
  for (const key of Object.keys(raw)) {
    if (key !== "format" && key !== "generation" && !(kindNames as string[]).includes(key)) problems.push(`${key}: is not a field of a state file`);
  }
  let objects = emptyCollections();
  for (const kind of kindNames) {
    const items = raw[kind];
    if (!Array.isArray(items)) {
      problems.push(`${kind}: must be an array`);
      continue;
    }
    items.forEach((item: unknown, i) => {
      const at = `${kind}[${i}]`;
      if (!isPlainObject(item)) return void problems.push(`${at}: must be an object`);
      const { version, ...spec } = item;
      if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 1) problems.push(`${at}.version: must be a whole number >= 1`);
      const result = validate(kind, spec);
      if (!result.ok) {
        for (const issue of result.issues) problems.push(`${at}${issue.path ? `.${issue.path}` : ""}: ${issue.message}`);
        return;
      }
      if (objects[kind].has(result.value.name)) return void problems.push(`${at}.name: '${result.value.name}' appears twice`);
      objects = withObject(objects, kind as Kind, { ...result.value, version } as Stored<Kind>);
    });
  }
  if (problems.length === 0) problems.push(...integrityProblems(objects));
  if (problems.length > 0) {
    const shown = problems.slice(0, MAX_PROBLEMS_SHOWN).join("; ");
    const more = problems.length > MAX_PROBLEMS_SHOWN ? ` (and ${problems.length - MAX_PROBLEMS_SHOWN} more)` : "";
    return { ok: false, problem: `is invalid: ${shown}${more}` };
  }
  return { ok: true, state: { generation: generation as number, objects } };
}

/** Reads the state file; undefined when there is none (a new balancer). Throws StateFileError. */
export async function readStateFile(file: string): Promise<PersistedState | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new StateFileError(file, `cannot be read (${(err as Error).message})`);
  }
  const decoded = decodeState(text);
  if (!decoded.ok) throw new StateFileError(file, decoded.problem);
  return decoded.state;
}

let tempCounter = 0;
const tempPrefix = (file: string) => `.${basename(file)}.`;

/**
 * Replaces the state file atomically. Rejects (leaving the old file as it was) when the temp file
 * cannot be written, synced or renamed. Once the rename succeeded the new state is the file's
 * content; a failure to fsync the directory after it is only reported through `onDirSyncError`.
 */
export function writeStateFile(file: string, state: PersistedState, onDirSyncError?: (err: unknown) => void): Promise<void> {
  return writeFileAtomic(file, encodeState(state), onDirSyncError);
}

/** `writeStateFile` for any text: temp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(file: string, text: string, onDirSyncError?: (err: unknown) => void): Promise<void> {
  const dir = dirname(file);
  const temp = join(dir, `${tempPrefix(file)}${process.pid}.${++tempCounter}.tmp`);
  try {
    const fd = await open(temp, "w", 0o600);
    try {
      await writeFile(fd, text);
      await fsync(fd);
    } finally {
      await close(fd);
    }
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  try {
    const fd = await open(dir, "r");
    try {
      await fsync(fd);
    } finally {
      await close(fd);
    }
  } catch (err) {
    onDirSyncError?.(err);
  }
}

/** Removes temp files a crash left behind next to the state file; returns their names. */
export async function removeStaleTempFiles(file: string): Promise<string[]> {
  const prefix = tempPrefix(file);
  const names = (await readdir(dirname(file))).filter((n) => n.startsWith(prefix) && n.endsWith(".tmp"));
  await Promise.all(names.map((n) => unlink(join(dirname(file), n)).catch(() => undefined)));
  return names;
}
