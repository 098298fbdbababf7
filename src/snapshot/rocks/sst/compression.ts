/**
 * Block decompression by the trailer's type byte (storage.md §3.6.3). format_version ≥ 2 prefixes
 * zlib/LZ4/bzip2 payloads with a varint32 uncompressed size; older files use RocksDB's legacy
 * headers (none for zlib, 8 raw size bytes for LZ4).
 */
import { createRequire } from 'node:module';
import { inflateRawSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { SnappyDecompressor } from 'snappyjs/snappy_decompressor.js';
import { CorruptionError } from '../../../core/errors.js';
import { getVarint32 } from '../coding.js';
import { noteShortLivedBytes } from '../../../core/gc-pacing.js';

export const enum CompressionType {
  None = 0,
  Snappy = 1,
  Zlib = 2,
  BZip2 = 3,
  LZ4 = 4,
  LZ4HC = 5,
  Xpress = 6,
  ZSTD = 7,
  ZSTDNotFinal = 0x40,
}

const NAMES: Record<number, string> = {
  0: 'none',
  1: 'snappy',
  2: 'zlib',
  3: 'bzip2',
  4: 'lz4',
  5: 'lz4hc',
  6: 'xpress',
  7: 'zstd',
  0x40: 'zstd',
};

export function compressionName(t: number): string {
  return NAMES[t] ?? `unknown(${t})`;
}

const scratch = [0];

// lz4js fills a 5 MiB scratch buffer for its compressor as it loads, and Pika's dumps are snappy
// unless configured otherwise: it is loaded at the first LZ4 block.
let lz4: typeof import('lz4js') | undefined;
function lz4DecompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number {
  lz4 ??= createRequire(import.meta.url)('lz4js') as typeof import('lz4js');
  return lz4.decompressBlock(src, dst, sIndex, sLength, dIndex);
}

/**
 * A buffer for a decoded block. Zero-filled: snappyjs's decoder does not say how many bytes it
 * wrote, and a block that decodes short must not carry whatever memory held before into a value.
 * Each block dies once the values viewed in it are written, so it is noted for the GC pacing:
 * without it a 1 GB load of 1 KB strings peaked at 116–118 MiB instead of 109–110.
 */
export function blockBuffer(n: number): Buffer {
  noteShortLivedBytes(n);
  return Buffer.alloc(n);
}

function toBuffer(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/**
 * The uncompressed size a snappy, LZ4, zlib or zstd block declares in its header (read before
 * decompressing it: a block found big is decoded as a stream instead); null for other types, a
 * zlib block before format_version 2 (no size header), or a bad header.
 */
export function declaredSize(type: number, data: Buffer, formatVersion: number): number | null {
  switch (type) {
    case CompressionType.LZ4:
    case CompressionType.LZ4HC:
      if (formatVersion < 2) return data.length >= 8 ? data.readUInt32LE(0) : null;
      break;
    case CompressionType.Zlib:
      if (formatVersion < 2) return null;
      break;
    case CompressionType.Snappy:
    case CompressionType.ZSTD:
    case CompressionType.ZSTDNotFinal:
      break;
    default:
      return null;
  }
  return getVarint32(data, 0, data.length, scratch) < 0 ? null : scratch[0];
}

/**
 * Decompresses `data` (the stored block) of compression `type`; `where` names file@offset for errors.
 */
export function decompressBlock(type: number, data: Buffer, formatVersion: number, where: string): Buffer {
  const fail = (msg: string): never => {
    throw new CorruptionError(msg, where);
  };
  const sizePrefix = (): { size: number; start: number } => {
    const p = getVarint32(data, 0, data.length, scratch);
    if (p < 0) fail(`bad uncompressed-size prefix in a ${compressionName(type)} block`);
    return { size: scratch[0], start: p };
  };
  try {
    switch (type) {
      case CompressionType.Snappy: {
        // The decoder behind snappyjs's `uncompress`, into our buffer: a 1 GB load of 1 KB strings
        // took 10.7–10.9 s of CPU this way, 14.5–15.0 s through `uncompress` (interleaved runs).
        const d = new SnappyDecompressor(data);
        const size = d.readUncompressedLength();
        if (size < 0) fail('bad uncompressed-size prefix in a snappy block');
        const out = blockBuffer(size);
        if (!d.uncompressToBuffer(out)) fail('invalid snappy data');
        return out;
      }
      case CompressionType.Zlib: {
        if (formatVersion >= 2) {
          const { size, start } = sizePrefix();
          const out = inflateRawSync(data.subarray(start));
          if (out.length !== size) fail(`zlib block inflated to ${out.length} bytes, header says ${size}`);
          return out;
        }
        return inflateRawSync(data);
      }
      case CompressionType.LZ4:
      case CompressionType.LZ4HC: {
        let size: number;
        let start: number;
        if (formatVersion >= 2) ({ size, start } = sizePrefix());
        else {
          if (data.length < 8) fail('legacy LZ4 block shorter than its header');
          size = data.readUInt32LE(0);
          start = 8;
        }
        const out = blockBuffer(size);
        const n = lz4DecompressBlock(data, out, start, data.length - start, 0);
        if (n !== size) fail(`LZ4 block decoded to ${n} bytes, header says ${size}`);
        return out;
      }
      case CompressionType.ZSTD:
      case CompressionType.ZSTDNotFinal: {
        const { size, start } = sizePrefix();
        const out = blockBuffer(size);
        const res = zstdDecompress(data.subarray(start), out);
        if (res.length !== size) fail(`zstd block decoded to ${res.length} bytes, header says ${size}`);
        return res === out ? out : toBuffer(res);
      }
      case CompressionType.BZip2:
      case CompressionType.Xpress:
        return fail(`unsupported compression type ${compressionName(type)}`);
      default:
        return fail(`unknown compression type ${type}`);
    }
  } catch (e) {
    if (e instanceof CorruptionError) throw e;
    return fail(`cannot decompress ${compressionName(type)} block: ${(e as Error).message}`);
  }
}
