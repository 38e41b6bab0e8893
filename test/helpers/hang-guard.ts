/**
 * Waits for `promise`, failing with `what` if it has not settled after `capMs`. The cap only turns
 * a hang into a clear failure: it sits far above the expected time, so a loaded machine never
 * reaches it, and a test never uses it to judge speed (that is `npm run bench`'s job).
 */
export async function hangGuard<T>(promise: Promise<T>, what: string, capMs = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${capMs} ms (hang guard)`)), capMs);
  });
  try {
    return await Promise.race([promise, cap]);
  } finally {
    clearTimeout(timer);
  }
}
