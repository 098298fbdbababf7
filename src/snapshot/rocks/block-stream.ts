/**
 * A compressed data block decoded as a stream, for a block too big to decompress whole (a 64 MiB
 * string in a block of Pika's default `compression : snappy`, or of lz4, zlib or zstd): its output
 * is read or skipped in pieces, and only a bounded amount of decoder state is held, whatever the
 * block's size:
 * - snappy and LZ4 (stream/lz77.ts): decoded in TypeScript, keeping the last 64 KiB of output as
 *   their window (no npm package decodes one raw block of either in pieces);
 * - zlib (stream/zlib.ts): node:zlib's streaming inflater, fed and drained piece by piece;
 * - zstd (stream/zstd.ts): fzstd's streaming decoder, one zstd block at a time, holding the frame's
 *   window (2 MiB at RocksDB's default level).
 * The last 64 KiB of output are kept for every codec (stream/base.ts: a big block's restart array
 * and footer are its last bytes).
 */
import { CompressionType } from './sst/compression.js';
import type { BlockStream, CompressedReader } from './stream/base.js';
import { Lz4Stream, SnappyStream } from './stream/lz77.js';
import { ZlibStream } from './stream/zlib.js';
import { ZstdStream } from './stream/zstd.js';

export type { BlockStream, CompressedReader } from './stream/base.js';
export { FarCopyError } from './stream/lz77.js';

/**
 * A stream over a block of compression `type` (the trailer's byte), or null for a block not decoded
 * as a stream (read whole): bzip2, xpress, a zlib block before format_version 2 (no size header: its
 * length is known only at its end), a zstd frame whose window is its whole content.
 */
export async function openBlockStream(
  type: number,
  formatVersion: number,
  source: CompressedReader,
  size: number,
  where: string,
  onInput: ((chunk: Buffer) => void) | null = null,
): Promise<BlockStream | null> {
  let s: BlockStream;
  switch (type) {
    case CompressionType.Snappy:
      s = new SnappyStream(source, size, onInput, where);
      break;
    case CompressionType.LZ4:
    case CompressionType.LZ4HC:
      s = new Lz4Stream(source, size, where, onInput, formatVersion < 2);
      break;
    case CompressionType.Zlib:
      if (formatVersion < 2) return null;
      s = new ZlibStream(source, size, onInput, where);
      break;
    case CompressionType.ZSTD:
    case CompressionType.ZSTDNotFinal:
      s = new ZstdStream(source, size, onInput, where);
      break;
    default:
      return null;
  }
  return (await s.header()) ? s : null;
}
