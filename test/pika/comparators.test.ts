import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  blackwidowListsDataKeyComparator as bwList,
  blackwidowZSetsScoreKeyComparator as bwScore,
  floydListsDataKeyComparator as flList,
  floydZSetsScoreKeyComparator as flScore,
  pikaComparators,
} from '../../src/snapshot/pika/comparators.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const Z16 = '00'.repeat(16);
const f64 = (x: number): string => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return b.toString('hex');
};

test('exports the four comparators under the names RocksDB stores', () => {
  assert.deepEqual(
    pikaComparators.map((c) => c.name),
    [
      'blackwidow.ListsDataKeyComparator',
      'blackwidow.ZSetsScoreKeyComparator',
      'floyd.ListsDataKeyComparator',
      'floyd.ZSetsScoreKeyComparator',
    ],
  );
});

test('orders A–C list elements by numeric index, not by bytes (real 3.2.7 keys)', () => {
  const head = h('07000000 6c3a6f72646572 b814076b feffffffffffff7f');
  const tail = h('07000000 6c3a6f72646572 b814076b 0200000000000080');
  assert.equal(bwList.compare(head, tail), -1);
  assert.equal(bwList.compare(tail, head), 1);
  assert.equal(bwList.compare(head, Buffer.from(head)), 0);
  assert.ok(head.compare(tail) > 0, 'bytewise order would be the opposite');
});

test('orders A–C list keys by user key ignoring the length field, then signed version', () => {
  const longKey = h('02000000 6161 01000000 0000000000000000'); // "aa"
  const shortKey = h('01000000 62 01000000 0000000000000000'); // "b"
  assert.equal(bwList.compare(longKey, shortKey), -1);
  const neg = h('01000000 62 ffffffff 0000000000000000'); // version -1
  assert.equal(bwList.compare(neg, shortKey), -1);
  const prefixOnly = h('01000000 62');
  assert.equal(bwList.compare(prefixOnly, shortKey), -1);
});

test('orders A–C zset score keys by prefix bytes, then double score, then member', () => {
  const p = '08000000 7a3a73636f726573 b814076b';
  const negInf = h(p + f64(-Infinity) + '61');
  const minus = h(p + f64(-152) + '61');
  const half = h(p + '000000000000e03f 68616c66');
  const halfB = h(p + '000000000000e03f 68616c6667');
  const inf = h(p + f64(Infinity));
  const sorted = [inf, halfB, minus, half, negInf].sort((x, y) => bwScore.compare(x, y));
  assert.deepEqual(sorted, [negInf, minus, half, halfB, inf]);
  // The length field is part of the compared prefix: shorter keys sort by their LE length first.
  const other = h('01000000 61 00000000' + f64(-1000));
  assert.equal(bwScore.compare(other, negInf), -1);
});

test('orders D list elements by raw key through the delimiter, then version, then index', () => {
  const k = (key: string, ver: string, idx: string): Buffer => h('0000000000000000' + key + '0000' + ver + idx + Z16);
  const head = k('6c6973743a736d616c6c', '3748b813a2010000', 'fdffffffffffff7f');
  const tail = k('6c6973743a736d616c6c', '3748b813a2010000', '0500000000000080');
  assert.equal(flList.compare(head, tail), -1);
  const older = k('6c6973743a736d616c6c', '3648b813a2010001', '0500000000000080');
  const newer = k('6c6973743a736d616c6c', '3748b813a2010001', '0000000000000000');
  assert.equal(flList.compare(older, newer), -1);
  // A key with a NUL (escaped 00 01) sorts before the same prefix + higher bytes, as raw keys do.
  const nul = k('61 0001 62', '0100000000000000', '0000000000000000');
  const a = k('61', '0100000000000000', '0000000000000000');
  const ab = k('6162', '0100000000000000', '0000000000000000');
  assert.deepEqual([ab, nul, a].sort((x, y) => flList.compare(x, y)), [a, nul, ab]);
});

test('orders D zset score keys by key, version, double score, then member and reserve', () => {
  const k = (score: number, member: string): Buffer =>
    h('0000000000000000 7a7365743a73636f726573 0000 4c49b813a2010000' + f64(score) + member + Z16);
  const keys = [k(7, '62'), k(-0.5, '61'), k(-Infinity, '7a'), k(7, '61'), k(Infinity, '')];
  const sorted = [...keys].sort((x, y) => flScore.compare(x, y));
  assert.deepEqual(sorted, [keys[2], keys[1], keys[3], keys[0], keys[4]]);
  // Separators drop the member (score + 1): still comparable without reading past the end.
  const sep = h('0000000000000000 7a7365743a73636f726573 0000 4c49b813a2010000' + f64(8));
  assert.equal(flScore.compare(k(7, '62'), sep), -1);
  assert.equal(flScore.compare(sep, k(Infinity, '')), -1);
});
