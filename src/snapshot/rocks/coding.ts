/**
 * RocksDB primitives: varints, fixed little-endian ints, CRC32C (masked as RocksDB stores it) and
 * the block checksum types (storage.md §3.1, §3.6.2). Decoders take a `Cursor` so every overrun is
 * reported with the file and the absolute byte offset.
 */
import type { IHasher } from 'hash-wasm';
import { CorruptionError } from '../../core/errors.js';

/** A read position inside a buffer that came from `file` at file offset `base`. */
export class Cursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
    readonly file: string,
    readonly base = 0,
  ) {}

  static of(buf: Buffer, file: string, base = 0): Cursor {
    return new Cursor(buf, 0, buf.length, file, base);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(msg: string, at = this.pos): never {
    throw new CorruptionError(msg, `${this.file}@${this.base + at}`);
  }

  u8(): number {
    if (this.pos >= this.end) this.fail('unexpected end of data reading a byte');
    return this.buf[this.pos++];
  }

  fixed32(): number {
    if (this.pos + 4 > this.end) this.fail('unexpected end of data reading fixed32');
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** fixed64 as a number; exact below 2^53, which every size/sequence we read in practice is. */
  fixed64(): number {
    if (this.pos + 8 > this.end) this.fail('unexpected end of data reading fixed64');
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    return hi * 0x100000000 + lo;
  }

  varint32(): number {
    const v = this.varint64();
    if (v > 0xffffffff) this.fail('varint32 out of range');
    return v;
  }

  /** varint64 as a number (exact below 2^53; larger values lose low bits, callers never need them). */
  varint64(): number {
    const buf = this.buf;
    let pos = this.pos;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= this.end) this.fail('unexpected end of data in varint', this.pos);
      const b = buf[pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        this.pos = pos;
        return result;
      }
      mul *= 128;
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** Zigzag-encoded varint64 ("varsigned"). */
  varsigned64(): number {
    const u = this.varint64();
    // zigzag: even ⇒ u/2, odd ⇒ -(u+1)/2; arithmetic keeps it exact for |n| < 2^52
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  bytes(n: number): Buffer {
    if (n < 0 || this.pos + n > this.end) this.fail(`slice of ${n} bytes runs past the end`);
    const s = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  lengthPrefixed(): Buffer {
    const at = this.pos;
    const n = this.varint32();
    if (this.pos + n > this.end) this.fail(`length-prefixed slice of ${n} bytes runs past the end`, at);
    return this.bytes(n);
  }
}

/** Decodes a varint32 at `pos` of `buf` into `out[0]` and returns the new position, or -1 on overrun. */
export function getVarint32(buf: Buffer, pos: number, end: number, out: Int32Array | number[]): number {
  let b = buf[pos];
  if (pos < end && b < 0x80) {
    out[0] = b;
    return pos + 1;
  }
  let result = 0;
  for (let shift = 0; shift <= 28; shift += 7) {
    if (pos >= end) return -1;
    b = buf[pos++];
    result |= (b & 0x7f) << shift;
    if (b < 0x80) {
      out[0] = result >>> 0;
      return pos;
    }
  }
  return -1;
}

export function putVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

// ---------------------------------------------------------------- CRC32C (slicing-by-8)

const CRC_TABLES: Uint32Array[] = (() => {
  const t: Uint32Array[] = [];
  for (let k = 0; k < 8; k++) t.push(new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let j = 0; j < 8; j++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[0][i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    let c = t[0][i];
    for (let k = 1; k < 8; k++) {
      c = t[0][c & 0xff] ^ (c >>> 8);
      t[k][i] = c >>> 0;
    }
  }
  return t;
})();

/** Extends a CRC32C (unmasked) over buf[start, end). */
export function crc32cExtend(crc: number, buf: Uint8Array, start = 0, end = buf.length): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES;
  let c = ~crc;
  let i = start;
  while (i < end && (i & 3) !== 0) c = t0[(c ^ buf[i++]) & 0xff] ^ (c >>> 8);
  const end8 = end - 8;
  while (i <= end8) {
    const a = c ^ (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24));
    c =
      t7[a & 0xff] ^
      t6[(a >>> 8) & 0xff] ^
      t5[(a >>> 16) & 0xff] ^
      t4[a >>> 24] ^
      t3[buf[i + 4]] ^
      t2[buf[i + 5]] ^
      t1[buf[i + 6]] ^
      t0[buf[i + 7]];
    i += 8;
  }
  while (i < end) c = t0[(c ^ buf[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  return crc32cExtend(0, buf, start, end);
}

const MASK_DELTA = 0xa282ead8;

export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

export function unmaskCrc(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

// ---------------------------------------------------------------- block checksums

export enum ChecksumType {
  None = 0,
  CRC32c = 1,
  XXHash = 2,
  XXHash64 = 3,
  XXH3 = 4,
}

export function checksumTypeName(t: number): string {
  return ChecksumType[t] ?? `unknown(${t})`;
}

interface Hashers {
  xxh32: IHasher;
  xxh64: IHasher;
  xxh3: IHasher;
}

let hashers: Hashers | undefined;
let hashersLoading: Promise<Hashers> | undefined;

/** Whether `blockChecksum` needs the WASM hashers for this checksum type. */
export function needsHashers(type: number): boolean {
  return type === ChecksumType.XXHash || type === ChecksumType.XXHash64 || type === ChecksumType.XXH3;
}

/**
 * Loads the WASM hashers once; must be awaited before `blockChecksum` is used with xxHash types.
 * Imported on first use: a CRC32c-only snapshot (Pika 3.2–3.4) does not pay their memory.
 */
export async function loadHashers(): Promise<void> {
  if (hashers) return;
  hashersLoading ??= import('hash-wasm').then(async ({ createXXHash32, createXXHash64, createXXHash3 }) => {
    const [xxh32, xxh64, xxh3] = await Promise.all([createXXHash32(0), createXXHash64(0, 0), createXXHash3(0, 0)]);
    return { xxh32, xxh64, xxh3 };
  });
  hashers = await hashersLoading;
}

function low32OfDigest(h: IHasher): number {
  const d = h.digest('binary');
  const n = d.length;
  return ((d[n - 4] << 24) | (d[n - 3] << 16) | (d[n - 2] << 8) | d[n - 1]) >>> 0;
}

/**
 * The checksum RocksDB stores in a block trailer for `data` (the stored block, without the
 * trailer) followed by the compression type byte `lastByte` (§3.6.2). Returns null for an unknown
 * checksum type.
 */
export function blockChecksum(type: number, data: Buffer, lastByte: number): number | null {
  switch (type) {
    case ChecksumType.None:
      return 0;
    case ChecksumType.CRC32c: {
      const c = crc32c(data);
      TYPE_BYTE[0] = lastByte;
      return maskCrc(crc32cExtend(c, TYPE_BYTE, 0, 1));
    }
    case ChecksumType.XXHash:
    case ChecksumType.XXHash64: {
      const h = requireHashers()[type === ChecksumType.XXHash ? 'xxh32' : 'xxh64'];
      h.init();
      h.update(data);
      TYPE_BYTE[0] = lastByte;
      h.update(TYPE_BYTE);
      return low32OfDigest(h);
    }
    case ChecksumType.XXH3: {
      const h = requireHashers().xxh3;
      h.init();
      h.update(data);
      const v = low32OfDigest(h);
      return (v ^ Math.imul(lastByte, 0x6b9083d9)) >>> 0;
    }
    default:
      return null;
  }
}

const TYPE_BYTE = new Uint8Array(1);

/** blockChecksum over data given in pieces: `update` each piece in order, then `finish` with the type byte. */
export interface BlockChecksummer {
  update(piece: Uint8Array): void;
  finish(lastByte: number): number;
}

/**
 * A BlockChecksummer of its own (a block read in pieces, with awaits between them, must not share
 * the hashers `blockChecksum` resets); null for an unknown checksum type.
 */
export async function blockChecksummer(type: number): Promise<BlockChecksummer | null> {
  switch (type) {
    case ChecksumType.None:
      return { update: () => undefined, finish: () => 0 };
    case ChecksumType.CRC32c: {
      let c = 0;
      return {
        update: (p) => {
          c = crc32cExtend(c, p, 0, p.length);
        },
        finish: (lastByte) => maskCrc(crc32cExtend(c, Uint8Array.of(lastByte), 0, 1)),
      };
    }
    case ChecksumType.XXHash:
    case ChecksumType.XXHash64:
    case ChecksumType.XXH3: {
      const { createXXHash32, createXXHash64, createXXHash3 } = await import('hash-wasm');
      const h = type === ChecksumType.XXHash ? await createXXHash32(0) : type === ChecksumType.XXHash64 ? await createXXHash64(0, 0) : await createXXHash3(0, 0);
      h.init();
      return {
        update: (p) => void h.update(p),
        finish: (lastByte) => {
          if (type === ChecksumType.XXH3) return (low32OfDigest(h) ^ Math.imul(lastByte, 0x6b9083d9)) >>> 0;
          h.update(Uint8Array.of(lastByte));
          return low32OfDigest(h);
        },
      };
    }
    default:
      return null;
  }
}

function requireHashers(): Hashers {
  if (!hashers) throw new Error('rocks/coding: loadHashers() was not awaited before checksum use');
  return hashers;
}

/** format_version ≥ 6: the per-offset modifier added to every block checksum. */
export function contextChecksumModifier(baseContext: number, offset: number): number {
  if (baseContext === 0) return 0;
  const lo = offset >>> 0;
  const hi = Math.floor(offset / 0x100000000) >>> 0;
  return (baseContext ^ ((lo + hi) >>> 0)) >>> 0;
}
