/**
 * Block-based table footer and block handles (storage.md §3.6.1), for format_version 0 … 6.
 */
import { CorruptionError } from '../../../core/errors.js';
import { blockChecksum, ChecksumType, contextChecksumModifier, Cursor } from '../coding.js';

export const BLOCK_TRAILER_SIZE = 5;
export const FOOTER_SIZE = 53;
export const LEGACY_FOOTER_SIZE = 48;

const MAGIC = { hi: 0x88e241b7, lo: 0x85f4cff7 };
const LEGACY_MAGIC = { hi: 0xdb477524, lo: 0x8b80fb57 };
const OTHER_MAGICS: Record<string, string> = {
  '8242229663bf9564': 'plain table',
  '4f3418eb7a8f13b8': 'legacy plain table',
  '926789d0c5f17873': 'cuckoo table',
};

export interface BlockHandle {
  readonly offset: number;
  readonly size: number;
}

export interface Footer {
  readonly formatVersion: number;
  readonly checksumType: number;
  /** null for format_version 6 (the index handle is in the metaindex under `rocksdb.index`). */
  readonly indexHandle: BlockHandle | null;
  readonly metaindexHandle: BlockHandle;
  /** format_version ≥ 6: the per-file checksum context (0 = none). */
  readonly baseContextChecksum: number;
}

export function decodeHandle(c: Cursor): BlockHandle {
  const offset = c.varint64();
  const size = c.varint64();
  return { offset, size };
}

/** Decodes the footer from the last bytes of a file of `fileSize` bytes (`tail` = those bytes). */
export function decodeFooter(tail: Buffer, fileSize: number, file: string): Footer {
  const tailBase = fileSize - tail.length;
  const where = (at: number) => `${file}@${tailBase + at}`;
  if (tail.length < LEGACY_FOOTER_SIZE) throw new CorruptionError(`file of ${fileSize} bytes is too short to be an SST`, where(0));
  const mlo = tail.readUInt32LE(tail.length - 8);
  const mhi = tail.readUInt32LE(tail.length - 4);
  if (mlo === LEGACY_MAGIC.lo && mhi === LEGACY_MAGIC.hi) {
    const start = tail.length - LEGACY_FOOTER_SIZE;
    const c = new Cursor(tail, start, tail.length - 8, file, tailBase);
    const metaindexHandle = decodeHandle(c);
    const indexHandle = decodeHandle(c);
    return { formatVersion: 0, checksumType: ChecksumType.CRC32c, metaindexHandle, indexHandle, baseContextChecksum: 0 };
  }
  if (mlo !== MAGIC.lo || mhi !== MAGIC.hi) {
    const hex = mhi.toString(16).padStart(8, '0') + mlo.toString(16).padStart(8, '0');
    const what = OTHER_MAGICS[hex];
    throw new CorruptionError(
      what ? `${what} files are not supported (only block-based tables)` : `bad table magic number 0x${hex}`,
      where(tail.length - 8),
    );
  }
  if (tail.length < FOOTER_SIZE) throw new CorruptionError(`file of ${fileSize} bytes is too short to be an SST`, where(0));
  const start = tail.length - FOOTER_SIZE;
  const formatVersion = tail.readUInt32LE(tail.length - 12);
  const checksumType = tail[start];
  if (formatVersion < 1 || formatVersion > 6) {
    throw new CorruptionError(`unsupported format_version ${formatVersion}`, where(tail.length - 12));
  }
  if (checksumType > ChecksumType.XXH3) {
    throw new CorruptionError(`unknown checksum type ${checksumType}`, where(start));
  }
  if (formatVersion < 6) {
    const c = new Cursor(tail, start + 1, tail.length - 12, file, tailBase);
    const metaindexHandle = decodeHandle(c);
    const indexHandle = decodeHandle(c);
    return { formatVersion, checksumType, metaindexHandle, indexHandle, baseContextChecksum: 0 };
  }
  // format_version 6: checksum type, magic bytes 3e 00 7a 00, footer checksum, base context
  // checksum, metaindex size, then zeros up to the version field.
  if (tail.readUInt32BE(start + 1) !== 0x3e007a00) {
    throw new CorruptionError('format_version 6 footer lacks its extended magic', where(start + 1));
  }
  const footerChecksum = tail.readUInt32LE(start + 5);
  const baseContextChecksum = tail.readUInt32LE(start + 9);
  const metaindexSize = tail.readUInt32LE(start + 13);
  for (let i = start + 17 + 16; i < start + 17 + 24; i++) {
    if (tail[i] !== 0) throw new CorruptionError('format_version 6 footer has non-zero reserved bytes', where(i));
  }
  const footerOffset = fileSize - FOOTER_SIZE;
  const copy = Buffer.from(tail.subarray(start));
  copy.writeUInt32LE(0, 5);
  if (checksumType !== ChecksumType.None) {
    // ComputeBuiltinChecksum(data, n) == the block form over data[0, n−1) with data[n−1] as "type"
    const body = copy.subarray(0, copy.length - 1);
    const c2 = blockChecksum(checksumType, body, copy[copy.length - 1])!;
    const expected = (c2 + contextChecksumModifier(baseContextChecksum, footerOffset)) >>> 0;
    if (expected !== footerChecksum) {
      throw new CorruptionError(
        `footer checksum mismatch (stored ${footerChecksum.toString(16)}, computed ${expected.toString(16)})`,
        where(start + 5),
      );
    }
  }
  const metaindexHandle = { offset: footerOffset - BLOCK_TRAILER_SIZE - metaindexSize, size: metaindexSize };
  return { formatVersion, checksumType, metaindexHandle, indexHandle: null, baseContextChecksum };
}
