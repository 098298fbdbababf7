/**
 * Pika's custom RocksDB comparators, by the exact names RocksDB stores in the MANIFEST, so the
 * reader can merge files of the list-data and zset-score column families in Pika's own order.
 * Behaviour follows Pika's C++ comparators, including their lenient handling of short keys
 * (index separators): bytes past the end of a key read as zero instead of as foreign memory.
 */

/** Structurally the `Comparator` of `../rocks/db.ts`; declared here so this file stands alone. */
export interface PikaComparator {
  readonly name: string;
  compare(a: Buffer, b: Buffer): number;
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** Bytewise compare of a[as..ae) with b[bs..be), memcmp then length. */
function bytewise(a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): number {
  return a.compare(b, bs, be, as, ae);
}

function u32At(buf: Buffer, off: number): number {
  return off + 4 <= buf.length ? buf.readUInt32LE(off) : readPadded(buf, off, 4);
}

/** Little-endian read of `n` bytes where missing bytes count as zero (short separator keys). */
function readPadded(buf: Buffer, off: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + (off + i < buf.length && off + i >= 0 ? buf[off + i] : 0);
  return v;
}

/** Unsigned u64 compare (LE) as high then low u32, no BigInt. */
function compareU64(a: Buffer, ao: number, b: Buffer, bo: number): number {
  const ah = u32At(a, ao + 4);
  const bh = u32At(b, bo + 4);
  if (ah !== bh) return ah < bh ? -1 : 1;
  const al = u32At(a, ao);
  const bl = u32At(b, bo);
  return al === bl ? 0 : al < bl ? -1 : 1;
}

function doubleAt(buf: Buffer, off: number): number {
  if (off + 8 <= buf.length) return buf.readDoubleLE(off);
  const tmp = Buffer.alloc(8);
  if (off < buf.length) buf.copy(tmp, 0, off, buf.length);
  return tmp.readDoubleLE(0);
}

/** Outcome of Pika's "does one key end here" step: 0 both end, ±1 one ends, null neither. */
function endRule(a: Buffer, ap: number, b: Buffer, bp: number): number | null {
  const aEnd = ap >= a.length;
  const bEnd = bp >= b.length;
  if (aEnd && bEnd) return 0;
  if (aEnd) return -1;
  if (bEnd) return 1;
  return null;
}

/** A–C lists `data_cf`: `len:u32 ‖ key ‖ version:i32 ‖ index:u64`; the length field is skipped. */
export const blackwidowListsDataKeyComparator: PikaComparator = {
  name: 'blackwidow.ListsDataKeyComparator',
  compare(a, b) {
    const aEnd = Math.min(a.length, 4 + u32At(a, 0));
    const bEnd = Math.min(b.length, 4 + u32At(b, 0));
    const c = bytewise(a, Math.min(4, a.length), aEnd, b, Math.min(4, b.length), bEnd);
    if (c !== 0) return sign(c);
    const e1 = endRule(a, aEnd, b, bEnd);
    if (e1 !== null) return e1;
    const va = readPadded(a, aEnd, 4) | 0;
    const vb = readPadded(b, bEnd, 4) | 0;
    if (va !== vb) return va < vb ? -1 : 1;
    const e2 = endRule(a, aEnd + 4, b, bEnd + 4);
    if (e2 !== null) return e2;
    return compareU64(a, aEnd + 4, b, bEnd + 4);
  },
};

/** A–C zsets `score_cf`: `len:u32 ‖ key ‖ version:i32 ‖ score:f64 ‖ member`. */
export const blackwidowZSetsScoreKeyComparator: PikaComparator = {
  name: 'blackwidow.ZSetsScoreKeyComparator',
  compare(a, b) {
    const ap = Math.min(a.length, 8 + u32At(a, 0));
    const bp = Math.min(b.length, 8 + u32At(b, 0));
    const c = bytewise(a, 0, ap, b, 0, bp);
    if (c !== 0) return sign(c);
    const sa = doubleAt(a, ap);
    const sb = doubleAt(b, bp);
    if (sa !== sb) return sa < sb ? -1 : 1;
    const e = endRule(a, ap + 8, b, bp + 8);
    if (e !== null) return e;
    return sign(bytewise(a, ap + 8, a.length, b, bp + 8, b.length));
  },
};

const PREFIX = 8;

/**
 * Offset just past the `00 00` delimiter of `E(key)` starting at `from`; Pika returns `from` itself
 * when no delimiter exists, and so do we (garbage keys then compare by their 8-byte prefix only).
 */
export function seekUserKeyDelim(buf: Buffer, from: number): number {
  let zeroAhead = false;
  for (let i = from; i < buf.length; i++) {
    const isZero = buf[i] === 0;
    if (isZero && zeroAhead) return i + 1;
    zeroAhead = isZero;
  }
  return from;
}

/** D `list_data_cf`: `00×8 ‖ E(key) ‖ version:u64 ‖ index:u64 ‖ 00×16`; the reserve tail is never compared. */
export const floydListsDataKeyComparator: PikaComparator = {
  name: 'floyd.ListsDataKeyComparator',
  compare(a, b) {
    const ap = seekUserKeyDelim(a, Math.min(PREFIX, a.length));
    const bp = seekUserKeyDelim(b, Math.min(PREFIX, b.length));
    const c = bytewise(a, 0, ap, b, 0, bp);
    if (c !== 0) return sign(c);
    const e1 = endRule(a, ap, b, bp);
    if (e1 !== null) return e1;
    const v = compareU64(a, ap, b, bp);
    if (v !== 0) return v;
    const e2 = endRule(a, ap + 8, b, bp + 8);
    if (e2 !== null) return e2;
    return compareU64(a, ap + 8, b, bp + 8);
  },
};

/** D `zset_score_cf`: `00×8 ‖ E(key) ‖ version:u64 ‖ score:f64 ‖ member ‖ 00×16`. */
export const floydZSetsScoreKeyComparator: PikaComparator = {
  name: 'floyd.ZSetsScoreKeyComparator',
  compare(a, b) {
    const as = Math.min(PREFIX, a.length);
    const bs = Math.min(PREFIX, b.length);
    const ap = seekUserKeyDelim(a, as);
    const bp = seekUserKeyDelim(b, bs);
    const c = bytewise(a, as, ap, b, bs, bp);
    if (c !== 0) return sign(c);
    const v = compareU64(a, ap, b, bp);
    if (v !== 0) return v;
    const sa = doubleAt(a, ap + 8);
    const sb = doubleAt(b, bp + 8);
    if (sa !== sb) return sa < sb ? -1 : 1;
    const ar = Math.min(ap + 16, a.length);
    const br = Math.min(bp + 16, b.length);
    return sign(bytewise(a, ar, a.length, b, br, b.length));
  },
};

/** Every custom comparator a Pika 3.2–4.0 dump may name; pass to `openRocksDb({ comparators })`. */
export const pikaComparators: PikaComparator[] = [
  blackwidowListsDataKeyComparator,
  blackwidowZSetsScoreKeyComparator,
  floydListsDataKeyComparator,
  floydZSetsScoreKeyComparator,
];
