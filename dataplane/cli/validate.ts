import { KIND_ORDER, readDocument } from "./config-document";
import { runCommand, out, err } from "./command";
import { checkDocument, formatIssues } from "./document-issues";
import { EXIT } from "./exit-codes";

/** `ballast validate FILE`: checks a configuration document offline; every issue with its path, exit 1. */
export function validateCommand(args: string[]): Promise<number> {
  return runCommand(
    {
      name: "validate",
      usage: "FILE",
      help: `Checks a configuration document (what \`ballast export\` writes: JSON, or the same as YAML;
FILE '-' reads stdin) offline, with the data plane's schemas and integrity rules: every field of every
object, references between objects, protocols, listener ports, one health check per service, TLS
certificates. Lists every issue with its path and exits 1 if there is any; exits 0 if it is valid.`,
      options: {},
      positionals: 1,
    },
    args,
    async (_values, [file]) => {
      const { issues, valid } = checkDocument(readDocument(file!));
      if (issues.length > 0) {
        err(`${file}: ${issues.length} issue${issues.length === 1 ? "" : "s"}\n${formatIssues(issues)}`);
        return EXIT.failed;
      }
      out(`${file}: valid (${KIND_ORDER.map((k) => `${valid[k].length} ${k}`).join(", ")})`);
      return EXIT.ok;
    },
  );
}
