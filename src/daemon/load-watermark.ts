import type { SourcePosition } from '../core/position.js';
import type { DataType } from '../core/record.js';
import type { ResumePoint } from '../snapshot/pika/snapshot.js';

/**
 * The low watermark of a snapshot load: the key to read again from after an interruption. Senders
 * apply in parallel, so "how far Redis got" is the sink's applied position (every command up to it
 * is applied, see SenderPool.appliedPosition), a record position; this turns it into the first
 * record of the key that holds it, which is where a read can seek to (ReadSnapshotOptions.from).
 * Commands above the watermark that some sender applied already are skipped on the resumed read by
 * the per-sender positions of the applied hash, so the watermark only needs to be low, not exact.
 *
 * Memory: one entry per key submitted and not yet below the watermark. The sink's bound on
 * unacknowledged commands keeps that small only if entries are dropped as the sink applies them:
 * the loader calls `at` once per batch for that; the checkpoint's once a second alone let ~300k
 * entries (each holding its key) pile up at a full sync's rate and doubled the daemon's live heap.
 */
export class LoadWatermark {
  private starts: ResumePoint[] = [];
  private head = 0;
  private mark: ResumePoint | null;

  /** `from`: where this read began (a resumed load), else null: from the beginning. */
  constructor(from: ResumePoint | null) {
    this.mark = from;
  }

  /** A key's first record is about to be submitted. */
  keyStart(type: DataType, key: Buffer, seq: number): void {
    this.starts.push({ type, key, seq });
  }

  /** The key to resume at given what the sink reports applied; null: from the beginning. */
  at(applied: SourcePosition | null): ResumePoint | null {
    if (applied === null || applied.kind !== 'snapshot') return this.mark;
    const s = this.starts;
    let h = this.head;
    // The last key that starts at or before the applied record holds the first unapplied command (or follows it).
    while (h < s.length && s[h].seq <= applied.seq) this.mark = s[h++];
    if (h > 1024 && h * 2 > s.length) {
      this.starts = s.slice(h);
      h = 0;
    }
    this.head = h;
    return this.mark;
  }
}
