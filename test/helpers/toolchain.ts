// Finding the Pulumi CLI and a Docker engine from tests, and running them with bounded time.
//
// scripts/ensure-pulumi.sh builds (or finds) pulumi and puts the pinned build in
// $BALLAST_CACHE/pulumi-v<version>/bin; scripts/ensure-docker.sh starts (or finds) a Docker
// engine and makes the local base image. These helpers only look: they never build or start.
//
// Prerequisites: outside CI a test may skip with `describe.skipIf(tool.skip)`; under CI
// (process.env.CI set) `skip` is always false and `assertTool` throws the reason, so a missing
// tool fails the run instead of hiding it.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";

/** The repository root (this file is test/helpers/toolchain.ts). */
export const repoRoot: string = resolve(__dirname, "..", "..");

/** The repository's node_modules, for symlinking into throwaway Pulumi programs. */
export const repoNodeModules: string = join(repoRoot, "node_modules");

export function inCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== "" && ci !== "0" && ci.toLowerCase() !== "false";
}

export function ballastCache(): string {
  return process.env.BALLAST_CACHE || join(homedir(), ".cache", "ballast");
}

/**
 * The @pulumi/pulumi version pinned in package.json's devDependencies (the CLI is built at the same
 * version; users' programs bring their own copy through the peer dependency's range).
 */
export function pinnedPulumiVersion(): string {
  const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
    devDependencies?: Record<string, string>;
  };
  const spec = pkg.devDependencies?.["@pulumi/pulumi"];
  if (!spec) throw new Error("package.json has no @pulumi/pulumi devDependency");
  return spec.replace(/^[\^~=v]+/, "");
}

/** Where scripts/ensure-pulumi.sh keeps the pinned build. */
export function pulumiCacheBinDir(): string {
  return join(ballastCache(), `pulumi-v${pinnedPulumiVersion()}`, "bin");
}

export const NODE_VERSION: string = process.env.BALLAST_NODE_VERSION || "24.21.0";
/** The local data-plane base image made by scripts/ensure-docker.sh. */
export const BASE_IMAGE: string = `ballast-base-node:${NODE_VERSION}`;

export function which(name: string, path = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The directory holding `pulumi`: the pinned build in the cache when it is complete (CLI +
 * language host + dynamic-provider plugin), otherwise the `pulumi` found on PATH.
 */
export function findPulumiDir(): string | undefined {
  const cached = pulumiCacheBinDir();
  const needed = ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"];
  if (needed.every((b) => existsSync(join(cached, b)))) return cached;
  const onPath = which("pulumi");
  return onPath ? dirname(onPath) : undefined;
}

/** The PATH tests give to child processes: pulumi's dir, then this Node's dir, then PATH. */
export function toolPath(): string {
  const dirs = [findPulumiDir(), dirname(process.execPath), process.env.PATH ?? ""];
  return dirs.filter((d): d is string => !!d).join(delimiter);
}

export interface PulumiEnvOptions {
  /** PULUMI_HOME; defaults to <stateDir>/.pulumi-home so tests never touch ~/.pulumi. */
  pulumiHome?: string;
  passphrase?: string;
  extra?: Record<string, string>;
}

/**
 * The environment for running `pulumi` against a local file backend in `stateDir`:
 * no cloud login, no update check, no plugin downloads, a fixed passphrase, and PATH with the
 * pinned pulumi bin dir and this process's Node (>= 22, needed by the language host) first.
 */
export function pulumiEnv(stateDir: string, options: PulumiEnvOptions = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_STACK"]) delete env[k];
  return {
    ...env,
    PATH: toolPath(),
    PULUMI_BACKEND_URL: `file://${stateDir}`,
    PULUMI_HOME: options.pulumiHome ?? join(stateDir, ".pulumi-home"),
    PULUMI_CONFIG_PASSPHRASE: options.passphrase ?? "ballast-test-passphrase",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_SKIP_CONFIRMATIONS: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    NO_COLOR: "1",
    ...options.extra,
  };
}

export interface ToolCheck {
  name: "pulumi" | "docker";
  ok: boolean;
  /** True only outside CI when the tool is missing: the caller may skip. */
  skip: boolean;
  /** Why the tool is not usable (empty when ok). */
  reason: string;
  /** pulumi: the bin dir; docker: the client binary. */
  path?: string;
}

function checkPulumi(): Omit<ToolCheck, "skip"> {
  const dir = findPulumiDir();
  if (!dir) {
    return {
      name: "pulumi",
      ok: false,
      reason:
        `pulumi not found (neither in ${pulumiCacheBinDir()} nor on PATH); ` +
        "run scripts/ensure-pulumi.sh first (builds the pinned CLI once, ~minutes)",
    };
  }
  const r = spawnSync(join(dir, "pulumi"), ["version"], { encoding: "utf8", timeout: 30_000, env: pulumiEnv("/nonexistent") });
  if (r.status !== 0) {
    return { name: "pulumi", ok: false, path: dir, reason: `${dir}/pulumi version failed: ${r.error ?? r.stderr}` };
  }
  return { name: "pulumi", ok: true, path: dir, reason: "" };
}

function checkDocker(): Omit<ToolCheck, "skip"> {
  const docker = which("docker");
  if (!docker) {
    return { name: "docker", ok: false, reason: "docker client not found on PATH; run scripts/ensure-docker.sh first" };
  }
  const info = spawnSync(docker, ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 20_000 });
  if (info.status !== 0) {
    return {
      name: "docker",
      ok: false,
      path: docker,
      reason: `no Docker engine answers (docker info: ${(info.stderr || String(info.error)).trim()}); run scripts/ensure-docker.sh first`,
    };
  }
  const image = spawnSync(docker, ["image", "inspect", BASE_IMAGE], { encoding: "utf8", timeout: 20_000 });
  if (image.status !== 0) {
    return {
      name: "docker",
      ok: false,
      path: docker,
      reason: `the local base image ${BASE_IMAGE} is missing; run scripts/ensure-docker.sh first`,
    };
  }
  return { name: "docker", ok: true, path: docker, reason: "" };
}

const checks = new Map<string, Omit<ToolCheck, "skip">>();

/**
 * Looks for a tool (once per process). Under CI a missing tool is never skippable: call
 * `assertTool` in a beforeAll so the suite fails with `reason`.
 */
export function requireTool(name: "pulumi" | "docker"): ToolCheck {
  let c = checks.get(name);
  if (!c) {
    c = name === "pulumi" ? checkPulumi() : checkDocker();
    checks.set(name, c);
  }
  return { ...c, skip: !c.ok && !inCI() };
}

export function assertTool(tool: ToolCheck): void {
  if (!tool.ok) {
    throw new Error(`${tool.name} is required${inCI() ? " in CI" : ""}: ${tool.reason}`);
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Hard limit; the process (group) gets SIGTERM, then SIGKILL 5 s later. */
  timeoutMs: number;
  input?: string;
}

/** Runs a command to completion within a time bound; never rejects for a non-zero exit. */
export function runCommand(cmd: string, args: string[], options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true, // own process group, so a timeout also ends grandchildren (plugins, node)
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        /* already gone */
      }
    };
    let hardKill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup("SIGTERM");
      hardKill = setTimeout(() => killGroup("SIGKILL"), 5_000);
    }, options.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      if (hardKill) clearTimeout(hardKill);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (hardKill) clearTimeout(hardKill);
      const result = { code, signal, stdout, stderr, ms: Date.now() - started };
      if (timedOut) {
        reject(
          new Error(
            `${cmd} ${args.join(" ")} timed out after ${options.timeoutMs} ms\n--- stdout\n${stdout}\n--- stderr\n${stderr}`,
          ),
        );
      } else {
        resolvePromise(result);
      }
    });
    child.stdin.end(options.input ?? "");
  });
}

/** Formats a result for assertion messages. */
export function describeRun(what: string, r: RunResult): string {
  return `${what}: exit ${r.code}${r.signal ? ` (signal ${r.signal})` : ""} after ${r.ms} ms\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** Runs the found `pulumi` with `pulumiEnv(stateDir)` in `cwd`. */
export function runPulumi(
  args: string[],
  opts: { cwd: string; stateDir: string; timeoutMs?: number; env?: PulumiEnvOptions },
): Promise<RunResult> {
  const dir = findPulumiDir();
  if (!dir) return Promise.reject(new Error(requireTool("pulumi").reason));
  return runCommand(join(dir, "pulumi"), args, {
    cwd: opts.cwd,
    env: pulumiEnv(opts.stateDir, opts.env),
    timeoutMs: opts.timeoutMs ?? 180_000,
  });
}

/** Runs `docker` with a time bound. */
export function runDocker(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return runCommand("docker", args, { timeoutMs });
}
