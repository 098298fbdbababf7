/**
 * Pika 4.0 ("floyd") key and value encodings, family D (storage.md §2.3, storage-observed.md W1,
 * W3, N3, N4). Every key is `00×8 ‖ E(key) ‖ …`; all column families sort by `E(key)` first, so
 * joins compare the encoded bytes directly and decode a name only for records that are emitted.
 */
import { CorruptionError, type Where } from '../../core/errors.js';
import { seekUserKeyDelim } from './comparators.js';
import { decodeStreamFields, type StreamMeta } from './stream-format.js';
import { u64ToNumber } from './u64.js';

export const KEY4_PREFIX = 8;
const SUFFIX_RESERVE = 16;
/** Data values of hashes, sets, zsets and lists end with `reserve(16) ‖ ctime:u64`. */
export const DATA4_VALUE_SUFFIX = 24;

/** Type byte at the start of every meta value. */
export const Type4 = { String: 0, Hash: 1, Set: 2, List: 3, ZSet: 4, Stream: 5 } as const;
type T4 = typeof Type4;

/**
 * Time field (ctime/etime) as absolute ms, or null for 0. 4.0.1 sets bit 63 on ms values; a value
 * without it is 4.0.0's seconds (HLL values of 4.0.1 too, harmlessly).
 */
export function time4ToMs(buf: Buffer, off: number): number | null {
  const hi = buf.readUInt32LE(off + 4);
  const lo = buf.readUInt32LE(off);
  if (hi === 0 && lo === 0) return null;
  if ((hi & 0x8000_0000) !== 0) return (hi & 0x7fff_ffff) * 0x1_0000_0000 + lo;
  return (hi * 0x1_0000_0000 + lo) * 1000;
}

/**
 * End of `E(key)` (just past its `00 00` delimiter) in a record key, or -1 when the key has no
 * delimiter. The encoded name is `key[8, end)`.
 */
export function encodedKeyEnd4(key: Buffer): number {
  if (key.length < KEY4_PREFIX + 2) return -1;
  const end = seekUserKeyDelim(key, KEY4_PREFIX);
  return end === KEY4_PREFIX ? -1 : end;
}

/**
 * Decode `E(key)` in `buf[start, end)` (end just past the delimiter): `00 01` ⇒ `00`. Returns null
 * for sequences Pika's writer does not produce intact (W1: 4.0.1 mangles names holding `00`).
 * A name without `00` is a view of `buf` (a scan's keys are fresh buffers of their own): a copy
 * was a third of what a 4.0 string cost to read.
 */
export function decodeUserKey4(buf: Buffer, start: number, end: number): Buffer | null {
  const body = end - 2;
  let zeros = 0;
  for (let i = start; i < body; i++) if (buf[i] === 0) zeros++;
  if (zeros === 0) return buf.subarray(start, body);
  const out = Buffer.allocUnsafe(body - start - zeros);
  let o = 0;
  for (let i = start; i < body; i++) {
    const c = buf[i];
    if (c === 0) {
      if (i + 1 >= body || buf[i + 1] !== 1) return null;
      i++;
    }
    out[o++] = c;
  }
  return out;
}

/** `00×8 ‖ E(key)` (delimiter included): the start of `key`'s meta key, for a seek. */
export function metaKeyPrefix4(key: Buffer): Buffer {
  let zeros = 0;
  for (const c of key) if (c === 0) zeros++;
  const b = Buffer.alloc(KEY4_PREFIX + key.length + zeros + 2);
  let o = KEY4_PREFIX;
  for (const c of key) {
    b[o++] = c;
    if (c === 0) b[o++] = 1;
  }
  return b; // the trailing `00 00` delimiter is the zero fill
}

/** A parsed meta key: where `E(key)` ends; `wellFormed` when exactly 16 zero bytes follow it. */
export function metaKey4Shape(key: Buffer): { encEnd: number; wellFormed: boolean } {
  return { encEnd: encodedKeyEnd4(key), wellFormed: wellFormedMetaKey4End(key) >= 0 };
}

/** Where `E(key)` ends in a well-formed meta key, else -1: metaKey4Shape without an object per key. */
export function wellFormedMetaKey4End(key: Buffer): number {
  const encEnd = encodedKeyEnd4(key);
  if (encEnd < 0 || key.length !== encEnd + SUFFIX_RESERVE) return -1;
  for (let i = 0; i < KEY4_PREFIX; i++) if (key[i] !== 0) return -1;
  for (let i = encEnd; i < key.length; i++) if (key[i] !== 0) return -1;
  return encEnd;
}

export type Meta4 =
  | { readonly type: T4['String']; readonly valueStart: 1; readonly valueEnd: number; readonly hll: boolean; readonly expireAtMs: number | null }
  | { readonly type: T4['Hash'] | T4['Set'] | T4['ZSet']; readonly count: number; readonly versionOff: 5; readonly expireAtMs: number | null }
  | { readonly type: T4['List']; readonly count: number; readonly versionOff: 9; readonly expireAtMs: number | null }
  | ({ readonly type: T4['Stream']; readonly versionOff: 65 } & StreamMeta);

/** A string's meta value: `00 ‖ value ‖ reserve(16) ‖ ctime:u64 ‖ etime:u64`; its first reserve byte flags an HLL. */
export const STRING4_SUFFIX = 32;
export const STRING4_MIN = 1 + STRING4_SUFFIX;

/** Whether the string value ending at `end` (its reserve's first byte) is one of Pika's HLLs. */
export function isHll4(value: Buffer, end: number): boolean {
  return (value[end] & 0x80) !== 0;
}

function need(value: Buffer, n: number, where: Where): void {
  if (value.length !== n) throw new CorruptionError(`type ${value[0]} meta value of ${value.length} bytes, expected ${n}`, where());
}

export const LIST4_LEFT = 17;
export const LIST4_RIGHT = 33;

/** Decode a `default` CF value by its type byte; sizes are exact or the record is corrupt. */
export function decodeMeta4(value: Buffer, where: Where): Meta4 {
  if (value.length < 1) throw new CorruptionError('empty meta value', where());
  const type = value[0];
  switch (type) {
    case Type4.String: {
      if (value.length < STRING4_MIN) throw new CorruptionError(`string value of ${value.length} bytes, need ≥ ${STRING4_MIN}`, where());
      const end = value.length - STRING4_SUFFIX;
      return { type, valueStart: 1, valueEnd: end, hll: isHll4(value, end), expireAtMs: time4ToMs(value, value.length - 8) };
    }
    case Type4.Hash:
    case Type4.Set:
    case Type4.ZSet:
      need(value, 45, where);
      return { type, count: value.readUInt32LE(1), versionOff: 5, expireAtMs: time4ToMs(value, 37) };
    case Type4.List:
      need(value, 81, where);
      return { type, count: u64ToNumber(value, 1), versionOff: 9, expireAtMs: time4ToMs(value, 73) };
    case Type4.Stream:
      need(value, 73, where);
      return { type, versionOff: 65, ...decodeStreamFields(value, 5) };
    default:
      throw new CorruptionError(`unknown type byte ${type} in meta value`, where());
  }
}
