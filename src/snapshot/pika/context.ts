/** What every family's scanner shares: options, the record counter, the element chunker. */
import { printableBytes } from '../../core/command.js';
import type { DataType } from '../../core/record.js';
import { KeyChunker, RecordBatcher, RecordSequence } from './chunker.js';

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
    chunkBytes: number,
    readonly reports: ScanReports,
  ) {
    if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be a finite number, got ${nowMs}`);
    this.seqs = new RecordSequence(db);
    this.chunker = new KeyChunker(this.seqs, chunkSize, chunkBytes);
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

  /** Checks the element count of a finished key against its meta. */
  checkCount(key: Buffer, type: DataType, metaCount: number, emitted: number): void {
    if (metaCount !== emitted) this.reports.onWarning?.(key, type, `meta count ${metaCount}, ${emitted} live elements found`);
  }
}
