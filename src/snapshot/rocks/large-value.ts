/**
 * A value too big to hold whole (a string of tens of MiB): where it lies in its SST file, read in
 * pieces when wanted. Its block's checksum was verified before the value was handed on
 * (sst/large-block.ts), and SST files never change in place.
 */
import { open } from 'node:fs/promises';
import { CorruptionError } from '../../core/errors.js';
import { noteLargeBuffer } from '../../core/large-buffers.js';

export interface LargeValue {
  readonly path: string;
  /** Byte offset of the value in the file. */
  readonly offset: number;
  readonly length: number;
}

/** Reads above this size note their buffer (core/large-buffers.ts): it dies once its value is written. */
const NOTED_READ = 256 * 1024;

/** Bytes [start, start+len) of the value, in a buffer of their own. */
export async function readLargeValue(v: LargeValue, start: number, len: number): Promise<Buffer> {
  if (start < 0 || len < 0 || start + len > v.length) throw new RangeError(`bytes [${start}, ${start + len}) of a ${v.length}-byte value`);
  const buf = len >= NOTED_READ ? Buffer.allocUnsafeSlow(len) : Buffer.allocUnsafe(len);
  if (len >= NOTED_READ) noteLargeBuffer(len);
  const fh = await open(v.path, 'r');
  try {
    let got = 0;
    while (got < len) {
      const { bytesRead } = await fh.read(buf, got, len - got, v.offset + start + got);
      if (bytesRead === 0) throw new CorruptionError('unexpected end of file', `${v.path}@${v.offset + start + got}`);
      got += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return buf;
}
