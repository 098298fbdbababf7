import { comparePositions, type SourcePosition } from '../core/position.js';

interface PositionMark {
  readonly pos: SourcePosition;
  lastGseq: number;
}

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
  private marks: PositionMark[] = [];
  private marksHead = 0;
  private appliedPos: SourcePosition | null = null;
  private waiters: Waiter[] = [];

  /** Commands numbered so far: the next command's number. */
  get submitted(): number {
    return this.nextGseq;
  }

  /** The submission number of a new command at `pos`. */
  next(pos: SourcePosition): number {
    const gseq = this.nextGseq++;
    const last = this.marks.length > this.marksHead ? this.marks[this.marks.length - 1] : null;
    if (last !== null && (last.pos === pos || comparePositions(last.pos, pos) === 0)) last.lastGseq = gseq;
    else this.marks.push({ pos, lastGseq: gseq });
    return gseq;
  }

  get applied(): SourcePosition | null {
    return this.appliedPos;
  }

  /** Every command numbered below `firstUnacked` is acknowledged: moves the position, wakes flushes. */
  advance(firstUnacked: number): void {
    const marks = this.marks;
    let h = this.marksHead;
    while (h < marks.length && marks[h].lastGseq < firstUnacked) {
      this.appliedPos = marks[h].pos;
      h++;
    }
    if (h > 1024 && h * 2 > marks.length) {
      this.marks = marks.slice(h);
      h = 0;
    }
    this.marksHead = h;
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
