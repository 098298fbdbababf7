/**
 * One block-based SST: footer → metaindex → properties → index (binary search or two-level
 * partitioned) → data blocks, read one block at a time (storage.md §3.6).
 */
import { CorruptionError } from '../../../core/errors.js';
import { Cursor, loadHashers, needsHashers } from '../coding.js';
import type { Comparator } from '../internal-key.js';
import { readBlock, SstFile } from './block-fetch.js';
import { BlockIter, readNamedEntries, type KeyVsTarget } from './block.js';
import { LARGE_BLOCK_BYTES, mayBeLargeBlock, readLargeDataBlock, type LargeDataBlock } from './large-block.js';
import type { LargeValue } from '../large-value.js';
import { decodeFooter, decodeHandle, FOOTER_SIZE, type BlockHandle, type Footer } from './format.js';

export const enum IndexType {
  BinarySearch = 0,
  HashSearch = 1,
  TwoLevel = 2,
  BinarySearchWithFirstKey = 3,
}

export interface TableProperties {
  readonly comparator?: string;
  readonly columnFamilyName?: string;
  readonly columnFamilyId?: number;
  readonly compression?: string;
  readonly numEntries?: number;
  readonly numDataBlocks?: number;
  readonly numRangeDeletions?: number;
  readonly indexType: number;
  readonly indexKeyIsUserKey: boolean;
  readonly indexValueIsDeltaEncoded: boolean;
  readonly globalSeqno?: number;
  /** Every property, raw. */
  readonly raw: Map<string, Buffer>;
}

export interface RangeTombstone {
  /** Internal key of the start (type 0xF). */
  readonly ikey: Buffer;
  /** End user key (exclusive). */
  readonly value: Buffer;
}

function varintProp(raw: Map<string, Buffer>, name: string, file: string): number | undefined {
  const v = raw.get(name);
  if (v === undefined) return undefined;
  return Cursor.of(v, `${file} property ${name}`).varint64();
}

export class Table {
  private constructor(
    readonly file: SstFile,
    readonly footer: Footer,
    readonly props: TableProperties,
    readonly indexHandle: BlockHandle,
    readonly rangeDelHandle: BlockHandle | undefined,
    readonly metaindex: Map<string, Buffer>,
  ) {}

  get path(): string {
    return this.file.path;
  }

  /** Opens an SST; `expectedSize` (from the MANIFEST) is checked when given. */
  static async open(path: string, expectedSize?: number, verify = true): Promise<Table> {
    const file = await SstFile.open(path);
    try {
      if (expectedSize !== undefined && file.size !== expectedSize) {
        throw new CorruptionError(
          `SST is ${file.size} bytes but the MANIFEST records ${expectedSize} (truncated or replaced file)`,
          `${path}@${Math.min(file.size, expectedSize)}`,
        );
      }
      const tailLen = Math.min(FOOTER_SIZE, file.size);
      const tail = Buffer.from(await file.read(file.size - tailLen, tailLen, false));
      // The footer leads with the checksum type; xxHash types need the WASM hashers, already for a v6 footer's own checksum.
      if (tail.length >= FOOTER_SIZE && needsHashers(tail[tail.length - FOOTER_SIZE])) await loadHashers();
      const footer = decodeFooter(tail, file.size, path);
      const metaBlock = await readBlock(file, footer, footer.metaindexHandle, 'metaindex', false, verify);
      const metaindex = readNamedEntries(metaBlock, path, footer.metaindexHandle.offset);
      const handleOf = (name: string): BlockHandle | undefined => {
        const v = metaindex.get(name);
        return v === undefined ? undefined : decodeHandle(Cursor.of(v, `${path} metaindex ${name}`));
      };
      const propsHandle = handleOf('rocksdb.properties') ?? handleOf('rocksdb.stats');
      let raw = new Map<string, Buffer>();
      if (propsHandle) {
        const pb = await readBlock(file, footer, propsHandle, 'properties', false, verify);
        raw = readNamedEntries(pb, path, propsHandle.offset);
      }
      const idxType = raw.get('rocksdb.block.based.table.index.type');
      const props: TableProperties = {
        comparator: raw.get('rocksdb.comparator')?.toString('latin1'),
        columnFamilyName: raw.get('rocksdb.column.family.name')?.toString('utf8'),
        columnFamilyId: varintProp(raw, 'rocksdb.column.family.id', path),
        compression: raw.get('rocksdb.compression')?.toString('latin1'),
        numEntries: varintProp(raw, 'rocksdb.num.entries', path),
        numDataBlocks: varintProp(raw, 'rocksdb.num.data.blocks', path),
        numRangeDeletions: varintProp(raw, 'rocksdb.num.range-deletions', path),
        indexType: idxType && idxType.length >= 4 ? idxType.readUInt32LE(0) : IndexType.BinarySearch,
        indexKeyIsUserKey: (varintProp(raw, 'rocksdb.index.key.is.user.key', path) ?? 0) !== 0,
        indexValueIsDeltaEncoded: (varintProp(raw, 'rocksdb.index.value.is.delta.encoded', path) ?? 0) !== 0,
        globalSeqno: varintProp(raw, 'rocksdb.external_sst_file.global_seqno', path),
        raw,
      };
      const where = `${path}@${footer.metaindexHandle.offset}`;
      if (props.indexType === IndexType.HashSearch) {
        throw new CorruptionError('hash-search index (prefix extractor) is not supported', where);
      }
      if (props.indexType > IndexType.BinarySearchWithFirstKey) {
        throw new CorruptionError(`unknown index type ${props.indexType}`, where);
      }
      if (props.globalSeqno) {
        throw new CorruptionError('ingested SST with a global sequence number is not supported', where);
      }
      if (metaindex.has('rocksdb.compression_dict')) {
        throw new CorruptionError('SSTs with a compression dictionary are not supported', where);
      }
      const indexHandle = footer.indexHandle ?? handleOf('rocksdb.index');
      if (!indexHandle) throw new CorruptionError('no index block (format_version 6 metaindex lacks rocksdb.index)', where);
      return new Table(file, footer, props, indexHandle, handleOf('rocksdb.range_del'), metaindex);
    } catch (e) {
      await file.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  /** The range tombstones of the file (its `rocksdb.range_del` block). */
  async rangeTombstones(): Promise<RangeTombstone[]> {
    if (!this.rangeDelHandle) return [];
    const block = await readBlock(this.file, this.footer, this.rangeDelHandle, 'range-del', false);
    const it = new BlockIter(block, this.path, this.rangeDelHandle.offset);
    const out: RangeTombstone[] = [];
    while (it.next()) {
      if (it.klen < 8) it.fail('range tombstone key shorter than 8 bytes', it.valStart);
      out.push({ ikey: it.keyCopy(), value: Buffer.from(it.value()) });
    }
    return out;
  }

  async readIndexBlock(h: BlockHandle, sequential: boolean): Promise<BlockIter> {
    const block = await readBlock(this.file, this.footer, h, 'index', sequential);
    return new BlockIter(block, this.path, h.offset, {
      handles: true,
      deltaHandles: this.props.indexValueIsDeltaEncoded,
      firstKey: this.props.indexType === IndexType.BinarySearchWithFirstKey,
    });
  }

  /** The data block at `h`; `large` when its big value was left in the file (sst/large-block.ts). */
  async readDataBlock(h: BlockHandle, sequential: boolean): Promise<{ iter: BlockIter; large: LargeDataBlock | null }> {
    let block: Buffer | null = null;
    // A small compressed block is read as any other unless its header declares a big one (an
    // extremely repetitive value: LZ4 packs up to 255 bytes into one, zlib ~1000, zstd a 128 KiB
    // run into 4).
    if (!mayBeLargeBlock(h)) block = await readBlock(this.file, this.footer, h, 'data', sequential, true, LARGE_BLOCK_BYTES);
    if (block === null) {
      const large = await readLargeDataBlock(this.file, this.footer, h);
      if (large !== null) return { iter: new BlockIter(large.block, this.path, h.offset), large };
      block = await readBlock(this.file, this.footer, h, 'data', sequential);
    }
    return { iter: new BlockIter(block, this.path, h.offset), large: null };
  }

  iterator(ucmp: Comparator): TableIterator {
    return new TableIterator(this, ucmp);
  }
}

/** Walks a table's entries in order: `key[0, klen)` is the current internal key. */
export class TableIterator {
  key: Buffer = EMPTY;
  klen = 0;
  valid = false;
  data: BlockIter | null = null;
  /** The current data block's big value, when it was left in the file. */
  private large: LargeDataBlock | null = null;
  private top: BlockIter | null = null;
  private part: BlockIter | null = null;
  private readonly twoLevel: boolean;
  /** A scan from the first entry: it must meet every data block and entry the properties count. */
  private whole = false;
  private blocksSeen = 0;
  private entriesSeen = 0;

  constructor(
    readonly table: Table,
    private readonly ucmp: Comparator,
  ) {
    this.twoLevel = table.props.indexType === IndexType.TwoLevel;
  }

  value(): Buffer {
    return this.data!.value();
  }

  /** The current value is bytes [valueStart, valueEnd) of valueBuf, the data block. */
  get valueBuf(): Buffer {
    return this.data!.block;
  }

  get valueStart(): number {
    return this.data!.valStart;
  }

  get valueEnd(): number {
    return this.data!.valEnd;
  }

  /** The current value when it is too big to have been read (valueBuf then holds it empty). */
  get largeValue(): LargeValue | null {
    const l = this.large;
    return l !== null && this.data!.valStart === l.valStart ? l.value : null;
  }

  /** Positions on the first entry (when `from` is given: the first with user key ≥ from). */
  async seek(from?: Buffer): Promise<void> {
    this.top = await this.table.readIndexBlock(this.table.indexHandle, false);
    this.part = null;
    this.data = null;
    this.large = null;
    this.whole = from === undefined;
    this.blocksSeen = 0;
    this.entriesSeen = 0;
    if (from === undefined) {
      await this.advanceBlock();
      return;
    }
    const ucmp = this.ucmp;
    const indexUserKeys = this.table.props.indexKeyIsUserKey;
    // separator ≥ seek key ⇔ its user part ≥ from (the seek key has the largest trailer)
    const vsIndex: KeyVsTarget = (buf, start, len) =>
      ucmp.compare(buf.subarray(start, start + (indexUserKeys ? len : len - 8)), from);
    const vsData: KeyVsTarget = (buf, start, len) => ucmp.compare(buf.subarray(start, start + len - 8), from);
    if (!this.top.seek(vsIndex)) return this.finish();
    if (this.twoLevel) {
      this.part = await this.table.readIndexBlock(handleOf(this.top), false);
      if (!this.part.seek(vsIndex)) {
        // separators said otherwise; fall back to walking on
        this.part = null;
        await this.advanceBlock();
        return;
      }
    }
    const cur = this.twoLevel ? this.part! : this.top;
    this.setData(await this.table.readDataBlock(handleOf(cur), true));
    if (this.data!.seek(vsData)) {
      this.sync();
      return;
    }
    await this.advanceBlock();
  }

  /** Advances; returns a promise only when a new block must be read. */
  next(): Promise<void> | undefined {
    const d = this.data;
    if (d !== null && d.next()) {
      this.key = d.key;
      this.klen = d.klen;
      this.entriesSeen++;
      return undefined;
    }
    return this.advanceBlock();
  }

  private sync(): void {
    const d = this.data!;
    this.key = d.key;
    this.klen = d.klen;
    this.valid = true;
  }

  /**
   * The end of the index is the end of the data only if the index lists every block: an index cut
   * short (with a valid checksum) would otherwise end the file early without a word. Entries are
   * compared only without range deletions, which RocksDB versions count differently.
   */
  private checkWhole(): void {
    const p = this.table.props;
    const where = `${this.table.path}@${this.table.indexHandle.offset}`;
    if (p.numDataBlocks !== undefined && this.blocksSeen !== p.numDataBlocks) {
      throw new CorruptionError(`index lists ${this.blocksSeen} data blocks, the properties record ${p.numDataBlocks}`, where);
    }
    if (p.numEntries !== undefined && !p.numRangeDeletions && this.entriesSeen !== p.numEntries) {
      throw new CorruptionError(`data blocks hold ${this.entriesSeen} entries, the properties record ${p.numEntries}`, where);
    }
  }

  private setData(d: { iter: BlockIter; large: LargeDataBlock | null }): BlockIter {
    this.data = d.iter;
    this.large = d.large;
    return d.iter;
  }

  private finish(): void {
    this.valid = false;
    this.data = null;
    this.large = null;
    this.top = null;
    this.part = null;
  }

  private async nextHandle(): Promise<BlockHandle | null> {
    const top = this.top;
    if (!top) return null;
    if (!this.twoLevel) return top.next() ? handleOf(top) : null;
    for (;;) {
      if (this.part && this.part.next()) return handleOf(this.part);
      if (!top.next()) return null;
      this.part = await this.table.readIndexBlock(handleOf(top), true);
    }
  }

  private async advanceBlock(): Promise<void> {
    for (;;) {
      const h = await this.nextHandle();
      if (!h) {
        if (this.whole) this.checkWhole();
        return this.finish();
      }
      const d = this.setData(await this.table.readDataBlock(h, true));
      this.blocksSeen++;
      if (d.next()) {
        this.entriesSeen++;
        this.sync();
        return;
      }
    }
  }
}

function handleOf(it: BlockIter): BlockHandle {
  return { offset: it.handleOffset, size: it.handleSize };
}

const EMPTY = Buffer.alloc(0);
