/**
 * Internal keys (storage.md §3.1): `user_key ‖ fixed64(seq << 8 | type)`, ordered by the user
 * comparator ascending, then by the packed trailer descending (newer first).
 */

export const enum ValueType {
  Deletion = 0x0,
  Value = 0x1,
  Merge = 0x2,
  SingleDeletion = 0x7,
  RangeDeletion = 0xf,
  BlobIndex = 0x11,
  DeletionWithTimestamp = 0x14,
  WideColumnEntity = 0x16,
}

/** The seek marker type RocksDB puts in separators (0x11 with seq 2^56−1; never data). */
export const TYPE_FOR_SEEK = 0x11;

export interface Comparator {
  readonly name: string;
  compare(a: Buffer, b: Buffer): number;
}

export const BYTEWISE_NAME = 'leveldb.BytewiseComparator';

export const bytewiseComparator: Comparator = {
  name: BYTEWISE_NAME,
  compare: (a, b) => Buffer.compare(a, b),
};

/** Builds an internal key; `seq` must be < 2^53 (or 2^56−1 via `maxSeq`). */
export function makeInternalKey(userKey: Buffer, seq: number, type: number, maxSeq = false): Buffer {
  const out = Buffer.allocUnsafe(userKey.length + 8);
  userKey.copy(out, 0);
  const o = userKey.length;
  if (maxSeq) {
    out.writeUInt32LE(((0xffffff << 8) | type) >>> 0, o);
    out.writeUInt32LE(0xffffffff, o + 4);
  } else {
    // trailer = seq * 256 + type, written as two 32-bit halves
    const lo = (seq % 0x1000000) * 256 + type;
    const hi = Math.floor(seq / 0x1000000);
    out.writeUInt32LE(lo >>> 0, o);
    out.writeUInt32LE(hi >>> 0, o + 4);
  }
  return out;
}

/** Sequence number of the internal key in buf[0, len) (exact below 2^53). */
export function seqOf(buf: Buffer, len: number): number {
  const lo = buf.readUInt32LE(len - 8);
  const hi = buf.readUInt32LE(len - 4);
  return hi * 0x1000000 + (lo >>> 8);
}

export function typeOf(buf: Buffer, len: number): number {
  return buf[len - 8];
}

/** Compares the trailers of two internal keys: negative when `a` sorts first (i.e. is newer). */
export function compareTrailers(a: Buffer, alen: number, b: Buffer, blen: number): number {
  const ah = a.readUInt32LE(alen - 4);
  const bh = b.readUInt32LE(blen - 4);
  if (ah !== bh) return ah > bh ? -1 : 1;
  const al = a.readUInt32LE(alen - 8);
  const bl = b.readUInt32LE(blen - 8);
  if (al !== bl) return al > bl ? -1 : 1;
  return 0;
}

/** Bytewise a[0, alen) vs b[0, blen); a JS loop beats the native call for short keys. */
export function bytewiseRange(a: Buffer, alen: number, b: Buffer, blen: number): number {
  return bytewiseSpans(a, 0, alen, b, 0, blen);
}

/**
 * Bytewise a[as, ae) vs b[bs, be), native beyond 40 bytes: Buffer#compare with offsets checks them
 * and crosses into C++ per call, which the 3.x joins (one call per data entry) spent more on than
 * on the comparing.
 */
export function bytewiseSpans(a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): number {
  const alen = ae - as;
  const blen = be - bs;
  const n = alen < blen ? alen : blen;
  if (n > 40) return a.compare(b, bs, be, as, ae);
  for (let i = 0; i < n; i++) {
    const d = a[as + i] - b[bs + i];
    if (d !== 0) return d;
  }
  return alen - blen;
}

/**
 * Compares user keys a[0, alen) and b[0, blen) with `cmp`; bytewise without allocating.
 */
export function makeUserKeyCompare(cmp: Comparator): (a: Buffer, alen: number, b: Buffer, blen: number) => number {
  if (cmp.name === BYTEWISE_NAME && cmp === bytewiseComparator) return bytewiseRange;
  return (a, alen, b, blen) => cmp.compare(a.subarray(0, alen), b.subarray(0, blen));
}

/** Full internal-key comparison for keys a[0, alen) and b[0, blen). */
export function makeInternalKeyCompare(cmp: Comparator): (a: Buffer, alen: number, b: Buffer, blen: number) => number {
  const ucmp = makeUserKeyCompare(cmp);
  return (a, alen, b, blen) => {
    const r = ucmp(a, alen - 8, b, blen - 8);
    if (r !== 0) return r;
    return compareTrailers(a, alen, b, blen);
  };
}
