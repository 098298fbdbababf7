/**
 * Read-only RocksDB database: MANIFEST + WAL replay + block-based SSTs, scanned per column family
 * in the CF's comparator order with the newest visible version of each key.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptionError } from '../../core/errors.js';
import { BYTEWISE_NAME, bytewiseComparator, makeInternalKeyCompare, makeUserKeyCompare, type Comparator } from './internal-key.js';
import { nonOverlappingRuns } from './l0-runs.js';
import { loadManifest, type ColumnFamilyState, type FileMeta, type ManifestState } from './manifest.js';
import { scanVisible, type EntryMaker, type KeyValue, type LargeMaker } from './merge.js';
import { RangeDeletions, type Tombstone } from './range-del.js';
import { LevelIterator, MemIterator, type InternalIterator, type LevelFile } from './sources.js';
import { Table } from './sst/table.js';
import { replayWals, type MemTable, type WalFile } from './wal.js';

export type { Comparator } from './internal-key.js';
export type { EntryMaker, KeyValue, LargeMaker, RawEntry } from './merge.js';
export { largeKeyValue, rawEntry } from './merge.js';

export interface OpenOptions {
  /** User comparators by RocksDB name; leveldb.BytewiseComparator is built in. */
  comparators?: Comparator[];
  /** Verify block checksums (default true). */
  verifyChecksums?: boolean;
  /** Cap on bytes replayed from WALs (default 1 GiB). */
  memtableLimit?: number;
}

export interface ScanOptions {
  from?: Buffer;
}

export interface RocksDb {
  readonly dir: string;
  columnFamilies(): string[];
  comparatorName(cf: string): string;
  /** Live user key/value pairs in the CF's comparator order (newest visible version per key). */
  scan(cf: string, opts?: ScanOptions): AsyncIterable<KeyValue>;
  /** As `scan`, in arrays of pairs (faster: no per-pair await), or of what `make` makes of each. */
  scanBatches<T = KeyValue>(cf: string, opts?: ScanOptions & { batchSize?: number; make?: EntryMaker<T>; makeLarge?: LargeMaker<T> }): AsyncIterable<T[]>;
  get(cf: string, key: Buffer): Promise<Buffer | null>;
  /** Bytes of live SST + WAL files (for progress ETA). */
  sizeBytes(): number;
  /** Bytes of the live SSTs of one CF. */
  sizeBytesOf(cf: string): number;
  /** Entries of a CF (every version and tombstone) from SST properties and the WAL: an upper bound for progress estimates. */
  estimateEntries(cf: string): Promise<number>;
  /** Live SST files of a CF by level (for diagnostics and tests). */
  liveFiles(cf: string): Array<{ level: number; number: number; size: number; path: string }>;
  readonly manifest: ManifestState;
  close(): Promise<void>;
}

export async function openRocksDb(dir: string, opts: OpenOptions = {}): Promise<RocksDb> {
  const manifest = await loadManifest(dir);
  await checkFilesOnDisk(dir, manifest);
  const { memtables, wals } = await replayWals(dir, manifest, opts.memtableLimit);
  return new Db(dir, manifest, memtables, wals, opts);
}

function sstPath(dir: string, n: number): string {
  return join(dir, `${String(n).padStart(6, '0')}.sst`);
}

/**
 * Every SST the MANIFEST lists is there with its recorded size (RocksDB checks this at open too),
 * and no SST is newer than the MANIFEST's next file number: such a file was written after the last
 * edit we have, so the MANIFEST was cut at a record boundary and the live set is not all there.
 */
async function checkFilesOnDisk(dir: string, manifest: ManifestState): Promise<void> {
  const at = (f: FileMeta) => `${manifest.manifestPath}@${f.addedAt ?? 0}`;
  for (const cf of manifest.columnFamilies.values()) {
    for (const f of cf.files.values()) {
      const path = sstPath(dir, f.number);
      let size: number;
      try {
        size = (await stat(path)).size;
      } catch (e) {
        throw new CorruptionError(`live SST ${path} of column family '${cf.name}' cannot be read: ${(e as Error).message}`, at(f));
      }
      if (size !== f.size) {
        throw new CorruptionError(
          `SST is ${size} bytes but the MANIFEST records ${f.size} (truncated or replaced file)`,
          `${path}@${Math.min(size, f.size)}`,
        );
      }
    }
  }
  for (const name of await readdir(dir)) {
    const m = /^(\d+)\.sst$/.exec(name);
    if (m && Number(m[1]) >= manifest.nextFileNumber) {
      throw new CorruptionError(
        `${name} is newer than the MANIFEST's next file number ${manifest.nextFileNumber}: the MANIFEST is incomplete`,
        `${manifest.manifestPath}@${(await stat(manifest.manifestPath)).size}`,
      );
    }
  }
}

class Db implements RocksDb {
  private readonly comparators = new Map<string, Comparator>([[BYTEWISE_NAME, bytewiseComparator]]);
  private readonly sortedMem = new Set<number>();
  private readonly verify: boolean;
  private closed = false;

  constructor(
    readonly dir: string,
    readonly manifest: ManifestState,
    private readonly memtables: Map<number, MemTable>,
    private readonly wals: WalFile[],
    opts: OpenOptions,
  ) {
    for (const c of opts.comparators ?? []) this.comparators.set(c.name, c);
    this.verify = opts.verifyChecksums ?? true;
  }

  private cfs(): ColumnFamilyState[] {
    return [...this.manifest.columnFamilies.values()].sort((a, b) => a.id - b.id);
  }

  columnFamilies(): string[] {
    return this.cfs().map((c) => c.name);
  }

  private cf(name: string): ColumnFamilyState {
    const cf = this.cfs().find((c) => c.name === name);
    if (!cf) throw new Error(`${this.dir}: no column family '${name}' (have: ${this.columnFamilies().join(', ')})`);
    return cf;
  }

  comparatorName(cf: string): string {
    return this.cf(cf).comparator || BYTEWISE_NAME;
  }

  private comparatorOf(cf: ColumnFamilyState): Comparator {
    const name = cf.comparator || BYTEWISE_NAME;
    const c = this.comparators.get(name);
    if (!c) {
      throw new Error(
        `${this.dir}: column family '${cf.name}' uses comparator '${name}', which is not known; ` +
          `pass it in openRocksDb(dir, { comparators: [...] })`,
      );
    }
    return c;
  }

  private memtable(cf: ColumnFamilyState, ucmp: Comparator): MemTable {
    const mem = this.memtables.get(cf.id)!;
    if (!this.sortedMem.has(cf.id)) {
      const icmp = makeInternalKeyCompare(ucmp);
      mem.entries.sort((a, b) => icmp(a.ikey, a.ikey.length, b.ikey, b.ikey.length));
      this.sortedMem.add(cf.id);
    }
    return mem;
  }

  private levels(cf: ColumnFamilyState, ucmp: Comparator): { l0: FileMeta[][]; deeper: FileMeta[][] } {
    const l0: FileMeta[] = [];
    const deeper: FileMeta[][] = [];
    for (const f of cf.files.values()) {
      if (f.level === 0) l0.push(f);
      else (deeper[f.level] ??= []).push(f);
    }
    const icmp = makeInternalKeyCompare(ucmp);
    for (const lvl of deeper) lvl?.sort((a, b) => icmp(a.smallest, a.smallest.length, b.smallest, b.smallest.length));
    return { l0: nonOverlappingRuns(l0, makeUserKeyCompare(ucmp)), deeper: deeper.filter((l) => l && l.length > 0) };
  }

  private levelFile(f: FileMeta): LevelFile {
    return { path: sstPath(this.dir, f.number), size: f.size, largest: f.largest };
  }

  private readonly rangeDelCache = new Map<number, Promise<RangeDeletions>>();

  /** Tombstones of a CF, gathered once (they are few; Pika never writes any). */
  private rangeDeletions(cf: ColumnFamilyState, ucmp: Comparator, mem: MemTable): Promise<RangeDeletions> {
    let p = this.rangeDelCache.get(cf.id);
    if (!p) {
      p = this.collectRangeDeletions(cf, ucmp, mem);
      this.rangeDelCache.set(cf.id, p);
      p.catch(() => this.rangeDelCache.delete(cf.id));
    }
    return p;
  }

  private async collectRangeDeletions(cf: ColumnFamilyState, ucmp: Comparator, mem: MemTable): Promise<RangeDeletions> {
    const all: Tombstone[] = [...mem.rangeDeletions];
    for (const f of cf.files.values()) {
      const t = await Table.open(sstPath(this.dir, f.number), f.size, this.verify);
      try {
        this.checkTable(t, cf);
        all.push(...(await t.rangeTombstones()));
      } finally {
        await t.close();
      }
    }
    return new RangeDeletions(all, ucmp);
  }

  private checkTable(t: Table, cf: ColumnFamilyState): void {
    const want = cf.comparator || BYTEWISE_NAME;
    const got = t.props.comparator;
    if (got !== undefined && got !== want) {
      throw new CorruptionError(
        `SST comparator '${got}' differs from the MANIFEST's '${want}' for column family '${cf.name}'`,
        `${t.path}@0`,
      );
    }
    const name = t.props.columnFamilyName;
    if (name !== undefined && name !== '' && name !== cf.name) {
      throw new CorruptionError(`SST belongs to column family '${name}', the MANIFEST lists it under '${cf.name}'`, `${t.path}@0`);
    }
  }

  private sources(cf: ColumnFamilyState, ucmp: Comparator, mem: MemTable): InternalIterator[] {
    const { l0, deeper } = this.levels(cf, ucmp);
    const out: InternalIterator[] = [];
    if (mem.entries.length > 0) out.push(new MemIterator(mem.entries, ucmp));
    for (const run of l0) out.push(new LevelIterator(run.map((f) => this.levelFile(f)), ucmp, this.verify));
    for (const lvl of deeper) out.push(new LevelIterator(lvl.map((f) => this.levelFile(f)), ucmp, this.verify));
    return out;
  }

  scanBatches<T = KeyValue>(cfName: string, opts: ScanOptions & { batchSize?: number; make?: EntryMaker<T>; makeLarge?: LargeMaker<T> } = {}): AsyncIterable<T[]> {
    if (this.closed) throw new Error(`${this.dir}: database is closed`);
    const cf = this.cf(cfName);
    const ucmp = this.comparatorOf(cf);
    return { [Symbol.asyncIterator]: () => this.runScan(cf, ucmp, opts) };
  }

  private async *runScan<T>(
    cf: ColumnFamilyState,
    ucmp: Comparator,
    opts: ScanOptions & { batchSize?: number; make?: EntryMaker<T>; makeLarge?: LargeMaker<T> },
  ): AsyncGenerator<T[]> {
    const mem = this.memtable(cf, ucmp);
    const dels = await this.rangeDeletions(cf, ucmp, mem);
    yield* scanVisible(this.sources(cf, ucmp, mem), ucmp, dels, {
      from: opts.from,
      batchSize: opts.batchSize,
      where: `${this.dir} [${cf.name}]`,
      make: opts.make,
      makeLarge: opts.makeLarge,
    });
  }

  scan(cfName: string, opts: ScanOptions = {}): AsyncIterable<KeyValue> {
    const batches = this.scanBatches(cfName, opts);
    return {
      async *[Symbol.asyncIterator]() {
        for await (const b of batches) yield* b;
      },
    };
  }

  async get(cfName: string, key: Buffer): Promise<Buffer | null> {
    const cf = this.cf(cfName);
    const ucmp = this.comparatorOf(cf);
    for await (const batch of this.scanBatches(cfName, { from: key, batchSize: 1 })) {
      const first = batch[0];
      if (first && ucmp.compare(first.key, key) === 0) return Buffer.from(first.value);
      return null;
    }
    return null;
  }

  sizeBytes(): number {
    let n = 0;
    for (const cf of this.manifest.columnFamilies.values()) for (const f of cf.files.values()) n += f.size;
    for (const w of this.wals) n += w.size;
    return n;
  }

  sizeBytesOf(cfName: string): number {
    let n = 0;
    for (const f of this.cf(cfName).files.values()) n += f.size;
    return n;
  }

  async estimateEntries(cfName: string): Promise<number> {
    const cf = this.cf(cfName);
    let n = this.memtables.get(cf.id)?.entries.length ?? 0;
    for (const f of cf.files.values()) {
      const t = await Table.open(sstPath(this.dir, f.number), f.size, this.verify);
      try {
        n += t.props.numEntries ?? 0;
      } finally {
        await t.close();
      }
    }
    return n;
  }

  liveFiles(cfName: string): Array<{ level: number; number: number; size: number; path: string }> {
    return [...this.cf(cfName).files.values()]
      .map((f) => ({ level: f.level, number: f.number, size: f.size, path: sstPath(this.dir, f.number) }))
      .sort((a, b) => a.level - b.level || a.number - b.number);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
