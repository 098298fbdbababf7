/**
 * A first-in first-out queue on a ring that only grows. Queues that see an entry per key of a
 * snapshot load (the sink's positions awaiting acknowledgement, the load's watermark) keep their
 * entries in a few of these side by side, one per field, instead of an object per entry in an
 * array that is sliced now and then: in steady state that allocates nothing, and a taken entry is
 * let go of at once.
 */
export class Fifo<T> {
  private buf: Array<T | undefined> = new Array<T | undefined>(16);
  private head = 0;
  private n = 0;

  get length(): number {
    return this.n;
  }

  push(x: T): void {
    if (this.n === this.buf.length) this.grow();
    this.buf[(this.head + this.n) & (this.buf.length - 1)] = x;
    this.n++;
  }

  /** The oldest entry; the queue must not be empty. */
  first(): T {
    return this.buf[this.head] as T;
  }

  /** The newest entry; the queue must not be empty. */
  last(): T {
    return this.buf[(this.head + this.n - 1) & (this.buf.length - 1)] as T;
  }

  /** Replaces the newest entry; the queue must not be empty. */
  setLast(x: T): void {
    this.buf[(this.head + this.n - 1) & (this.buf.length - 1)] = x;
  }

  /** Takes the oldest entry out; the queue must not be empty. */
  shift(): T {
    const x = this.buf[this.head] as T;
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.n--;
    return x;
  }

  /** Twice the room, the entries in order from index 0 (the capacity stays a power of two for the masks). */
  private grow(): void {
    const old = this.buf;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.n; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.buf = next;
    this.head = 0;
  }
}
