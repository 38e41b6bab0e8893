import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeRun, findPulumiDir, pulumiEnv, repoNodeModules, repoRoot, runCommand, type RunResult } from "./toolchain";

/**
 * Throwaway Pulumi projects for end-to-end tests, run with the real engine and a local file
 * backend in the project's temp dir. `node_modules` is a directory of symlinks to the repo's
 * packages plus `ballast` → the repo root, which is what `npm install ballast` gives a user: the
 * program and the serialized provider shim (`require("ballast/dist/provider/impl")`) both resolve
 * the built repository. Build first (`npm run build`).
 *
 *   const p = rootProgramProject();           // the root project's program (Pulumi.yaml, dist/program)
 *   await p.pulumi(["stack", "init", "t"]);
 *   p.writeStackConfig("t", { "ballast:adminUrl": url, ... });
 *   const r = await p.pulumi(["preview", "--json", "-s", "t"]);
 *   p.cleanup();
 */

export interface RunOptions {
  /** Default 180 s. */
  timeoutMs?: number;
  /** Extra environment; `undefined` removes a variable (e.g. PULUMI_SKIP_CONFIRMATIONS for --preview-only). */
  env?: Record<string, string | undefined>;
}

export interface PulumiProject {
  dir: string;
  stateDir: string;
  /** Runs `pulumi <args> --non-interactive` in the project, bounded (default 180 s). */
  pulumi(args: string[], options?: RunOptions): Promise<RunResult>;
  /** Like `pulumi`, but throws with the full output unless the exit code is 0. */
  ok(args: string[], options?: RunOptions): Promise<RunResult>;
  /**
   * Rewrites `Pulumi.<stack>.yaml` (as JSON, which is YAML) with `config`, keeping the
   * encryption salt and the encrypted `ballast:adminToken` that `pulumi config set --secret` put there.
   */
  writeStackConfig(stack: string, config: Record<string, unknown>): void;
  /** `pulumi stack output --json`. */
  outputs(stack: string): Promise<Record<string, unknown>>;
  cleanup(): void;
}

/** A project dir whose node_modules resolves the repo's packages and `ballast` itself. */
function linkNodeModules(dir: string): void {
  const nm = join(dir, "node_modules");
  mkdirSync(nm);
  for (const entry of readdirSync(repoNodeModules)) {
    if (entry === "ballast" || entry === ".bin") continue;
    symlinkSync(join(repoNodeModules, entry), join(nm, entry), "dir");
  }
  symlinkSync(repoRoot, join(nm, "ballast"), "dir");
}

/**
 * A project at `<tmp>/project` with the given files (relative path → content), or a copy of
 * `copyFrom` (a directory, e.g. an example), node_modules linked, state in `<tmp>/state`.
 */
export function makeProject(options: { files?: Record<string, string>; copyFrom?: string; prefix?: string }): PulumiProject {
  const work = mkdtempSync(join(tmpdir(), options.prefix ?? "ballast-e2e-"));
  const dir = join(work, "project");
  const stateDir = join(work, "state");
  mkdirSync(stateDir);
  if (options.copyFrom) {
    cpSync(options.copyFrom, dir, { recursive: true, filter: (src) => !/[/\\](node_modules|package-lock\.json)$/.test(src) });
  } else {
    mkdirSync(dir);
  }
  for (const [file, content] of Object.entries(options.files ?? {})) writeFileSync(join(dir, file), content);
  linkNodeModules(dir);
  return projectAt(dir, stateDir, () => rmSync(work, { recursive: true, force: true }));
}

/**
 * A copy of `examples/<name>` in a temp dir with one file backend for all its projects (as a
 * StackReference needs): node_modules linked in every directory holding a package.json, as
 * `npm install` there would (`"ballast": "file:../.."` becomes a link to the repository).
 * `project(sub)` gives the project in a sub-directory ("" for the example itself).
 */
export function copyExample(name: string): { dir: string; stateDir: string; project(sub?: string): PulumiProject; cleanup(): void } {
  const work = mkdtempSync(join(tmpdir(), `ballast-e2e-example-${name}-`));
  const dir = join(work, name);
  const stateDir = join(work, "state");
  mkdirSync(stateDir);
  cpSync(join(repoRoot, "examples", name), dir, { recursive: true, filter: (src) => !/[/\\](node_modules|package-lock\.json)$/.test(src) });
  const withPackages = (d: string): string[] => [
    ...(existsSync(join(d, "package.json")) ? [d] : []),
    ...readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).flatMap((e) => withPackages(join(d, e.name))),
  ];
  for (const d of withPackages(dir)) linkNodeModules(d);
  const cleanup = () => rmSync(work, { recursive: true, force: true });
  return { dir, stateDir, project: (sub = "") => projectAt(join(dir, sub), stateDir), cleanup };
}

/** A project running the root project's program: its Pulumi.yaml (main → the built program). */
export function rootProgramProject(): PulumiProject {
  const rootYaml = readFileSync(join(repoRoot, "Pulumi.yaml"), "utf8");
  const yaml = rootYaml.replace(/^main: .*$/m, "main: index.js");
  if (yaml === rootYaml) throw new Error("Pulumi.yaml has no `main:` line to point at the copy");
  return makeProject({
    prefix: "ballast-e2e-root-",
    files: {
      "Pulumi.yaml": yaml,
      "package.json": JSON.stringify({ name: "ballast-e2e-root", private: true, main: "index.js" }, null, 2),
      // The root program, as built by `npm run build`, loaded through the `ballast` package.
      // (by path: the root program is not part of the package's `exports`).
      "index.js": `module.exports = require("./node_modules/ballast/dist/program/index.js");\n`,
    },
  });
}

/** A project over an existing directory (e.g. one stack dir of an example), state in `stateDir`. */
export function projectAt(dir: string, stateDir: string, cleanup: () => void = () => undefined): PulumiProject {
  const pulumiDir = findPulumiDir();
  const env = (extra: Record<string, string | undefined> = {}) => {
    const e = pulumiEnv(stateDir);
    // A developer's shell may hold the quickstart's env.sh: the tests choose their own balancer.
    for (const k of ["BALLAST_ADMIN_URL", "BALLAST_ADMIN_TOKEN"]) delete e[k];
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete e[k];
      else e[k] = v;
    }
    return e;
  };
  const pulumi = (args: string[], options: RunOptions = {}) => {
    if (!pulumiDir) return Promise.reject(new Error("pulumi not found: run scripts/ensure-pulumi.sh"));
    return runCommand(join(pulumiDir, "pulumi"), [...args, "--non-interactive"], {
      cwd: dir,
      env: env(options.env),
      timeoutMs: options.timeoutMs ?? 180_000,
    });
  };
  const project: PulumiProject = {
    dir,
    stateDir,
    pulumi,
    async ok(args, options) {
      const r = await pulumi(args, options);
      if (r.code !== 0) throw new Error(describeRun(`pulumi ${args.join(" ")}`, r));
      return r;
    },
    writeStackConfig(stack, config) {
      const file = join(dir, `Pulumi.${stack}.yaml`);
      const current = readFileSync(file, "utf8");
      const salt = /encryptionsalt"?:\s*['"]?([^'"\s,}]+)/.exec(current)?.[1];
      const doc: Record<string, unknown> = {};
      if (salt) doc.encryptionsalt = salt;
      const token = /"?ballast:adminToken"?:\s*\{?\s*"?secure"?:\s*"?([^"\s}]+)"?/.exec(current)?.[1];
      doc.config = { ...(token ? { "ballast:adminToken": { secure: token } } : {}), ...config };
      writeFileSync(file, JSON.stringify(doc, null, 2));
    },
    async outputs(stack) {
      const r = await project.ok(["stack", "output", "--json", "--stack", stack], { timeoutMs: 60_000 });
      return JSON.parse(r.stdout) as Record<string, unknown>;
    },
    cleanup,
  };
  return project;
}

/** One step of `pulumi preview --json`. */
export interface PreviewStep {
  op: string;
  urn: string;
  diffReasons?: string[];
  replaceReasons?: string[];
  detailedDiff?: Record<string, { kind: string }>;
}

/** The steps of a `pulumi preview --json` run. */
export function previewSteps(r: RunResult): PreviewStep[] {
  try {
    return ((JSON.parse(r.stdout) as { steps?: PreviewStep[] }).steps ?? []);
  } catch {
    throw new Error(describeRun("pulumi preview --json did not print JSON", r));
  }
}

/** The Ballast kind of a URN (`ServerGroup`, ...), or undefined for other resources. */
export function kindOf(urn: string): string | undefined {
  return /pulumi-nodejs:dynamic\/ballast:(\w+)::/.exec(urn)?.[1];
}

/** `kind op` for every Ballast step, sorted: e.g. `["BackendService replace", "Listener update"]`. */
export function summarize(steps: PreviewStep[]): string[] {
  return steps
    .filter((s) => kindOf(s.urn) !== undefined && s.op !== "same")
    .map((s) => `${kindOf(s.urn)} ${s.op}`)
    .sort();
}

export interface TrafficResult {
  /** Answers by origin name (the x-origin header), or `HTTP <status>` / `error <code>`. */
  counts: Record<string, number>;
  failures: number;
  total: number;
}

/** Sends `n` sequential GETs to `url`, counting where they went. */
export async function sendRequests(url: string, n: number, path = "/"): Promise<TrafficResult> {
  const counts: Record<string, number> = {};
  let failures = 0;
  for (let i = 0; i < n; i++) {
    const key = await oneRequest(url + path);
    if (!key.startsWith("origin:")) failures++;
    counts[key.replace(/^origin:/, "")] = (counts[key.replace(/^origin:/, "")] ?? 0) + 1;
  }
  return { counts, failures, total: n };
}

async function oneRequest(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    const origin = res.headers.get("x-origin");
    return res.status === 200 && origin ? `origin:${origin}` : `HTTP ${res.status}`;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return `error ${cause?.code ?? (err as Error).name}`;
  }
}

/**
 * Sends requests to `url` back to back (bounded: at most `max`, 20 ms apart) until `stop()`;
 * for "keeps serving while ..." assertions.
 */
export function keepRequesting(url: string, max = 10_000): { stop(): Promise<TrafficResult> } {
  const result: TrafficResult = { counts: {}, failures: 0, total: 0 };
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; i < max && !stopped; i++) {
      const key = await oneRequest(url);
      result.total++;
      if (!key.startsWith("origin:")) result.failures++;
      const k = key.replace(/^origin:/, "");
      result.counts[k] = (result.counts[k] ?? 0) + 1;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return result;
    },
  };
}
