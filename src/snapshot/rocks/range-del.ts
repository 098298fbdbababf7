/**
 * Range tombstones (storage.md §3.6.6): `[start, end)` hides every entry with a smaller sequence
 * number. Tombstones are cut into non-overlapping fragments carrying the highest covering
 * sequence, so a lookup is one binary search.
 */
import { seqOf, type Comparator } from './internal-key.js';

export interface Tombstone {
  /** Internal key of the start (type 0xF). */
  readonly ikey: Buffer;
  /** Exclusive end user key. */
  readonly value: Buffer;
}

export class RangeDeletions {
  /** Fragment i spans [points[i], points[i+1]) with highest sequence maxSeq[i] (−1 = none). */
  private readonly points: Buffer[];
  private readonly maxSeq: number[];

  constructor(
    tombstones: readonly Tombstone[],
    private readonly ucmp: Comparator,
  ) {
    const ts = tombstones
      .map((t) => ({ start: t.ikey.subarray(0, t.ikey.length - 8), end: t.value, seq: seqOf(t.ikey, t.ikey.length) }))
      .filter((t) => ucmp.compare(t.start, t.end) < 0);
    const pts = ts.flatMap((t) => [t.start, t.end]).sort((a, b) => ucmp.compare(a, b));
    this.points = pts.filter((p, i) => i === 0 || ucmp.compare(pts[i - 1], p) !== 0);
    this.maxSeq = new Array<number>(Math.max(0, this.points.length - 1)).fill(-1);
    for (const t of ts) {
      for (let i = this.find(t.start); i < this.points.length - 1 && ucmp.compare(this.points[i], t.end) < 0; i++) {
        if (t.seq > this.maxSeq[i]) this.maxSeq[i] = t.seq;
      }
    }
  }

  get empty(): boolean {
    return this.points.length === 0;
  }

  /** Index of the last point ≤ key, or −1. */
  private find(key: Buffer): number {
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ucmp.compare(this.points[mid], key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** True when a tombstone newer than `seq` covers `userKey`. */
  covers(userKey: Buffer, seq: number): boolean {
    const i = this.find(userKey);
    return i >= 0 && i < this.maxSeq.length && this.maxSeq[i] > seq;
  }
}
