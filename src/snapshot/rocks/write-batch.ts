/**
 * WriteBatch decoding (storage.md §3.5.1): `sequence:fixed64 ‖ count:fixed32 ‖ records…`; each
 * data operation consumes one sequence number.
 */
import { Cursor } from './coding.js';

export type BatchOp =
  | { kind: 'put'; cf: number; seq: number; key: Buffer; value: Buffer }
  | { kind: 'delete'; cf: number; seq: number; key: Buffer }
  | { kind: 'singleDelete'; cf: number; seq: number; key: Buffer }
  | { kind: 'deleteRange'; cf: number; seq: number; key: Buffer; end: Buffer }
  | { kind: 'merge'; cf: number; seq: number; key: Buffer; value: Buffer }
  | { kind: 'blobIndex'; cf: number; seq: number; key: Buffer; value: Buffer }
  | { kind: 'entity'; cf: number; seq: number; key: Buffer; value: Buffer };

export interface DecodedBatch {
  readonly sequence: number;
  readonly count: number;
  readonly ops: BatchOp[];
}

const HEADER = 12;

export function decodeWriteBatch(data: Buffer, file: string, base: number): DecodedBatch {
  const c = Cursor.of(data, file, base);
  if (data.length < HEADER) c.fail(`write batch of ${data.length} bytes is shorter than its header`);
  const sequence = c.fixed64();
  const count = c.fixed32();
  const ops: BatchOp[] = [];
  let seq = sequence;
  while (c.remaining > 0) {
    const at = c.pos;
    const tag = c.u8();
    switch (tag) {
      case 0x01:
      case 0x05: {
        const cf = tag === 0x05 ? c.varint32() : 0;
        const key = c.lengthPrefixed();
        ops.push({ kind: 'put', cf, seq: seq++, key, value: c.lengthPrefixed() });
        break;
      }
      case 0x00:
      case 0x04: {
        const cf = tag === 0x04 ? c.varint32() : 0;
        ops.push({ kind: 'delete', cf, seq: seq++, key: c.lengthPrefixed() });
        break;
      }
      case 0x07:
      case 0x08: {
        const cf = tag === 0x08 ? c.varint32() : 0;
        ops.push({ kind: 'singleDelete', cf, seq: seq++, key: c.lengthPrefixed() });
        break;
      }
      case 0x0f:
      case 0x0e: {
        const cf = tag === 0x0e ? c.varint32() : 0;
        const key = c.lengthPrefixed();
        ops.push({ kind: 'deleteRange', cf, seq: seq++, key, end: c.lengthPrefixed() });
        break;
      }
      case 0x02:
      case 0x06: {
        const cf = tag === 0x06 ? c.varint32() : 0;
        const key = c.lengthPrefixed();
        ops.push({ kind: 'merge', cf, seq: seq++, key, value: c.lengthPrefixed() });
        break;
      }
      case 0x11:
      case 0x10: {
        const cf = tag === 0x10 ? c.varint32() : 0;
        const key = c.lengthPrefixed();
        ops.push({ kind: 'blobIndex', cf, seq: seq++, key, value: c.lengthPrefixed() });
        break;
      }
      case 0x16:
      case 0x17: {
        const cf = tag === 0x17 ? c.varint32() : 0;
        const key = c.lengthPrefixed();
        ops.push({ kind: 'entity', cf, seq: seq++, key, value: c.lengthPrefixed() });
        break;
      }
      case 0x03: // log data: no sequence
        c.lengthPrefixed();
        break;
      case 0x0d: // noop
      case 0x09: // begin prepare
      case 0x12:
      case 0x13:
        break;
      case 0x0a: // end prepare
      case 0x0b: // commit
      case 0x0c: // rollback
        c.lengthPrefixed();
        break;
      case 0x15: // commit with timestamp
        c.lengthPrefixed();
        c.lengthPrefixed();
        break;
      default:
        c.fail(`unknown write batch record tag 0x${tag.toString(16)}`, at);
    }
  }
  if (ops.length !== count) c.fail(`write batch says ${count} operations but holds ${ops.length}`, 8);
  return { sequence, count, ops };
}
