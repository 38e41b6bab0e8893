import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError, EXIT, UsageError } from "./exit-codes";

/**
 * What every `ballast` subcommand shares: strict flag parsing (an unknown flag is a usage error,
 * exit 2), `--help` and `--version`, and the mapping of thrown errors to exit codes. A subcommand
 * is `(args) => Promise<number>`, so the dispatcher's table can hold any of them.
 */

export type Command = (args: string[]) => Promise<number>;

export type Options = NonNullable<ParseArgsConfig["options"]>;

export interface CommandSpec<O extends Options> {
  /** e.g. `validate`. */
  name: string;
  /** The usage line after `ballast <name>`, e.g. `FILE [--format json|yaml]`. */
  usage: string;
  /** What it does, and its options, for `--help`. */
  help: string;
  options: O;
  /** How many positional arguments it takes: exactly this many. */
  positionals: number;
}

/** Writes to stdout (data plane code has no console; this is the command's output). */
export function out(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

export function err(text: string): void {
  process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** The package's version (package.json two levels above `dist/dataplane/cli`, or the source tree). */
export function packageVersion(): string {
  for (const up of ["../../..", "../.."]) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(__dirname, up, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "ballast" && pkg.version) return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return "unknown";
}

const COMMON: Options = { help: { type: "boolean", short: "h" }, version: { type: "boolean", short: "V" } };

/**
 * Parses `args` for `spec`, answers `--help`/`--version`, and runs `body` with the values and
 * positionals. Usage mistakes exit 2, `CliError`s with their code, anything else 1.
 */
export async function runCommand<O extends Options>(
  spec: CommandSpec<O>,
  args: string[],
  body: (values: Record<string, string | boolean | undefined>, positionals: string[]) => Promise<number>,
): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({ args, options: { ...COMMON, ...spec.options }, allowPositionals: true, strict: true });
    } catch (e) {
      throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
    }
    const values = parsed.values as Record<string, string | boolean | undefined>;
    if (values.help) {
      out(`Usage: ballast ${spec.name} ${spec.usage}\n\n${spec.help.trim()}\n\n  -h, --help     this help\n  -V, --version  the version`);
      return EXIT.ok;
    }
    if (values.version) {
      out(`ballast ${packageVersion()}`);
      return EXIT.ok;
    }
    if (parsed.positionals.length !== spec.positionals) {
      const wanted = spec.positionals === 0 ? "no arguments" : `${spec.positionals} argument${spec.positionals > 1 ? "s" : ""}`;
      throw new UsageError(`ballast ${spec.name} takes ${wanted}, got ${parsed.positionals.length}`);
    }
    return await body(values, parsed.positionals);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`ballast ${spec.name}: ${e.message}\nUsage: ballast ${spec.name} ${spec.usage} (see ballast ${spec.name} --help)`);
      return EXIT.usage;
    }
    if (e instanceof CliError) {
      err(`ballast ${spec.name}: ${e.message}`);
      return e.exitCode;
    }
    err(`ballast ${spec.name}: ${(e as Error)?.message ?? String(e)}`);
    return EXIT.failed;
  }
}
