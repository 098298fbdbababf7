import { newWaiter, type Waiter } from '../core/waiter.js';

/**
 * An A/B snapshot while the master still pushes it: its type dirs become complete one after the
 * other (3.2.7: strings first, ~1 s before `info`), so a reader may start on a dir as soon as its
 * push has ended instead of waiting for `info`. The replica marks dirs ready from its rsync
 * daemon's log and abandons the arrival when the transfer fails; a reader waits with `ready`.
 */
export class SnapshotArrival {
  private readonly waiters = new Map<string, Waiter>();
  private readonly done = new Set<string>();
  private failure: Error | null = null;
  private readonly ctl = new AbortController();

  /** Aborted (with the cause) when the transfer is abandoned. */
  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  /** Resolves once type dir `name` is complete; rejects if the transfer is abandoned first. */
  ready(name: string): Promise<void> {
    if (this.done.has(name)) return Promise.resolve();
    if (this.failure !== null) return Promise.reject(this.failure);
    return this.waiter(name).promise;
  }

  isReady(name: string): boolean {
    return this.done.has(name);
  }

  markReady(name: string): void {
    if (this.failure !== null || this.done.has(name)) return;
    this.done.add(name);
    this.waiters.get(name)?.resolve();
    this.waiters.delete(name);
  }

  abandon(why: Error): void {
    if (this.failure !== null) return;
    this.failure = why;
    for (const w of this.waiters.values()) w.reject(why);
    this.waiters.clear();
    this.ctl.abort(why);
  }

  private waiter(name: string): Waiter {
    let w = this.waiters.get(name);
    if (w === undefined) {
      // Pre-handled: a waiter nobody awaits any more (its reader stopped) must not surface as unhandled.
      w = newWaiter();
      this.waiters.set(name, w);
    }
    return w;
  }
}
