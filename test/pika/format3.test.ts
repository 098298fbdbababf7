import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorruptionError } from '../../src/core/errors.js';
import {
  decodeBaseMeta3,
  decodeDataKey3,
  decodeListMeta3,
  decodeStreamMeta3,
  decodeStringValue3,
  LIST3_LEFT,
  LIST3_RIGHT,
} from '../../src/snapshot/pika/format3.js';
import { compareU64 } from '../../src/snapshot/pika/u64.js';

// Real records from storage-observed.md §4 (3.2.7 and 3.5.5 dumps).
const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const at = (): string => 'test record';

test('decodes a 3.x string value and its expiry in seconds as absolute ms', () => {
  const plain = h('76302d75 00000000');
  const p = decodeStringValue3(plain, at);
  assert.equal(plain.subarray(0, p.valueEnd).toString(), 'v0-u');
  assert.equal(p.expireAtMs, null);
  const ttl = h('77697468204558203120646179 3866086b');
  const t = decodeStringValue3(ttl, at);
  assert.equal(ttl.subarray(0, t.valueEnd).toString(), 'with EX 1 day');
  assert.equal(t.expireAtMs, 1795712568000);
});

test('decodes 12-byte metas (count, version, expire) and rejects other sizes', () => {
  assert.deepEqual(decodeBaseMeta3(h('04000000 b814076b 00000000'), at), { count: 4, version: 1795626168, expireAtMs: null });
  assert.deepEqual(decodeBaseMeta3(h('07000000 3e16076b 00943577'), at), { count: 7, version: 1795626558, expireAtMs: 2000000000000 });
  assert.throws(() => decodeBaseMeta3(h('04000000 b814076b 0000'), at), CorruptionError);
});

test('decodes a hash data key into user key, version and field', () => {
  const k = h('0a000000 686173683a736d616c6c 3e16076b 62696e00fe');
  const d = decodeDataKey3(k, at);
  assert.equal(k.subarray(4, d.keyEnd).toString(), 'hash:small');
  assert.equal(d.version, 1795626558);
  assert.deepEqual(k.subarray(d.suffixStart), h('62696e00fe'));
  // storage.md §2.6 worked example.
  const ex = decodeDataKey3(h('01000000 68 00105e5f 66'), at);
  assert.equal(ex.version, 1600000000);
  assert.throws(() => decodeDataKey3(h('09000000 6162 00000000'), at), CorruptionError);
});

test('decodes a list meta; the elements lie strictly between left and right', () => {
  const m = decodeListMeta3(h('0500000000000000 b814076b 00000000 fdffffffffffff7f 0300000000000080'), at);
  assert.equal(m.count, 5);
  assert.equal(m.version, 1795626168);
  const head = h('07000000 6c3a6f72646572 b814076b feffffffffffff7f');
  const tail = h('07000000 6c3a6f72646572 b814076b 0200000000000080');
  const beyond = h('07000000 6c3a6f72646572 b814076b 0300000000000080');
  const inside = (k: Buffer): boolean => {
    const off = decodeDataKey3(k, at).suffixStart;
    return compareU64(k, off, m.raw, LIST3_LEFT) > 0 && compareU64(k, off, m.raw, LIST3_RIGHT) < 0;
  };
  assert.equal(inside(head), true);
  assert.equal(inside(tail), true);
  assert.equal(inside(beyond), false);
  // 3.5.5 `gone:list`: DEL leaves count 0 (dead) and a new version.
  const gone = decodeListMeta3(h('0000000000000000 3f16076b 00000000 ffffffffffffff7f 0000000000000080'), at);
  assert.equal(gone.count, 0);
});

test('reads zset scores bit-exactly, infinities and denormals included', () => {
  assert.equal(h('000000000000f0ff').readDoubleLE(0), -Infinity);
  assert.equal(h('c413000000000000').readDoubleLE(0), 2.5e-320);
  assert.ok(Object.is(h('0000000000000080').readDoubleLE(0), -0));
});

test('decodes a 3.5 stream meta: DELeted (all zero) vs live', () => {
  const live = decodeStreamMeta3(
    h(
      '00000000 0400000000000000 0500000000000000 0000000000000000 0600000000000000 0000000000000000 0600000000000000 0000000000000000 03000000 02000000',
    ),
    at,
  );
  // storage-observed.md §4: first 5-0 is wrong there (N1) and not read.
  assert.deepEqual(live, { length: 3, version: 2, state: { entriesAdded: '4', lastId: '6-0', maxDeletedId: '6-0' } });
});
