import { Fifo } from '../core/fifo.js';
import { comparePositions, type SourcePosition } from '../core/position.js';

interface Waiter {
  readonly until: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

/**
 * Numbers the commands a sink accepts (pool-wide submission numbers) and turns "everything below
 * submission number u is acknowledged" into the one source position up to which the target holds
 * everything, and into resolved flushes. Positions must not decrease in submission order.
 */
export class AckTracker {
  private nextGseq = 0;
  /**
   * Each distinct position submitted and the submission number of its last command, oldest first,
   * as two queues side by side: no object per command of a snapshot load.
   */
  private readonly markPos = new Fifo<SourcePosition>();
  private readonly markLast = new Fifo<number>();
  private appliedPos: SourcePosition | null = null;
  private waiters: Waiter[] = [];

  /** Commands numbered so far: the next command's number. */
  get submitted(): number {
    return this.nextGseq;
  }

  /** The submission number of a new command at `pos`. */
  next(pos: SourcePosition): number {
    const gseq = this.nextGseq++;
    if (this.markPos.length > 0) {
      const last = this.markPos.last();
      if (last === pos || comparePositions(last, pos) === 0) {
        this.markLast.setLast(gseq);
        return gseq;
      }
    }
    this.markPos.push(pos);
    this.markLast.push(gseq);
    return gseq;
  }

  get applied(): SourcePosition | null {
    return this.appliedPos;
  }

  /** Every command numbered below `firstUnacked` is acknowledged: moves the position, wakes flushes. */
  advance(firstUnacked: number): void {
    const last = this.markLast;
    while (last.length > 0 && last.first() < firstUnacked) {
      last.shift();
      this.appliedPos = this.markPos.shift();
    }
    if (this.waiters.length > 0) {
      const still: Waiter[] = [];
      for (const w of this.waiters) {
        if (firstUnacked >= w.until) w.resolve();
        else still.push(w);
      }
      this.waiters = still;
    }
  }

  /** Resolves once every command numbered below `end` is acknowledged. */
  until(end: number, firstUnacked: number): Promise<void> {
    if (firstUnacked >= end) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ until: end, resolve, reject }));
  }

  rejectAll(err: Error): void {
    for (const w of this.waiters) w.reject(err);
    this.waiters = [];
  }
}
