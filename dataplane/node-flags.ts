/**
 * V8 flags the data plane runs with, reached through node-internals.ts. main.ts calls
 * `applyNodeFlags()` before it does anything else: when the data plane is started as
 * `node …/main.js` without them, the process re-executes itself with them at once
 * (`process.execve`: same PID, before any file, socket or worker is opened), so every way of
 * starting it (the image, `node dist/dataplane/main.js`, the quickstart) runs the same way. A flag
 * the user already gave (on the command line or in NODE_OPTIONS) is left as given. Cluster workers
 * inherit the primary's flags. Importing this module does nothing: only the call re-executes.
 *
 * - `--max-semi-space-size=4` (MB): V8 otherwise grows the young generation under load to several
 *   times that, and keeps it, which idle client connections then pay for. Scavenges get more
 *   frequent but stay cheap (the proxy's survival rate is low), and no throughput loss was measured
 *   (docs/benchmarks.md, change 21).
 * - `--initial-old-space-size=32` (MB): where V8 first sets the old generation's allocation limit.
 *   Without it, a process that had been idle for a few seconds (the usual case: traffic comes and
 *   goes) ran incremental mark-compacts every second or so under load although the old generation
 *   was small and grew by almost nothing; each one stopped traffic for milliseconds, and marking
 *   threads took the core from the event loop. That was the tail of 16 KiB responses. The limit only says
 *   when V8 may collect: memory is committed as used, so an idle process holds no more
 *   (docs/benchmarks.md, "The tail at 16 KiB").
 * - `--expose-gc-as=__ballastGc` (`GC_GLOBAL`): V8's gc function under a name nothing else uses,
 *   for the idle compactor (idle-compactor.ts).
 *
 * The re-executed process also gets, unless the environment sets them:
 * - `MALLOC_ARENA_MAX=2`: glibc otherwise gives each of V8's and libuv's threads a malloc arena of
 *   its own, which an idle data plane pays RSS for (docs/benchmarks.md, change 26).
 * - `MALLOC_MMAP_THRESHOLD_=131072`: glibc's default threshold (blocks of 128 KiB and more get
 *   their own mapping, unmapped when freed), made fixed. Left dynamic, glibc raises it to the size
 *   of each large mapped block freed: start-up frees some (reading the bundle, V8's compiler
 *   zones), after which blocks of that size stay in the heap and leave holes it never returns
 *   (docs/benchmarks.md, change 30). The traffic path's blocks stay under it (the read buffers,
 *   read-buffers.ts), so it maps nothing more per request.
 */
export const GC_GLOBAL = "__ballastGc";
export const NODE_FLAGS: readonly string[] = ["--max-semi-space-size=4", "--initial-old-space-size=32", `--expose-gc-as=${GC_GLOBAL}`];

/** Environment the re-executed process gets, where the user has not set the variable. */
export const NODE_ENV_DEFAULTS: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2", MALLOC_MMAP_THRESHOLD_: "131072" };

/** Set in the environment of the re-executed process: never re-execute twice. */
export const APPLIED = "BALLAST_NODE_FLAGS_APPLIED";

/** The flags of `NODE_FLAGS` whose name appears neither in `execArgv` nor in `nodeOptions`. */
export function missingFlags(execArgv: readonly string[], nodeOptions: string): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map((a) => a.split("=")[0]!.replace(/_/g, "-"));
  return NODE_FLAGS.filter((f) => !given.includes(f.split("=")[0]!));
}

/**
 * Re-executes this process with the missing flags and `NODE_ENV_DEFAULTS` (does not return then).
 * Returns without doing anything when it already ran (`APPLIED` in the environment), when every
 * flag was given, or where Node has no `process.execve` (the process runs without the flags; the
 * idle compactor then does not start).
 */
export function applyNodeFlags(): void {
  if (process.env[APPLIED] !== undefined || typeof process.execve !== "function") return;
  const missing = missingFlags(process.execArgv, process.env.NODE_OPTIONS ?? "");
  if (missing.length === 0) return;
  process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], { ...NODE_ENV_DEFAULTS, ...process.env, [APPLIED]: "1" });
}
