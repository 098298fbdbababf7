/**
 * K-way merge of internal iterators by internal-key order (user comparator, then sequence
 * descending) and resolution of the newest visible version per user key (storage.md §3.8.1).
 */
import { makeInternalKeyCompare, makeUserKeyCompare, seqOf, ValueType, type Comparator } from './internal-key.js';
import type { RangeDeletions } from './range-del.js';
import type { InternalIterator } from './sources.js';
import { readLargeValue, type LargeValue } from './large-value.js';

export interface KeyValue {
  key: Buffer;
  value: Buffer;
  /** Set (and `value` empty) when a LargeMaker left the value in its file. */
  large?: LargeValue;
}

/**
 * Makes a scan's entry of a live key (a fresh buffer) and its value, bytes [start, end) of
 * `block` (valid for as long as it is held). The default gives KeyValue; a reader that wants only
 * part of the value takes the span (rawEntry) and makes one view of it instead of two: on a
 * snapshot of small strings a view is a tenth of what a key costs to load.
 */
export type EntryMaker<T> = (key: Buffer, block: Buffer, start: number, end: number) => T;

export const keyValue: EntryMaker<KeyValue> = (key, block, start, end) => ({ key, value: block.subarray(start, end) });

/**
 * Makes a scan's entry of a live key whose value was left in its SST file (a LargeValue: a block of
 * its own of 4 MiB or more, uncompressed). A scan without one reads such a value whole for `make`.
 */
export type LargeMaker<T> = (key: Buffer, value: LargeValue) => T;

export interface RawEntry {
  readonly key: Buffer;
  readonly block: Buffer;
  readonly start: number;
  readonly end: number;
  /** Set (and the span empty) when largeRawEntry left the value in its file. */
  readonly large?: LargeValue;
}

export const rawEntry: EntryMaker<RawEntry> = (key, block, start, end) => ({ key, block, start, end });

const NO_BYTES = Buffer.alloc(0);

export const largeRawEntry: LargeMaker<RawEntry> = (key, large) => ({ key, block: NO_BYTES, start: 0, end: 0, large });

/** A KeyValue whose value stays in its file: nothing of it is read until its reader wants it. */
export const largeKeyValue: LargeMaker<KeyValue> = (key, large) => ({ key, value: NO_BYTES, large });

export class UnsupportedEntryError extends Error {
  override name = 'UnsupportedEntryError';
}

function typeName(t: number): string {
  switch (t) {
    case ValueType.Merge:
      return 'merge operand (Merge)';
    case ValueType.BlobIndex:
      return 'blob index (BlobDB)';
    case ValueType.DeletionWithTimestamp:
      return 'deletion with timestamp';
    case ValueType.WideColumnEntity:
      return 'wide-column entity';
    default:
      return `value type 0x${t.toString(16)}`;
  }
}

/** Value bytes after which a batch is yielded whatever its length: a batch holds its values' blocks. */
const BATCH_VALUE_BYTES = 1 << 20;

/**
 * Yields the live entries of the merged sources (`make`, default KeyValue) in batches of up to
 * `batchSize` entries and about 1 MiB of values (1024 values of 1 MiB held 1 GiB). Keys are fresh
 * buffers; values are views into the block they came from (valid for as long as they are held).
 * Closes every source when done or abandoned.
 */
export async function* scanVisible<T = KeyValue>(
  sources: InternalIterator[],
  ucmp: Comparator,
  rangeDels: RangeDeletions | null,
  opts: { from?: Buffer; batchSize?: number; where?: string; make?: EntryMaker<T>; makeLarge?: LargeMaker<T> } = {},
): AsyncGenerator<T[]> {
  const batchSize = opts.batchSize ?? 1024;
  const make = (opts.make ?? keyValue) as EntryMaker<T>;
  const icmp = makeInternalKeyCompare(ucmp);
  const ukeyCmp = makeUserKeyCompare(ucmp);
  const dels = rangeDels && !rangeDels.empty ? rangeDels : null;
  try {
    for (const s of sources) await s.seek(opts.from);
    const heap = sources.filter((s) => s.valid);
    const less = (a: InternalIterator, b: InternalIterator) => icmp(a.key, a.klen, b.key, b.klen) < 0;
    const siftDown = (i: number) => {
      const n = heap.length;
      const x = heap[i];
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(heap[r], heap[l]) ? r : l;
        if (!less(heap[c], x)) break;
        heap[i] = heap[c];
        i = c;
      }
      heap[i] = x;
    };
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(i);

    let last: Buffer | null = null;
    // Sized once and filled by index: pushing grew it by copies, a few times per batch.
    let batch = new Array<T>(batchSize);
    let n = 0;
    let bytes = 0;
    while (heap.length > 0) {
      const top = heap[0];
      const key = top.key;
      const ulen = top.klen - 8;
      if (last === null || ukeyCmp(key, ulen, last, last.length) !== 0) {
        // first (newest) entry of a new user key decides
        const ukey = Buffer.allocUnsafe(ulen);
        if (ulen < 64) for (let i = 0; i < ulen; i++) ukey[i] = key[i];
        else key.copy(ukey, 0, 0, ulen);
        last = ukey;
        const type = key[ulen];
        if (type === ValueType.Value) {
          if (dels === null || !dels.covers(ukey, seqOf(key, top.klen))) {
            const large = top.largeValue;
            if (large === null) {
              batch[n++] = make(ukey, top.valueBuf, top.valueStart, top.valueEnd);
              bytes += top.valueEnd - top.valueStart;
            } else if (opts.makeLarge !== undefined) {
              batch[n++] = opts.makeLarge(ukey, large);
            } else {
              const v = await readLargeValue(large, 0, large.length);
              batch[n++] = make(ukey, v, 0, v.length);
              bytes += v.length;
            }
            if (n >= batchSize || bytes >= BATCH_VALUE_BYTES) {
              batch.length = n;
              yield batch;
              batch = new Array<T>(batchSize);
              n = 0;
              bytes = 0;
            }
          }
        } else if (type !== ValueType.Deletion && type !== ValueType.SingleDeletion) {
          throw new UnsupportedEntryError(
            `${opts.where ?? 'scan'}: key ${ukey.toString('hex')} has a ${typeName(type)}, which this reader does not support`,
          );
        }
      }
      const p = top.next();
      if (p !== undefined) await p;
      if (!top.valid) {
        const lastSrc = heap.pop()!;
        if (heap.length > 0) {
          heap[0] = lastSrc;
          siftDown(0);
        }
      } else if (heap.length > 1) {
        siftDown(0);
      }
    }
    if (n > 0) {
      batch.length = n;
      yield batch;
    }
  } finally {
    for (const s of sources) await s.close();
  }
}
