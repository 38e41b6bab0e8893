/**
 * Keeps an expected failure to one message in `pulumi up`.
 *
 * Pulumi's dynamic provider host answers a failed `check`, `diff`, `read` or `delete` by printing
 * `${error}: ${error.stack}` to its stderr, which the engine shows under the stack resource, and
 * then sends the error, which the engine shows again against the resource: the message three times
 * and a JavaScript stack trace. For a `ProviderError` (a failure the provider expected and explained:
 * a guard, an unreachable balancer, a refused token, a conflict) the engine's own report is the
 * whole story, so exactly that stderr line is dropped; every other line, and every unexpected
 * error, still reaches stderr.
 */

const expected = new Set<string>();
let installed = false;

/** Marks the error as explained: the host's stderr echo of it is dropped (once). */
export function explained<E extends Error>(err: E): E {
  install();
  expected.add(`${err}: ${err.stack}`);
  return err;
}

/** Wraps stderr's console in the provider host once; the implementation module loads only there and in tests. */
function install(): void {
  if (installed) return;
  installed = true;
  const write = console.error.bind(console);
  console.error = (...args: unknown[]) => {
    if (args.length === 1 && typeof args[0] === "string" && expected.delete(args[0])) return;
    write(...args);
  };
}
