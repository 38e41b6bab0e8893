#!/usr/bin/env node
import { err, out, packageVersion, type Command } from "./command";
import { EXIT } from "./exit-codes";

/**
 * The `ballast` command (package.json `bin`): a table of subcommands, one file each in this
 * directory, loaded only when run (so `ballast validate` never loads the data plane's engine).
 * Exit codes: exit-codes.ts and docs/operators.md.
 */

interface Entry {
  summary: string;
  load: () => Command;
}

export const COMMANDS: Readonly<Record<string, Entry>> = {
  serve: { summary: "run the data plane (as node dist/dataplane/main.js)", load: () => require("./serve").serveCommand },
  validate: { summary: "check a configuration document offline", load: () => require("./validate").validateCommand },
  status: { summary: "the status page as a terminal table", load: () => require("./status").statusCommand },
  export: { summary: "write the whole configuration as a document to stdout", load: () => require("./export").exportCommand },
  import: { summary: "apply a configuration document through the admin API", load: () => require("./import").importCommand },
  "store-copy": { summary: "copy a file store into an empty etcd prefix, or etcd back into a state dir", load: () => require("./store-copy").storeCopyCommand },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const list = Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join("\n");
  return `Usage: ballast <command> [options]

Commands:
${list}

Every command takes --help and --version. Exit codes: 0 done, 1 invalid or failed,
2 usage, 3 admin API unreachable or token refused (docs/operators.md).`;
}

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? err : out)(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version" || name === "-V") {
    out(`ballast ${packageVersion()}`);
    return EXIT.ok;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    err(`ballast: unknown command '${name}'\n\n${usage()}`);
    return EXIT.usage;
  }
  return entry.load()(rest);
}

if (require.main === module) {
  run(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      err(`ballast: ${(e as Error)?.stack ?? String(e)}`);
      process.exitCode = EXIT.failed;
    },
  );
}
