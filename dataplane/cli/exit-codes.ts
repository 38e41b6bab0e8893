/**
 * The `ballast` command's exit codes (docs/operators.md). Scripts and alerts rely on them, so they
 * never change meaning:
 *
 * | code | meaning |
 * |---|---|
 * | 0 | done |
 * | 1 | the input is invalid, or the data plane refused or failed a change |
 * | 2 | usage: an unknown subcommand or flag, a missing or extra argument |
 * | 3 | the admin API is unreachable, or refused the token |
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

/** Thrown for a usage mistake: the command prints the message and a pointer to `--help`, exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Thrown for any other failure with its exit code; the message is printed as it is. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
