import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SnapshotRecord } from '../../src/core/record.js';
import { KeyChunker, RecordSequence } from '../../src/snapshot/pika/chunker.js';

function run(chunkSize: number, chunkBytes: number, sizes: number[]): SnapshotRecord[] {
  const seqs = new RecordSequence(3);
  const ch = new KeyChunker(seqs, chunkSize, chunkBytes);
  ch.start('list', Buffer.from('k'), 123);
  const out: SnapshotRecord[] = [];
  sizes.forEach((n, i) => {
    const r = ch.add(Buffer.alloc(n, i), n);
    if (r !== null) out.push(r);
  });
  const last = ch.finish();
  if (last !== null) out.push(last);
  return out;
}

test('cuts a key into chunks of at most chunkSize elements, flagging first and last', () => {
  const recs = run(2, 1 << 20, [1, 1, 1, 1, 1]);
  assert.deepEqual(
    recs.map((r) => [r.type === 'list' ? r.elements.length : -1, r.first, r.last, r.pos]),
    [
      [2, true, false, { kind: 'snapshot', db: 3, seq: 0 }],
      [2, false, false, { kind: 'snapshot', db: 3, seq: 1 }],
      [1, false, true, { kind: 'snapshot', db: 3, seq: 2 }],
    ],
  );
  assert.ok(recs.every((r) => r.expireAtMs === 123 && r.key.toString() === 'k' && r.db === 3));
});

test('closes a chunk once it reaches chunkBytes, and a key that fits is one first+last record', () => {
  const recs = run(100, 10, [6, 6, 1, 9, 3]);
  assert.deepEqual(
    recs.map((r) => (r.type === 'list' ? r.elements.map((e) => e.length) : [])),
    [[6, 6], [1, 9], [3]],
  );
  const one = run(100, 100, [1, 2, 3]);
  assert.equal(one.length, 1);
  assert.ok(one[0].first && one[0].last);
  assert.deepEqual(run(10, 10, []), []);
});

test('a full last chunk is still flagged last (no empty trailing record)', () => {
  const recs = run(2, 1 << 20, [1, 1, 1, 1]);
  assert.deepEqual(recs.map((r) => [r.first, r.last]), [[true, false], [false, true]]);
});
