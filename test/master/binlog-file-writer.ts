import { closeSync, existsSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { BinlogPosition } from '../../src/core/binlog.js';
import { encodePaddingItem } from '../../src/replication/binlog-item.js';
import {
  BINLOG_BLOCK_SIZE,
  BINLOG_RECORD_HEADER_LEN,
  MANIFEST_NAME,
  RECORD_FIRST,
  RECORD_FULL,
  RECORD_LAST,
  RECORD_MIDDLE,
  RECORD_PADDING,
  binlogFileName,
  readManifest,
} from '../../src/replication/binlog-file.js';

export interface BinlogFileWriterOptions {
  /** Start a new file before an item once the current file is larger than this (Pika: `binlog-file-size`, 100 MiB). */
  readonly fileSize?: number;
  /** Write the B+ manifest (with a term after the logic id); A's has none. */
  readonly withTerm?: boolean;
  /** Unix seconds for record headers; defaults to the wall clock. */
  readonly clock?: () => number;
}

/**
 * Writes a binlog directory exactly as Pika's `Binlog::Put`/`Produce` frames it (see
 * src/replication/binlog-file.ts), for the test master. Opens an existing directory at its
 * manifest's producer position.
 */
export class BinlogFileWriter {
  private fd: number;
  private readonly manifestFd: number;
  private filenum: number;
  private offset: number;
  private logicId: bigint;
  private readonly fileSize: number;
  private readonly clock: () => number;

  constructor(
    readonly dir: string,
    private readonly opts: BinlogFileWriterOptions = {},
  ) {
    this.fileSize = opts.fileSize ?? 100 * 1024 * 1024;
    this.clock = opts.clock ?? (() => Math.floor(Date.now() / 1000));
    mkdirSync(dir, { recursive: true });
    const manifestPath = join(dir, MANIFEST_NAME);
    if (existsSync(manifestPath)) {
      const m = readManifest(dir);
      this.filenum = m.filenum;
      this.offset = m.offset;
      this.logicId = m.logicId;
      this.manifestFd = openSync(manifestPath, 'r+');
    } else {
      this.filenum = 0;
      this.offset = 0;
      this.logicId = 0n;
      this.manifestFd = openSync(manifestPath, 'w+');
      // Pika maps a 64 KiB manifest; only its head is meaningful.
      writeSync(this.manifestFd, Buffer.alloc(BINLOG_BLOCK_SIZE), 0, BINLOG_BLOCK_SIZE, 0);
    }
    this.fd = openSync(join(dir, binlogFileName(this.filenum)), existsSync(join(dir, binlogFileName(this.filenum))) ? 'r+' : 'w+');
    this.saveManifest();
  }

  /** Producer position: where the next item starts (and the end of the last one). */
  get position(): BinlogPosition {
    return { filenum: this.filenum, offset: this.offset };
  }

  /** The logic id stored in the manifest (items appended so far, counting from the opened state). */
  get lastLogicId(): bigint {
    return this.logicId;
  }

  /** Appends one binlog item; returns the positions before and after it. */
  append(item: Buffer): { start: BinlogPosition; end: BinlogPosition } {
    // Pika compares its logical file size (the write position), not the pre-sized length on disk.
    if (this.offset > this.fileSize) {
      closeSync(this.fd);
      this.filenum++;
      this.offset = 0;
      this.fd = openSync(join(this.dir, binlogFileName(this.filenum)), 'w+');
    }
    const start = this.position;
    let left = item.length;
    let p = 0;
    let begin = true;
    do {
      let blockOffset = this.offset % BINLOG_BLOCK_SIZE;
      const leftover = BINLOG_BLOCK_SIZE - blockOffset;
      if (leftover < BINLOG_RECORD_HEADER_LEN) {
        this.write(Buffer.alloc(leftover));
        blockOffset = 0;
      }
      const avail = BINLOG_BLOCK_SIZE - blockOffset - BINLOG_RECORD_HEADER_LEN;
      const n = Math.min(left, avail);
      const end = n === left;
      const type = begin && end ? RECORD_FULL : begin ? RECORD_FIRST : end ? RECORD_LAST : RECORD_MIDDLE;
      const header = Buffer.alloc(BINLOG_RECORD_HEADER_LEN);
      header.writeUIntLE(n, 0, 3);
      header.writeUInt32LE(this.clock() >>> 0, 3);
      header[7] = type;
      this.write(header);
      this.write(item.subarray(p, p + n));
      p += n;
      left -= n;
      begin = false;
    } while (left > 0);
    this.logicId++;
    this.saveManifest();
    return { start, end: this.position };
  }

  /**
   * What a Pika replica does after a full sync (`SetProducerStatus` + `AppendPadding`): start file
   * `filenum` afresh, filled from 0 up to `offset` so its positions line up with the master's.
   * A (3.2.x) fills with full records holding `padding` items; B–D with type-6 records of `*`.
   * Records are at most one block; a remainder under 8 bytes is not written, as in Pika, and the
   * producer position is then the padded length.
   */
  padAfterFullSync(filenum: number, offset: number, style: 'padding-items' | 'bad-records'): BinlogPosition {
    closeSync(this.fd);
    this.filenum = filenum;
    this.offset = 0;
    this.fd = openSync(join(this.dir, binlogFileName(filenum)), 'w+');
    let left = offset < 4 ? 0 : offset;
    while (left >= BINLOG_RECORD_HEADER_LEN) {
      const size = Math.min(left, BINLOG_BLOCK_SIZE);
      const n = size - BINLOG_RECORD_HEADER_LEN;
      const payload = style === 'padding-items' ? encodePaddingItem(n) : Buffer.alloc(n, '*');
      const header = Buffer.alloc(BINLOG_RECORD_HEADER_LEN);
      header.writeUIntLE(n, 0, 3);
      header.writeUInt32LE(this.clock() >>> 0, 3);
      header[7] = style === 'padding-items' ? RECORD_FULL : RECORD_PADDING;
      this.write(header);
      this.write(payload);
      left -= size;
    }
    this.saveManifest();
    return this.position;
  }

  close(): void {
    closeSync(this.fd);
    closeSync(this.manifestFd);
  }

  private write(b: Buffer): void {
    if (b.length > 0) writeSync(this.fd, b, 0, b.length, this.offset);
    this.offset += b.length;
  }

  private saveManifest(): void {
    const m = Buffer.alloc(this.opts.withTerm === true ? 24 : 20);
    m.writeUInt32LE(this.filenum, 0);
    m.writeBigUInt64LE(BigInt(this.offset), 4);
    m.writeBigUInt64LE(this.logicId, 12);
    if (this.opts.withTerm === true) m.writeUInt32LE(0, 20);
    writeSync(this.manifestFd, m, 0, m.length, 0);
  }
}
