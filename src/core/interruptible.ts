/**
 * Waits that an AbortSignal cuts short, for loops that wait many times on something long-lived
 * (a stop, a connection's end, a flush). Not `Promise.race([wait, longLived])`: a race adds a
 * reaction to each promise it is given, and a pending one keeps every reaction until it settles,
 * ~300 bytes per turn for as long as the loop runs. A load waited on its stop ~3,700 times per
 * million keys, so its memory grew with the snapshot. A long-lived promise is made a signal once
 * (`abortedWhenSettled`); each wait listens to the signal only while it waits.
 */

/**
 * `p`, or a rejection with `reason()` as soon as `signal` aborts. Once `p` settles nothing of the
 * wait stays attached to the signal.
 */
export function unlessAborted<T>(p: Promise<T>, signal: AbortSignal, reason: () => unknown = () => signal.reason): Promise<T> {
  if (signal.aborted) return Promise.reject(reason());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(reason());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Resolves after `ms`, or as soon as `signal` aborts (at once if it has). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/** A signal that aborts once `p` settles, fulfilled or rejected: one reaction on `p` in all. */
export function abortedWhenSettled(p: Promise<unknown>): AbortSignal {
  const ctl = new AbortController();
  const abort = (): void => ctl.abort();
  p.then(abort, abort);
  return ctl.signal;
}
