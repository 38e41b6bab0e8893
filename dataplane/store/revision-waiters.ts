/**
 * `Ballast-Min-Revision`: a read waits until this replica has applied a revision. The store calls
 * every function in `wakers` after each apply; `waitUntil` registers one that re-tests `reached`
 * and settles false once `timeoutMs` passed.
 */
export function waitUntil(wakers: Set<() => void>, reached: () => boolean, timeoutMs: number): Promise<boolean> {
  if (reached()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const wake = () => {
      if (!reached()) return;
      finish(true);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      wakers.delete(wake);
      resolve(ok);
    };
    wakers.add(wake);
  });
}
