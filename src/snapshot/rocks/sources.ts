/**
 * The sources a column-family scan merges (storage.md §3.8.1): the memtable rebuilt from WALs,
 * each L0 file, and each deeper level as one concatenation of its non-overlapping files (opened
 * one at a time).
 */
import type { Comparator } from './internal-key.js';
import type { LargeValue } from './large-value.js';
import { Table, type TableIterator } from './sst/table.js';
import type { MemEntry } from './wal.js';

/** A sorted stream of internal entries: `key[0, klen)` is the current internal key. */
export interface InternalIterator {
  key: Buffer;
  klen: number;
  valid: boolean;
  /**
   * The current value is bytes [valueStart, valueEnd) of valueBuf (a block, or a WAL record's
   * value): a consumer makes the one view it wants of it (scanVisible's EntryMaker).
   */
  readonly valueBuf: Buffer;
  readonly valueStart: number;
  readonly valueEnd: number;
  /** The current value when it was left in its SST file (too big to read whole); the range above is then empty. */
  readonly largeValue: LargeValue | null;
  /** Advances; returns a promise only when the step needs I/O. */
  next(): Promise<void> | undefined;
  /** Positions on the first entry, or the first with user key ≥ from. */
  seek(from?: Buffer): Promise<void>;
  close(): Promise<void>;
}

const EMPTY = Buffer.alloc(0);

export class MemIterator implements InternalIterator {
  key: Buffer = EMPTY;
  klen = 0;
  valid = false;
  private i = 0;

  /** `entries` must already be sorted by internal key. */
  constructor(
    private readonly entries: readonly MemEntry[],
    private readonly ucmp: Comparator,
  ) {}

  get valueBuf(): Buffer {
    return this.entries[this.i].value;
  }

  get valueStart(): number {
    return 0;
  }

  get valueEnd(): number {
    return this.entries[this.i].value.length;
  }

  get largeValue(): null {
    return null;
  }

  private sync(): void {
    this.valid = this.i < this.entries.length;
    if (this.valid) {
      this.key = this.entries[this.i].ikey;
      this.klen = this.key.length;
    }
  }

  next(): undefined {
    this.i++;
    this.sync();
    return undefined;
  }

  async seek(from?: Buffer): Promise<void> {
    let lo = 0;
    if (from !== undefined) {
      let hi = this.entries.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const k = this.entries[mid].ikey;
        if (this.ucmp.compare(k.subarray(0, k.length - 8), from) < 0) lo = mid + 1;
        else hi = mid;
      }
    }
    this.i = lo;
    this.sync();
  }

  async close(): Promise<void> {}
}

export interface LevelFile {
  readonly path: string;
  readonly size: number;
  /** Largest internal key (from the MANIFEST), used to skip files before a seek target. */
  readonly largest: Buffer;
}

/** Files of one level read back to back (or a single L0 file). */
export class LevelIterator implements InternalIterator {
  key: Buffer = EMPTY;
  klen = 0;
  valid = false;
  private idx = 0;
  private table: Table | null = null;
  private it: TableIterator | null = null;

  constructor(
    private readonly files: readonly LevelFile[],
    private readonly ucmp: Comparator,
    private readonly verify = true,
  ) {}

  get valueBuf(): Buffer {
    return this.it!.valueBuf;
  }

  get valueStart(): number {
    return this.it!.valueStart;
  }

  get valueEnd(): number {
    return this.it!.valueEnd;
  }

  get largeValue(): LargeValue | null {
    return this.it!.largeValue;
  }

  async seek(from?: Buffer): Promise<void> {
    await this.closeTable();
    this.idx = 0;
    if (from !== undefined) {
      while (this.idx < this.files.length) {
        const l = this.files[this.idx].largest;
        if (this.ucmp.compare(l.subarray(0, l.length - 8), from) >= 0) break;
        this.idx++;
      }
    }
    await this.openAt(from);
  }

  private async openAt(from: Buffer | undefined): Promise<void> {
    while (this.idx < this.files.length) {
      const f = this.files[this.idx];
      this.table = await Table.open(f.path, f.size, this.verify);
      this.it = this.table.iterator(this.ucmp);
      await this.it.seek(from);
      if (this.it.valid) {
        this.key = this.it.key;
        this.klen = this.it.klen;
        this.valid = true;
        return;
      }
      await this.closeTable();
      this.idx++;
    }
    this.valid = false;
  }

  next(): Promise<void> | undefined {
    const it = this.it!;
    const p = it.next();
    if (p === undefined) {
      this.key = it.key;
      this.klen = it.klen;
      return undefined;
    }
    return this.afterIo(p);
  }

  private async afterIo(p: Promise<void>): Promise<void> {
    await p;
    const it = this.it!;
    if (it.valid) {
      this.key = it.key;
      this.klen = it.klen;
      return;
    }
    await this.closeTable();
    this.idx++;
    await this.openAt(undefined);
  }

  private async closeTable(): Promise<void> {
    const t = this.table;
    this.table = null;
    this.it = null;
    if (t) await t.close();
  }

  async close(): Promise<void> {
    this.valid = false;
    await this.closeTable();
  }
}
