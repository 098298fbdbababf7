import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { BinlogPosition } from '../core/binlog.js';
import { CorruptionError } from '../core/errors.js';

/**
 * Pika's binlog directory on disk (replication.md §5.6; read in pika_binlog.cc and
 * pika_binlog_reader.cc of v3.2.7/v3.5.5, checked against the real 3.2.7 fixture):
 *
 * - `manifest`: LE `u32 filenum, u64 offset, u64 logic_id` (+ `u32 term` in B and later) — the
 *   producer position, i.e. where the written data ends.
 * - `write2file<N>`: 64 KiB blocks of physical records. Record header (8 bytes): 3-byte LE payload
 *   length, 4-byte LE Unix time, 1-byte type (1 full, 2 first, 3 middle, 4 last). A record never
 *   crosses a block. With fewer than 8 bytes left in a block the writer zero-fills them; with exactly
 *   8 left it writes an empty "first" record there. Past the written end a file may hold zeros (3.2.7
 *   pre-sizes its newest file): a zero type or zero length means "end of data".
 * - After a full sync a replica's file starts with padding up to the sync offset: type-6 records
 *   (B–D) are skipped here, A's `padding` items are returned like any item.
 */
export const BINLOG_BLOCK_SIZE = 65536;
export const BINLOG_RECORD_HEADER_LEN = 8;
export const RECORD_FULL = 1;
export const RECORD_FIRST = 2;
export const RECORD_MIDDLE = 3;
export const RECORD_LAST = 4;
/**
 * `kBadRecord`: B, C and D fill a replica's new binlog file up to the full-sync offset with records
 * of this type holding `*` bytes (no binlog item); A writes full records holding `padding` items.
 */
export const RECORD_PADDING = 6;
export const MANIFEST_NAME = 'manifest';

export function binlogFileName(filenum: number): string {
  return `write2file${filenum}`;
}

export interface BinlogManifest {
  /** Producer position: the end of the written data. */
  readonly filenum: number;
  readonly offset: number;
  readonly logicId: bigint;
  /** B and later store the consensus term after the logic id; A leaves those bytes zero. */
  readonly term: number;
}

export function readManifest(dir: string): BinlogManifest {
  const path = join(dir, MANIFEST_NAME);
  if (!existsSync(path)) throw new CorruptionError('binlog manifest missing', path);
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(24);
    const n = readSync(fd, b, 0, 24, 0);
    if (n < 20) throw new CorruptionError(`manifest has ${n} bytes, needs at least 20`, `${path} byte 0`);
    return {
      filenum: b.readUInt32LE(0),
      offset: Number(b.readBigUInt64LE(4)),
      logicId: b.readBigUInt64LE(12),
      term: n >= 24 ? b.readUInt32LE(20) : 0,
    };
  } finally {
    closeSync(fd);
  }
}

/** File numbers of the `write2file<N>` files present, ascending. */
export function listBinlogFiles(dir: string): number[] {
  const nums: number[] = [];
  for (const name of readdirSync(dir)) {
    const m = /^write2file(\d+)$/.exec(name);
    if (m) nums.push(Number(m[1]));
  }
  return nums.sort((a, b) => a - b);
}

/** A whole binlog item (the bytes Pika streams in BinlogSync) with the positions around it. */
export interface RawBinlogItem {
  readonly item: Buffer;
  /** Where reading started: the previous item's end (fill before a block boundary not included). */
  readonly start: BinlogPosition;
  /** File position after the item's last record: what the master sends as `binlog_offset`. */
  readonly end: BinlogPosition;
}

/** The position does not start an item in that file (or the file is gone). */
export class BinlogPositionError extends Error {
  override name = 'BinlogPositionError';
}

type ReadOutcome = { kind: 'item'; item: Buffer; end: number } | { kind: 'none'; partial: boolean };

/** Reads one binlog file by positioned reads; it may still be growing. */
class BinlogFile {
  private readonly fd: number;
  private readonly header = Buffer.alloc(BINLOG_RECORD_HEADER_LEN);

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
  }

  close(): void {
    closeSync(this.fd);
  }

  private size(): number {
    return fstatSync(this.fd).size;
  }

  private readHeader(pos: number): { len: number; type: number } | null {
    const n = readSync(this.fd, this.header, 0, BINLOG_RECORD_HEADER_LEN, pos);
    if (n < BINLOG_RECORD_HEADER_LEN) return null;
    return { len: this.header.readUIntLE(0, 3), type: this.header[7] };
  }

  /**
   * Reassembles the item that starts at `offset` (an item boundary). `none` when the written data
   * ends first; `partial` tells whether some of the item was already there.
   */
  readItem(offset: number): ReadOutcome {
    let pos = offset;
    const parts: Buffer[] = [];
    let inItem = false;
    for (;;) {
      const rem = BINLOG_BLOCK_SIZE - (pos % BINLOG_BLOCK_SIZE);
      if (rem <= BINLOG_RECORD_HEADER_LEN) {
        if (rem === BINLOG_RECORD_HEADER_LEN) {
          // The writer puts an empty "first" record in an 8-byte tail; the item goes on in the next block.
          const h = this.readHeader(pos);
          if (h === null || (h.type === 0 && h.len === 0)) return { kind: 'none', partial: inItem };
          if (h.type !== RECORD_FIRST || h.len !== 0 || inItem) {
            throw new CorruptionError(`expected an empty first record in the block's last 8 bytes, found type ${h.type} length ${h.len}`, `${this.path} byte ${pos}`);
          }
          inItem = true;
        } else if (this.size() < pos + rem) {
          return { kind: 'none', partial: inItem };
        }
        pos += rem;
        continue;
      }
      const h = this.readHeader(pos);
      if (h === null || h.type === 0 || h.len === 0) return { kind: 'none', partial: inItem };
      if (h.len > rem - BINLOG_RECORD_HEADER_LEN) {
        throw new CorruptionError(`record of ${h.len} bytes crosses the 64 KiB block boundary`, `${this.path} byte ${pos}`);
      }
      if (h.type === RECORD_PADDING && !inItem) {
        pos += BINLOG_RECORD_HEADER_LEN + h.len;
        continue;
      }
      if (h.type < RECORD_FULL || h.type > RECORD_LAST) throw new CorruptionError(`record type ${h.type}`, `${this.path} byte ${pos + 7}`);
      const wantsStart = h.type === RECORD_FULL || h.type === RECORD_FIRST;
      if (wantsStart === inItem) {
        const what = wantsStart ? 'starts a new item inside another' : 'continues an item that was never started';
        throw new CorruptionError(`record type ${h.type} ${what}`, `${this.path} byte ${pos}`);
      }
      const payload = Buffer.alloc(h.len);
      const got = readSync(this.fd, payload, 0, h.len, pos + BINLOG_RECORD_HEADER_LEN);
      if (got < h.len) return { kind: 'none', partial: true };
      parts.push(payload);
      pos += BINLOG_RECORD_HEADER_LEN + h.len;
      if (h.type === RECORD_FULL || h.type === RECORD_LAST) {
        return { kind: 'item', item: parts.length === 1 ? parts[0] : Buffer.concat(parts), end: pos };
      }
      inItem = true;
    }
  }

  /**
   * Whether `offset` is a place an item may start: 0, or a record boundary outside any item (after
   * a full, last or padding record, or a block start), walking the records of its block.
   */
  isBoundary(offset: number): boolean {
    if (offset === 0) return true;
    let pos = offset - (offset % BINLOG_BLOCK_SIZE);
    const first = this.readHeader(pos);
    // Records at a block start may finish an item begun in an earlier block.
    let inItem = first !== null && (first.type === RECORD_MIDDLE || first.type === RECORD_LAST);
    for (;;) {
      if (pos === offset) return !inItem;
      if (pos > offset) return false;
      const rem = BINLOG_BLOCK_SIZE - (pos % BINLOG_BLOCK_SIZE);
      if (rem <= BINLOG_RECORD_HEADER_LEN) {
        const h = rem === BINLOG_RECORD_HEADER_LEN ? this.readHeader(pos) : null;
        if (h !== null && h.type === RECORD_FIRST && h.len === 0) inItem = true;
        pos += rem;
        continue;
      }
      const h = this.readHeader(pos);
      if (h === null || h.type === 0 || h.len === 0 || h.len > rem - BINLOG_RECORD_HEADER_LEN) return false;
      if (h.type === RECORD_FULL || h.type === RECORD_PADDING || h.type === RECORD_FIRST) {
        if (inItem) return false;
        inItem = h.type === RECORD_FIRST;
      } else if (h.type === RECORD_MIDDLE || h.type === RECORD_LAST) {
        if (!inItem) return false;
        inItem = h.type === RECORD_MIDDLE;
      } else {
        return false;
      }
      pos += BINLOG_RECORD_HEADER_LEN + h.len;
    }
  }
}

/**
 * Iterates the items of a Pika binlog directory from a resume point, across files, like Pika's
 * `PikaBinlogReader`. `next()` returns null when no complete item follows yet; call it again after
 * the producer has written more (the reader can tail a live directory).
 */
export class BinlogDirReader {
  private file: BinlogFile | null = null;
  private cur: BinlogPosition;

  /** Throws `BinlogPositionError` when `from` is not 0 or an item boundary of an existing file. */
  constructor(
    readonly dir: string,
    from: BinlogPosition,
  ) {
    const path = join(dir, binlogFileName(from.filenum));
    if (!existsSync(path)) throw new BinlogPositionError(`${path} does not exist`);
    this.file = new BinlogFile(path);
    if (!this.file.isBoundary(from.offset)) {
      this.close();
      throw new BinlogPositionError(`${path}: offset ${from.offset} is not an item boundary`);
    }
    this.cur = { filenum: from.filenum, offset: from.offset };
  }

  /** Position after the last item returned (the next resume point). */
  get position(): BinlogPosition {
    return this.cur;
  }

  next(): RawBinlogItem | null {
    for (;;) {
      if (this.file === null) throw new Error('binlog reader is closed');
      const producer = readManifest(this.dir);
      if (producer.filenum === this.cur.filenum && producer.offset === this.cur.offset) return null;
      const r = this.file.readItem(this.cur.offset);
      if (r.kind === 'item') {
        const start = this.cur;
        this.cur = { filenum: this.cur.filenum, offset: r.end };
        return { item: r.item, start, end: this.cur };
      }
      if (producer.filenum <= this.cur.filenum) return null; // the producer is still writing this file
      // This file is finished: a partial item here can never complete.
      if (r.partial) throw new CorruptionError('file ends inside an item', `${this.file.path} byte ${this.cur.offset}`);
      const nextPath = join(this.dir, binlogFileName(this.cur.filenum + 1));
      if (!existsSync(nextPath)) throw new CorruptionError(`the manifest is at file ${producer.filenum} but ${nextPath} is missing`, this.dir);
      this.file.close();
      this.file = new BinlogFile(nextPath);
      this.cur = { filenum: this.cur.filenum + 1, offset: 0 };
    }
  }

  close(): void {
    this.file?.close();
    this.file = null;
  }
}

/** All complete items from `from` to the current end of the directory. */
export function* readBinlogItems(dir: string, from: BinlogPosition): Generator<RawBinlogItem> {
  const reader = new BinlogDirReader(dir, from);
  try {
    for (let it = reader.next(); it !== null; it = reader.next()) yield it;
  } finally {
    reader.close();
  }
}

/** Whether `(filenum, offset)` is a valid resume point in `dir` (replication.md §5.6). */
export function isResumePoint(dir: string, pos: BinlogPosition): boolean {
  try {
    new BinlogDirReader(dir, pos).close();
    return true;
  } catch (e) {
    if (e instanceof BinlogPositionError) return false;
    throw e;
  }
}
