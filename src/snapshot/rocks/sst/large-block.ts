/**
 * A data block too big to read whole: RocksDB closes a data block as soon as it holds the block
 * size, so a value larger than that is the last entry of its block (alone, or after small entries
 * of a block not yet full), and a 64 MiB string is a 64 MiB block. When such a block is stored
 * uncompressed, only its entries' headers and keys
 * are read (the head before the big value, the restart array after it); the big value stays in the
 * file as a LargeValue, read in pieces by whoever wants it. The block's checksum is verified first,
 * in pieces, so nothing of a damaged block is handed on.
 */
import { CorruptionError } from '../../../core/errors.js';
import { blockChecksummer, getVarint32, putVarint } from '../coding.js';
import type { LargeValue } from '../large-value.js';
import { checkBlockChecksum, type SstFile } from './block-fetch.js';
import { BLOCK_TRAILER_SIZE, type BlockHandle, type Footer } from './format.js';

/** Data blocks from this size on are read this way when uncompressed. */
export const LARGE_BLOCK_BYTES = 4 << 20;
/** How much of the block's start holds the entries before the big value (else: read whole). */
const HEAD_BYTES = 64 * 1024;
/** The same for its end: restart array, hash index, footer word. */
const TAIL_BYTES = 64 * 1024;
/** Piece size of the checksum pass. */
const PIECE_BYTES = 1 << 20;

export interface LargeDataBlock {
  /**
   * The block with the big value cut out: every entry as stored, the last one with an empty value,
   * then the restart array and footer, so BlockIter walks and seeks it as the whole block.
   */
  readonly block: Buffer;
  /** valStart, in `block`, of the entry whose value is `value`. */
  readonly valStart: number;
  readonly value: LargeValue;
}

/**
 * The block at `h` as a LargeDataBlock, or null when it is compressed or not shaped as expected
 * (its entries do not fit the head, the big value is not the last entry): the caller reads it
 * whole, which also reports any damage the way every block does.
 */
export async function readLargeDataBlock(file: SstFile, footer: Footer, h: BlockHandle): Promise<LargeDataBlock | null> {
  const trailer = Buffer.allocUnsafe(BLOCK_TRAILER_SIZE);
  await file.readAt(trailer, h.offset + h.size, BLOCK_TRAILER_SIZE);
  if (trailer[0] !== 0 || h.size < LARGE_BLOCK_BYTES) return null;

  const tailLen = Math.min(TAIL_BYTES, h.size);
  const tail = Buffer.allocUnsafe(tailLen);
  await file.readAt(tail, h.offset + h.size - tailLen, tailLen);
  const footerWord = tail.readUInt32LE(tailLen - 4);
  let end = h.size - 4;
  if (footerWord & 0x80000000) {
    if (tailLen < 6) return null;
    end -= 2 + tail.readUInt16LE(tailLen - 6);
  }
  const numRestarts = footerWord & 0x7fffffff;
  const restartsOff = end - 4 * numRestarts;
  const tailStart = h.size - tailLen;
  if (numRestarts === 0 || restartsOff < tailStart) return null;

  const headLen = Math.min(HEAD_BYTES, restartsOff);
  const head = Buffer.allocUnsafe(headLen);
  await file.readAt(head, h.offset, headLen);
  const big = lastEntry(head, restartsOff);
  if (big === null) return null;
  for (let i = 0; i < numRestarts; i++) {
    if (tail.readUInt32LE(restartsOff - tailStart + 4 * i) > big.entryAt) return null;
  }

  const verify = await blockChecksummer(footer.checksumType);
  if (verify === null) throw new CorruptionError(`unknown checksum type ${footer.checksumType}`, `${file.path}@${h.offset}`);
  const piece = Buffer.allocUnsafe(Math.min(PIECE_BYTES, h.size));
  for (let at = 0; at < h.size; at += piece.length) {
    const n = Math.min(piece.length, h.size - at);
    await file.readAt(piece, h.offset + at, n);
    verify.update(n === piece.length ? piece : piece.subarray(0, n));
  }
  checkBlockChecksum(file.path, footer, h, 'data', verify.finish(trailer[0]), trailer.readUInt32LE(1));

  const bytes: number[] = [];
  putVarint(bytes, big.shared);
  putVarint(bytes, big.nonShared);
  putVarint(bytes, 0);
  const header = Buffer.from(bytes);
  const block = Buffer.concat([head.subarray(0, big.entryAt), header, head.subarray(big.keyAt, big.keyAt + big.nonShared), tail.subarray(restartsOff - tailStart)]);
  return {
    block,
    valStart: big.entryAt + header.length + big.nonShared,
    value: { path: file.path, offset: h.offset + big.valueAt, length: restartsOff - big.valueAt },
  };
}

interface BigEntry {
  readonly entryAt: number;
  readonly shared: number;
  readonly nonShared: number;
  readonly keyAt: number;
  readonly valueAt: number;
}

/**
 * Walks the entries in `head` (the block's first bytes) to the one whose value runs past it: that
 * one must end exactly where the entries end (`entriesEnd`). Null otherwise.
 */
function lastEntry(head: Buffer, entriesEnd: number): BigEntry | null {
  const v = [0];
  let p = 0;
  for (;;) {
    const entryAt = p;
    p = getVarint32(head, p, head.length, v);
    const shared = v[0];
    if (p >= 0) p = getVarint32(head, p, head.length, v);
    const nonShared = v[0];
    if (p >= 0) p = getVarint32(head, p, head.length, v);
    if (p < 0) return null;
    const keyAt = p;
    const valueAt = keyAt + nonShared;
    if (valueAt > head.length) return null;
    const valueEnd = valueAt + v[0];
    if (valueEnd > head.length) return valueEnd === entriesEnd ? { entryAt, shared, nonShared, keyAt, valueAt } : null;
    if (valueEnd >= entriesEnd) return null;
    p = valueEnd;
  }
}
