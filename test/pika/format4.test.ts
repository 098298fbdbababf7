import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorruptionError } from '../../src/core/errors.js';
import { decodeMeta4, decodeUserKey4, encodedKeyEnd4, metaKey4Shape, time4ToMs, Type4 } from '../../src/snapshot/pika/format4.js';

// Real records from storage-observed.md §4 (4.0.1 dump) and W1; Z16 = 16 zero bytes.
const Z16 = '00'.repeat(16);
const h = (s: string): Buffer => Buffer.from(s.replace(/Z16/g, Z16).replace(/\s+/g, ''), 'hex');
const at = (): string => 'test record';

test('reads 4.0.1 times (ms with bit 63), 4.0.0 seconds, and 0 as none', () => {
  assert.equal(time4ToMs(h('1d43b813a2010080'), 0), 1795627172637);
  assert.equal(time4ToMs(h('7b30fd7790010080'), 0), 1720000000123);
  assert.equal(time4ToMs(h('0000000000000000'), 0), null);
  assert.equal(time4ToMs(h('00943577 00000000'), 0), 2000000000000);
});

test('decodes a string meta with its TTL and finds the user value', () => {
  const v = h('00 70782074776f2064617973 Z16 5e44b813a2010080 5efc041ea2010080');
  const m = decodeMeta4(v, at);
  assert.equal(m.type, Type4.String);
  if (m.type !== Type4.String) return;
  assert.equal(v.subarray(m.valueStart, m.valueEnd).toString(), 'px two days');
  assert.equal(m.expireAtMs, 1795799972958);
  assert.equal(m.hll, false);
});

test('flags a HyperLogLog by the reserve bit (N4)', () => {
  const regs = Buffer.alloc(1 << 17);
  const v = Buffer.concat([h('00'), regs, h('80' + '00'.repeat(15)), h('2f2bbf13a2010000 0000000000000000')]);
  assert.equal(v.length, 131105);
  const m = decodeMeta4(v, at);
  assert.ok(m.type === Type4.String && m.hll);
});

test('decodes hash, set, zset, list and stream metas of the 4.0.1 dump', () => {
  const hash = decodeMeta4(h('01 07000000 6044b813a2010000 Z16 6044b813a2010080 0000000000000000'), at);
  assert.deepEqual(hash, { type: Type4.Hash, count: 7, versionOff: 5, expireAtMs: null });
  const set = decodeMeta4(h('02 04000000 4a49b813a2010000 Z16 4a49b813a2010080 0000000000000000'), at);
  assert.equal(set.type === Type4.Set && set.count, 4);
  const list = decodeMeta4(
    h('03 0900000000000000 3748b813a2010000 fcffffffffffff7f 7ee9c9bb7f0000f0 0600000000000080 0000000000000080 Z16 3748b813a2010080 0000000000000000'),
    at,
  );
  assert.deepEqual(list, { type: Type4.List, count: 9, versionOff: 9, expireAtMs: null });
  const stream = decodeMeta4(
    h(
      '05 00000000 0400000000000000 0500000000000000 0000000000000000 0600000000000000 0000000000000000 0600000000000000 0000000000000000 03000000 0200000000000000',
    ),
    at,
  );
  assert.deepEqual(stream, { type: Type4.Stream, versionOff: 65, length: 3, state: { entriesAdded: '4', lastId: '6-0', maxDeletedId: '6-0' } });
  // N3: ctime 0 in a live meta is fine.
  const recreated = decodeMeta4(h('01 01000000 6444b813a2010000 Z16 0000000000000000 0000000000000000'), at);
  assert.equal(recreated.type === Type4.Hash && recreated.count, 1);
  assert.throws(() => decodeMeta4(h('01 07000000'), at), CorruptionError);
  assert.throws(() => decodeMeta4(h('09' + '00'.repeat(44)), at), CorruptionError);
});

test('decodes E(key): plain names and escaped 00 bytes', () => {
  const plain = h('0000000000000000 62696efe6b6579ff01 0000 Z16');
  const s = metaKey4Shape(plain);
  assert.equal(s.wellFormed, true);
  assert.deepEqual(decodeUserKey4(plain, 8, s.encEnd), h('62696efe6b6579ff01'));
  // storage.md §2.6, the intended encoding of `a\0b`.
  const intended = h('0000000000000000 61 0001 62 0000 Z16');
  const i = metaKey4Shape(intended);
  assert.equal(i.wellFormed, true);
  assert.deepEqual(decodeUserKey4(intended, 8, i.encEnd), Buffer.from('a\0b', 'latin1'));
});

test('recognises keys 4.0.1 wrote mangled (W1) instead of decoding a wrong name', () => {
  for (const raw of [
    '0000000000000000 61 0001 0000 Z16 00',
    '0000000000000000 78 0001 0000 Z16 7f0000',
    '0000000000000000 0001 0000 Z16 5b7f0000',
  ]) {
    assert.equal(metaKey4Shape(h(raw)).wellFormed, false, raw);
  }
  assert.equal(metaKey4Shape(h('0000000000000000 706c61696e 0000 Z16')).wellFormed, true);
});

test('finds where E(key) ends in a data key (version follows it)', () => {
  const dk = h('0000000000000000 686173683a736d616c6c 0000 6044b813a2010000 62696e00fe Z16');
  assert.equal(encodedKeyEnd4(dk), 8 + 10 + 2);
  assert.equal(encodedKeyEnd4(h('0000000000000000 6162')), -1);
});
