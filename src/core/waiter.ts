/**
 * A promise with its settle functions, for a queue's producers to wait on (room in a sender,
 * a barrier's release). Its rejection is pre-handled: a sink that stops rejects every waiter,
 * whether or not anyone is waiting on it.
 */
export interface Waiter {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

export function newWaiter(): Waiter {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}
