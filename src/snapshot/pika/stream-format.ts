/**
 * Pika's stream encodings, shared by 3.5.3+ (A–C layout, `streams/`) and 4.0 (D, `stream_data_cf`)
 * (storage.md §2.1.3, §2.3.2; storage-observed.md W2, N1): the meta's IDs are little-endian u64
 * pairs, a data key ends with the entry ID as two big-endian u64 (so keys sort in ID order), and
 * a data value is the message as `len:u32 LE ‖ bytes` items, field and value alternating.
 */
import { CorruptionError, type Where } from '../../core/errors.js';
import type { StreamState } from '../../core/record.js';

/** Bytes of a stream ID in a data key. */
export const STREAM_ID_BYTES = 16;

/** The stream meta fields after the type byte (D) or from the start (A–C). */
export interface StreamMeta {
  readonly length: number;
  readonly state: StreamState;
}

/** `entries_added:u64 ‖ first ‖ last ‖ max_deleted ‖ length:i32` starting at `at` (after groups_id). */
export function decodeStreamFields(value: Buffer, at: number): StreamMeta {
  const id = (o: number): string => `${value.readBigUInt64LE(o)}-${value.readBigUInt64LE(o + 8)}`;
  // first_id (at + 8) is not read: XDEL of the last entry leaves it wrong (N1); entries decide.
  return {
    length: value.readInt32LE(at + 56),
    state: { entriesAdded: value.readBigUInt64LE(at).toString(), lastId: id(at + 24), maxDeletedId: id(at + 40) },
  };
}

/** The ID at `key[at, at + 16)` (big-endian ms, seq) as `ms-seq`. */
export function streamIdOf(key: Buffer, at: number): string {
  return `${key.readBigUInt64BE(at)}-${key.readBigUInt64BE(at + 8)}`;
}

/**
 * The message of a data value: its items (field, value, field, value, …). Pika writes at least one
 * pair (XADD needs one); anything else, or an item overrunning the value, is corrupt.
 */
export function decodeStreamMessage(value: Buffer, where: Where): Buffer[] {
  const items: Buffer[] = [];
  let pos = 0;
  while (pos < value.length) {
    if (pos + 4 > value.length) throw new CorruptionError(`stream message: ${value.length - pos} stray bytes at ${pos}`, where());
    const len = value.readUInt32LE(pos);
    pos += 4;
    if (pos + len > value.length) throw new CorruptionError(`stream message: item of ${len} bytes at ${pos - 4} overruns the ${value.length}-byte value`, where());
    items.push(value.subarray(pos, pos + len));
    pos += len;
  }
  if (items.length === 0 || items.length % 2 !== 0) throw new CorruptionError(`stream message of ${items.length} items, expected field/value pairs`, where());
  return items;
}
