/** What every family's scanner shares: options, the record counter, the element chunker. */
import { printableBytes } from '../../core/command.js';
import type { DataType, SnapshotRecord } from '../../core/record.js';
import { readLargeValue, type LargeValue } from '../rocks/large-value.js';
import { KeyChunker, RecordBatcher, RecordSequence, type Element } from './chunker.js';

/** Order of two `ms-seq` stream IDs. */
function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

export interface ScanReports {
  onTypeConflict?(key: Buffer, loser: DataType, winner: DataType): void;
  /** Emit the losing types of a name held in several types too, marked `shadowed` (else skipped). */
  readonly emitShadowed?: boolean;
  onSkipped?(key: Buffer, reason: string): void;
  /** Data that contradicts its meta (e.g. element count ≠ the meta's count); the key is still emitted. */
  onWarning?(key: Buffer, type: DataType, message: string): void;
}

export class ScanContext {
  readonly seqs: RecordSequence;
  readonly chunker: KeyChunker;
  /** Shared by the scanners: what they emit leaves in batches. */
  readonly batch = new RecordBatcher();

  constructor(
    readonly db: number,
    readonly nowMs: number,
    chunkSize: number,
    /** Payload per record of a big key (elements, or a piece of a big string). */
    readonly chunkBytes: number,
    readonly reports: ScanReports,
  ) {
    if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be a finite number, got ${nowMs}`);
    this.seqs = new RecordSequence(db);
    this.chunker = new KeyChunker(this.seqs, chunkSize, chunkBytes);
  }

  /**
   * A big string's records, in either family: its value, bytes [from, to) of `large`, read from
   * the file in pieces of `chunkBytes` as a big hash's fields are, `first` on the first piece and
   * `last` on the final one, each with a position of its own. Pushed into the batch; full batches
   * are yielded.
   */
  async *stringPieces(key: Buffer, expireAtMs: number | null, large: LargeValue, from: number, to: number, shadowed: boolean): AsyncGenerator<SnapshotRecord[]> {
    for (let at = from; at < to; at += this.chunkBytes) {
      const n = Math.min(this.chunkBytes, to - at);
      const piece: SnapshotRecord = {
        type: 'string',
        db: this.db,
        key,
        expireAtMs,
        first: at === from,
        last: at + n >= to,
        pos: { kind: 'snapshot', db: this.db, seq: this.seqs.next++ },
        value: await readLargeValue(large, at, n),
        piece: { offset: at - from, total: to - from },
        ...(shadowed ? { shadowed: true as const } : {}),
      };
      if (this.batch.push(piece, (at === from ? key.length : 0) + n)) yield this.batch.take();
    }
  }

  /**
   * One element of the key being chunked whose value is too big to hold (a hash field's value or a
   * list element of several MiB, left in its file by the scan): bytes [from, to) of `large`, read
   * in pieces of `chunkBytes`, each a record of its own through the chunker (addPiece), so the
   * key's records stay in order and its last one still says `last`. `item` makes the element of a
   * piece; `extraBytes`: what the element holds besides it (a field's name).
   */
  async *elementPieces(large: LargeValue, from: number, to: number, item: (piece: Buffer) => Element, extraBytes: number): AsyncGenerator<SnapshotRecord[]> {
    const ch = this.chunker;
    for (let at = from; at < to; at += this.chunkBytes) {
      const n = Math.min(this.chunkBytes, to - at);
      const out = ch.addPiece(item(await readLargeValue(large, at, n)), extraBytes + n, { offset: at - from, total: to - from });
      if (out !== null && this.batch.push(out, ch.lastBytes)) yield this.batch.take();
    }
  }

  /** Pika's rule at ms precision: expired iff an expiry exists and lies before `now`. */
  expired(expireAtMs: number | null): boolean {
    return expireAtMs !== null && expireAtMs < this.nowMs;
  }

  skipped(key: Buffer, reason: string): void {
    this.reports.onSkipped?.(key, reason);
  }

  /** Pika can store NaN scores (ZUNIONSTORE of inf and -inf); Redis rejects them, so say so. */
  checkScore(key: Buffer, member: Buffer, score: number): void {
    if (Number.isNaN(score)) this.reports.onWarning?.(key, 'zset', `member ${printableBytes(member)} has a NaN score, which Redis rejects`);
  }

  /**
   * A stream entry whose ID lies beyond its meta's last ID: Pika wrote a corrupt data key (the
   * real 3.5.5/4.0.1 builds of pika-bin do on every XADD). Copied as stored, which is what Pika's
   * own XRANGE answers, but the target then refuses the XSETID: said once per key, here first.
   */
  checkStreamId(key: Buffer, id: string, lastId: string): void {
    if (this.streamIdWarned === key || compareStreamIds(id, lastId) <= 0) return;
    this.streamIdWarned = key;
    this.reports.onWarning?.(key, 'stream', `entry ID ${id} lies beyond the meta's last ID ${lastId} (a corrupt stream ID written by Pika): copied as stored; the target will refuse XSETID`);
  }

  private streamIdWarned: Buffer | null = null;

  /** Checks the element count of a finished key against its meta. */
  checkCount(key: Buffer, type: DataType, metaCount: number, emitted: number): void {
    if (metaCount !== emitted) this.reports.onWarning?.(key, type, `meta count ${metaCount}, ${emitted} live elements found`);
  }
}
