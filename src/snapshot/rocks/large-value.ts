/**
 * A value too big to hold whole (a string of tens of MiB): where it lies in its SST file, read in
 * pieces when wanted. Its block's checksum was verified before the value was handed on
 * (sst/large-block.ts), and SST files never change in place.
 */
import { open } from 'node:fs/promises';
import { CorruptionError } from '../../core/errors.js';
import { noteShortLivedBytes } from '../../core/gc-pacing.js';
import { openBlockStream, type BlockStream } from './block-stream.js';

export interface LargeValue {
  readonly path: string;
  /** Byte offset of the value in the file; of its block when the block is compressed. */
  readonly offset: number;
  readonly length: number;
  /** Set when the block is compressed: the value is decoded from the block's start (block-stream.ts). */
  readonly compressed?: CompressedPlace;
}

export interface CompressedPlace {
  /** The block's compression type (trailer byte) and its table's format_version (LZ4's and zlib's header). */
  readonly type: number;
  readonly formatVersion: number;
  /** Compressed size of the block (without its trailer). */
  readonly size: number;
  /** Offset of the value in the uncompressed block. */
  readonly valueAt: number;
  /** The value's first and last bytes (up to EDGE_BYTES each), kept from the block's check. */
  readonly head: Buffer;
  readonly tail: Buffer;
}

/** How much of each end of a compressed value is kept: readers peek at a type byte or an expiry suffix. */
export const EDGE_BYTES = 64;

/** Reads above this size note their buffer (core/gc-pacing.ts): it dies once its value is written. */
const NOTED_READ = 256 * 1024;

/**
 * Where the last read of a compressed value stopped: pieces read in order continue the stream
 * instead of decoding the block again from its start. Dies with the value.
 */
const cursors = new WeakMap<LargeValue, BlockStream>();

/** Bytes [start, start+len) of the value, in a buffer of their own. */
export async function readLargeValue(v: LargeValue, start: number, len: number): Promise<Buffer> {
  if (start < 0 || len < 0 || start + len > v.length) throw new RangeError(`bytes [${start}, ${start + len}) of a ${v.length}-byte value`);
  const z = v.compressed;
  if (z !== undefined) {
    if (start + len <= z.head.length) return Buffer.from(z.head.subarray(start, start + len));
    const tailAt = v.length - z.tail.length;
    if (start >= tailAt) return Buffer.from(z.tail.subarray(start - tailAt, start - tailAt + len));
  }
  const buf = len >= NOTED_READ ? Buffer.allocUnsafeSlow(len) : Buffer.allocUnsafe(len);
  if (len >= NOTED_READ) noteShortLivedBytes(len);
  if (z === undefined) {
    await readFileRange(v.path, buf, v.offset + start, len);
    return buf;
  }
  // Taken out while in use: a read running beside it decodes on its own.
  let s = cursors.get(v);
  cursors.delete(v);
  if (s === undefined || s.produced > z.valueAt + start) {
    const opened = await openBlockStream(z.type, z.formatVersion, (into, at, n) => readFileRange(v.path, into, v.offset + at, n), z.size, `${v.path}@${v.offset}`);
    if (opened === null) throw new RangeError(`compression type ${z.type} is not read as a stream`);
    s = opened;
  }
  await s.skip(z.valueAt + start - s.produced);
  await s.read(buf, 0, len);
  if (s.produced < z.valueAt + v.length) cursors.set(v, s);
  return buf;
}

/** Bytes [at, at+n) of the file at `path` into `into[0, n)`. */
async function readFileRange(path: string, into: Buffer, at: number, n: number): Promise<void> {
  const fh = await open(path, 'r');
  try {
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(into, got, n - got, at + got);
      if (bytesRead === 0) throw new CorruptionError('unexpected end of file', `${path}@${at + got}`);
      got += bytesRead;
    }
  } finally {
    await fh.close();
  }
}
