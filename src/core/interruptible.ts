/**
 * Waits that something long-lived can cut short (a stop signal, a connection's end, a flush), for
 * loops that wait many times. Not `Promise.race([wait, longLived])`: a race adds a reaction to each
 * promise it is given, and a pending one keeps every reaction until it settles, ~300 bytes per
 * turn for as long as the loop runs. A load waited on its stop signal ~3,700 times per million
 * keys, so its memory grew with the snapshot.
 */

/**
 * `p`, or a rejection with `reason()` as soon as `signal` aborts. Once `p` settles nothing of the
 * wait stays attached to the signal.
 */
export function unlessAborted<T>(p: Promise<T>, signal: AbortSignal, reason: () => unknown): Promise<T> {
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

/** The sleeps of a poll loop, each ended early once `end` settles: one reaction on `end` in all. */
export class PollSleep {
  private cut: (() => void) | null = null;
  private settled = false;

  constructor(end: Promise<unknown>) {
    const stop = (): void => {
      this.settled = true;
      this.cut?.();
    };
    end.then(stop, stop);
  }

  /** Whether `end` has settled, fulfilled or rejected. */
  get ended(): boolean {
    return this.settled;
  }

  /** Resolves after `ms`, or at once when `end` has settled (or settles meanwhile). */
  sleep(ms: number): Promise<void> {
    if (this.settled) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.cut = null;
        resolve();
      }, ms);
      this.cut = () => {
        clearTimeout(timer);
        this.cut = null;
        resolve();
      };
    });
  }
}
