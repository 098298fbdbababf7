/**
 * Pika 3.2–3.5 ("blackwidow") value and key encodings, families A–C (storage.md §2.1). Decoders
 * return offsets into the given buffers rather than copies: the caller decides what to keep.
 */
import { CorruptionError, type Where } from '../../core/errors.js';
import { decodeStreamFields, type StreamMeta } from './stream-format.js';
import { u64ToNumber } from './u64.js';

/** `expire:i32` seconds (0 = none) as absolute ms, or null when persistent. */
export function expireSecondsToMs(expire: number): number | null {
  return expire === 0 ? null : expire * 1000;
}

/** String value: `value ‖ expire:i32`. Returns the end of the user value and the expiry. */
export function decodeStringValue3(value: Buffer, where: Where): { valueEnd: number; expireAtMs: number | null } {
  if (value.length < 4) throw new CorruptionError(`string value of ${value.length} bytes, need ≥ 4`, where());
  const end = value.length - 4;
  return { valueEnd: end, expireAtMs: expireSecondsToMs(value.readInt32LE(end)) };
}

/** Meta of a hash, set or zset: `count:u32 ‖ version:i32 ‖ expire:i32`. */
export interface BaseMeta3 {
  readonly count: number;
  readonly version: number;
  readonly expireAtMs: number | null;
}

export function decodeBaseMeta3(value: Buffer, where: Where): BaseMeta3 {
  if (value.length !== 12) throw new CorruptionError(`meta value of ${value.length} bytes, expected 12`, where());
  return {
    count: value.readInt32LE(0),
    version: value.readInt32LE(4),
    expireAtMs: expireSecondsToMs(value.readInt32LE(8)),
  };
}

/** List meta: `count:u64 ‖ version:i32 ‖ expire:i32 ‖ left:u64 ‖ right:u64`; indexes stay as bytes. */
export interface ListMeta3 {
  readonly count: number;
  readonly version: number;
  readonly expireAtMs: number | null;
  /** The 32-byte meta value; `left` at offset 16, `right` at 24 (compare with `compareU64`). */
  readonly raw: Buffer;
}

export const LIST3_LEFT = 16;
export const LIST3_RIGHT = 24;

export function decodeListMeta3(value: Buffer, where: Where): ListMeta3 {
  if (value.length !== 32) throw new CorruptionError(`list meta value of ${value.length} bytes, expected 32`, where());
  return {
    count: u64ToNumber(value, 0),
    version: value.readInt32LE(8),
    expireAtMs: expireSecondsToMs(value.readInt32LE(12)),
    raw: value,
  };
}

/**
 * Data key `len:u32 ‖ key ‖ version:i32 ‖ suffix` (hash field, set member, zset member, list index,
 * stream ID). `keyEnd` is the end of the user key, `suffixStart` the start of the suffix.
 */
export interface DataKey3 {
  readonly keyEnd: number;
  readonly version: number;
  readonly suffixStart: number;
}

export const DATA3_KEY_START = 4;

/** `len:u32 ‖ key`: sorts before every data key of `key` and after those of the keys before it. */
export function dataKeyPrefix3(key: Buffer): Buffer {
  const b = Buffer.allocUnsafe(4 + key.length);
  b.writeUInt32LE(key.length, 0);
  key.copy(b, 4);
  return b;
}

export function decodeDataKey3(key: Buffer, where: Where): DataKey3 {
  if (key.length < 8) throw new CorruptionError(`data key of ${key.length} bytes, need ≥ 8`, where());
  const keyEnd = 4 + key.readUInt32LE(0);
  if (keyEnd + 4 > key.length) {
    throw new CorruptionError(`data key length field ${keyEnd - 4} overruns its ${key.length}-byte key`, where());
  }
  return { keyEnd, version: key.readInt32LE(keyEnd), suffixStart: keyEnd + 4 };
}

/**
 * decodeDataKey3's `keyEnd` alone, or -1 where it would throw (call it then for the error): the
 * joins ask it of every data entry, and its object and the report closure made for the call were
 * two of the ~6 objects an element cost to read. The version is at keyEnd, the suffix at keyEnd + 4.
 */
export function dataKeyEnd3(key: Buffer): number {
  if (key.length < 8) return -1;
  const keyEnd = 4 + key.readUInt32LE(0);
  return keyEnd + 4 > key.length ? -1 : keyEnd;
}

/** Stream meta (3.5.3+, 68 B): `groups_id:u32 ‖ entries_added ‖ first ‖ last ‖ max_deleted ‖ length:i32 ‖ version:i32`. */
export interface StreamMeta3 extends StreamMeta {
  readonly version: number;
}

export function decodeStreamMeta3(value: Buffer, where: Where): StreamMeta3 {
  if (value.length !== 68) throw new CorruptionError(`stream meta value of ${value.length} bytes, expected 68`, where());
  return { ...decodeStreamFields(value, 4), version: value.readInt32LE(64) };
}
