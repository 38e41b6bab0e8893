/**
 * llhttp's method names by method number, for both parser bindings. Node's `_http_common.methods`
 * stops before the newest methods llhttp parses (Node 24's list has no QUERY, number 46), so a
 * number the binding has no name for is looked up in llhttp's own constants (as undici ships
 * them), loaded on the first such request only. PRI is not a request method here: llhttp parses it
 * only as HTTP/2's preface, which an HTTP/1 listener refuses.
 */

let llhttpTable: string[] | undefined;

/** llhttp's request method names by number, from its constants (PRI excluded). */
export function llhttpMethodNames(): string[] {
  if (llhttpTable) return llhttpTable;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { METHODS, METHODS_HTTP } = require("undici/lib/llhttp/constants.js") as { METHODS: Record<string, number>; METHODS_HTTP: number[] };
  const table: string[] = [];
  for (const [name, n] of Object.entries(METHODS)) if (METHODS_HTTP.includes(n) && name !== "PRI") table[n] = name;
  return (llhttpTable = table);
}

/** The name of llhttp's method `n`: from the binding's table, else from llhttp's; undefined when neither has one. */
export function methodName(binding: readonly string[], n: number | undefined): string | undefined {
  if (n === undefined) return undefined;
  return binding[n] ?? llhttpMethodNames()[n];
}
