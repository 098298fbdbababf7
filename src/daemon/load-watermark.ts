import { Fifo } from '../core/fifo.js';
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
 * Memory: one entry per key submitted and not yet below the watermark. loadSnapshot moves it after
 * every batch of records, so the sink's bound on unacknowledged commands keeps that small; moved
 * only at checkpoints (once a second), it held every key read in between.
 */
export class LoadWatermark {
  // Each key submitted and not yet below the watermark, oldest first, one queue per field: no
  // ResumePoint object per key (a load of small strings starts a million keys).
  private readonly types = new Fifo<DataType>();
  private readonly keys = new Fifo<Buffer>();
  private readonly seqs = new Fifo<number>();
  private mark: ResumePoint | null;

  /** `from`: where this read began (a resumed load), else null: from the beginning. */
  constructor(from: ResumePoint | null) {
    this.mark = from;
  }

  /** A key's first record is about to be submitted. */
  keyStart(type: DataType, key: Buffer, seq: number): void {
    this.types.push(type);
    this.keys.push(key);
    this.seqs.push(seq);
  }

  /** Keys held: submitted and not yet known applied. */
  get held(): number {
    return this.seqs.length;
  }

  /** The key to resume at given what the sink reports applied; null: from the beginning. */
  at(applied: SourcePosition | null): ResumePoint | null {
    if (applied === null || applied.kind !== 'snapshot') return this.mark;
    const seqs = this.seqs;
    // The last key that starts at or before the applied record holds the first unapplied command (or follows it).
    if (seqs.length === 0 || seqs.first() > applied.seq) return this.mark;
    let type: DataType;
    let key: Buffer;
    let seq: number;
    do {
      type = this.types.shift();
      key = this.keys.shift();
      seq = seqs.shift();
    } while (seqs.length > 0 && seqs.first() <= applied.seq);
    this.mark = { type, key, seq };
    return this.mark;
  }
}
