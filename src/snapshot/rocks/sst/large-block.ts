/**
 * A data block too big to read whole: RocksDB closes a data block as soon as it holds the block
 * size, so a value larger than that is the last entry of its block (alone, or after small entries
 * of a block not yet full), and a 64 MiB string is a 64 MiB block. Only its entries' headers and
 * keys are kept (the head before the big value, the restart array after it); the big value stays
 * in the file as a LargeValue, read in pieces by whoever wants it. The block's checksum is verified
 * first, in pieces, so nothing of a damaged block is handed on.
 *
 * A block stored uncompressed is read at its two ends. A compressed one (snappy: Pika's default
 * `compression`; LZ4, zlib, zstd) is decoded once as a stream to find them (block-stream.ts); the
 * few forms no stream follows (a zlib block before format_version 2, a zstd frame whose window is
 * its whole content, bzip2) are read whole.
 */
import { CorruptionError } from '../../../core/errors.js';
import { blockChecksummer, getVarint32, putVarint, type BlockChecksummer } from '../coding.js';
import { EDGE_BYTES, type LargeValue } from '../large-value.js';
import { FarCopyError, openBlockStream, type BlockStream } from '../block-stream.js';
import { CompressionType } from './compression.js';
import { checkBlockChecksum, type SstFile } from './block-fetch.js';
import { BLOCK_TRAILER_SIZE, type BlockHandle, type Footer } from './format.js';

/** Data blocks from this size on (uncompressed) are read this way. */
export const LARGE_BLOCK_BYTES = 4 << 20;
/**
 * Blocks from this size on are looked at before they are read: their trailer, and a compressed
 * one's header. A smaller one is read as usual, and looked at only when its header declares
 * LARGE_BLOCK_BYTES or more (Table.readDataBlock): at 16 KiB, looking first cost a dump of 64 KiB
 * text values (25 KiB blocks) 15 % more read time.
 */
const LARGE_COMPRESSED_BYTES = 256 * 1024;
const HEADER_PROBE_BYTES = 64;
/** Whether a data block of this stored size may be read as a LargeDataBlock. */
export const mayBeLargeBlock = (h: BlockHandle): boolean => h.size >= LARGE_COMPRESSED_BYTES;
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
 * The block at `h` as a LargeDataBlock, or null when it is small, compressed in a form not decoded
 * as a stream (openBlockStream), or not shaped as expected (its entries do not fit the head, the
 * big value is not the last entry): the caller reads it whole, which also reports any damage the
 * way every block does.
 */
export async function readLargeDataBlock(file: SstFile, footer: Footer, h: BlockHandle): Promise<LargeDataBlock | null> {
  // Through the read-ahead window, as the block's own read goes next: a block found small costs no
  // read of its own. Copied: a window's bytes are valid only until the next read.
  const trailer = Buffer.from(await file.read(h.offset + h.size, BLOCK_TRAILER_SIZE, true));
  if (trailer[0] === CompressionType.None) return h.size >= LARGE_BLOCK_BYTES ? storedBlock(file, footer, h, trailer) : null;
  return compressedBlock(file, footer, h, trailer);
}

async function storedBlock(file: SstFile, footer: Footer, h: BlockHandle, trailer: Buffer): Promise<LargeDataBlock | null> {
  const tailLen = Math.min(TAIL_BYTES, h.size);
  const tail = Buffer.allocUnsafe(tailLen);
  await file.readAt(tail, h.offset + h.size - tailLen, tailLen);
  const end = entriesEnd(tail, h.size);
  if (end === null) return null;
  const headLen = Math.min(HEAD_BYTES, end.restartsOff);
  const head = Buffer.allocUnsafe(headLen);
  await file.readAt(head, h.offset, headLen);
  const shape = bigLastEntry(head, tail, h.size, end);
  if (shape === null) return null;

  const verify = await checksummer(file, footer, h);
  const piece = Buffer.allocUnsafe(Math.min(PIECE_BYTES, h.size));
  for (let at = 0; at < h.size; at += piece.length) {
    const n = Math.min(piece.length, h.size - at);
    await file.readAt(piece, h.offset + at, n);
    verify.update(n === piece.length ? piece : piece.subarray(0, n));
  }
  checkBlockChecksum(file.path, footer, h, 'data', verify.finish(trailer[0]), trailer.readUInt32LE(1));
  return {
    block: shape.block,
    valStart: shape.valStart,
    value: { path: file.path, offset: h.offset + shape.valueAt, length: shape.valueLength },
  };
}

/**
 * A compressed block is decoded once as a stream, its checksum computed over the same reads,
 * keeping only its first and last 64 KiB; the value is decoded again, in pieces, when it is read.
 */
async function compressedBlock(file: SstFile, footer: Footer, h: BlockHandle, trailer: Buffer): Promise<LargeDataBlock | null> {
  const where = `${file.path}@${h.offset}`;
  // The checksummer is made once the block is known to be big; the header's bytes wait for it.
  let verify: BlockChecksummer | null = null;
  const early: Buffer[] = [];
  let stream: BlockStream | null;
  let head: Buffer;
  try {
    // The header's read (32 bytes) through the window too; the big reads of a big block past it.
    const source = async (buf: Buffer, at: number, len: number): Promise<void> => {
      if (len <= HEADER_PROBE_BYTES) (await file.read(h.offset + at, len, true)).copy(buf);
      else await file.readAt(buf, h.offset + at, len);
    };
    stream = await openBlockStream(trailer[0], footer.formatVersion, source, h.size, where, (chunk) => (verify === null ? early.push(Buffer.from(chunk)) : verify.update(chunk)));
    if (stream === null || stream.length < LARGE_BLOCK_BYTES) return null;
    const v = await checksummer(file, footer, h);
    for (const chunk of early) v.update(chunk);
    verify = v;
    head = Buffer.allocUnsafe(Math.min(HEAD_BYTES, stream.length));
    await stream.read(head, 0, head.length);
    await stream.skip(stream.length - stream.produced);
    await stream.finish();
  } catch (e) {
    // Damage, or snappy this stream cannot follow: the whole-block read verifies and reports it.
    if (e instanceof CorruptionError || e instanceof FarCopyError) return null;
    throw e;
  }
  checkBlockChecksum(file.path, footer, h, 'data', verify!.finish(trailer[0]), trailer.readUInt32LE(1));
  const tail = stream.lastBytes();
  const end = entriesEnd(tail, stream.length);
  if (end === null) return null;
  const shape = bigLastEntry(head.subarray(0, Math.min(head.length, end.restartsOff)), tail, stream.length, end);
  if (shape === null) return null;
  const valueEnd = shape.valueAt + shape.valueLength;
  const tailAt = stream.length - tail.length;
  const edge = Math.min(EDGE_BYTES, shape.valueLength);
  return {
    block: shape.block,
    valStart: shape.valStart,
    value: {
      path: file.path,
      offset: h.offset,
      length: shape.valueLength,
      compressed: {
        type: trailer[0],
        formatVersion: footer.formatVersion,
        size: h.size,
        valueAt: shape.valueAt,
        // The value starts in the head (bigLastEntry) and ends in the tail (it ends at the restarts).
        head: Buffer.from(head.subarray(shape.valueAt, Math.min(head.length, shape.valueAt + edge))),
        tail: Buffer.from(tail.subarray(Math.max(0, valueEnd - edge - tailAt), valueEnd - tailAt)),
      },
    },
  };
}

async function checksummer(file: SstFile, footer: Footer, h: BlockHandle): Promise<BlockChecksummer> {
  const verify = await blockChecksummer(footer.checksumType);
  if (verify === null) throw new CorruptionError(`unknown checksum type ${footer.checksumType}`, `${file.path}@${h.offset}`);
  return verify;
}

interface EntriesEnd {
  /** Where the restart array starts: the entries end there. */
  readonly restartsOff: number;
  readonly numRestarts: number;
}

/** From the block's last bytes (`tail`, of a `size`-byte block): where its entries end; null if unreadable. */
function entriesEnd(tail: Buffer, size: number): EntriesEnd | null {
  const tailLen = tail.length;
  if (tailLen < 4) return null;
  const footerWord = tail.readUInt32LE(tailLen - 4);
  let end = size - 4;
  if (footerWord & 0x80000000) {
    if (tailLen < 6) return null;
    end -= 2 + tail.readUInt16LE(tailLen - 6);
  }
  const numRestarts = footerWord & 0x7fffffff;
  const restartsOff = end - 4 * numRestarts;
  if (numRestarts === 0 || restartsOff < size - tailLen) return null;
  return { restartsOff, numRestarts };
}

interface Shape {
  readonly block: Buffer;
  readonly valStart: number;
  /** Offset of the big value in the block, and its length. */
  readonly valueAt: number;
  readonly valueLength: number;
}

/** The big last entry found in `head` and the synthetic block built around it; null if not so shaped. */
function bigLastEntry(head: Buffer, tail: Buffer, size: number, end: EntriesEnd): Shape | null {
  const { restartsOff, numRestarts } = end;
  const tailStart = size - tail.length;
  const big = lastEntry(head, restartsOff);
  if (big === null) return null;
  for (let i = 0; i < numRestarts; i++) {
    if (tail.readUInt32LE(restartsOff - tailStart + 4 * i) > big.entryAt) return null;
  }
  const bytes: number[] = [];
  putVarint(bytes, big.shared);
  putVarint(bytes, big.nonShared);
  putVarint(bytes, 0);
  const header = Buffer.from(bytes);
  const block = Buffer.concat([head.subarray(0, big.entryAt), header, head.subarray(big.keyAt, big.keyAt + big.nonShared), tail.subarray(restartsOff - tailStart)]);
  return { block, valStart: big.entryAt + header.length + big.nonShared, valueAt: big.valueAt, valueLength: restartsOff - big.valueAt };
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
