/** An Error carrying a `code` the proxy matches on (its answer and whether it retries). */
export function coded(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}
