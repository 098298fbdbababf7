/**
 * The reader against dumps that real RocksDB wrote in Pika's layouts from a description
 * (pika-dump-writer.ts), for families A–C and D and each table/WAL knob: what comes out must be
 * exactly the description's live keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataType } from '../../src/core/record.js';
import { readSnapshot } from '../../src/snapshot/pika/snapshot.js';
import { fold } from './expected.js';
import { expectedOf, writePikaDump, type DumpDesc, type KeyDesc } from './pika-dump-writer.js';

const NOW = Date.now();
const HOUR = 3_600_000;

/** Every type, with the states Pika leaves on disk; `same` adds names held in several types (A–C only). */
function keys(family: DumpDesc['family']): KeyDesc[] {
  const big = Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`f${String(i).padStart(4, '0')}`, `v${i}`.repeat(3)]));
  const ks: KeyDesc[] = [
    { name: 's:plain', type: 'string', value: 'v' },
    { name: 'hex:00ff0001', type: 'string', value: 'hex:00000102' },
    { name: 's:empty', type: 'string', value: '' },
    { name: 's:ttl', type: 'string', value: 'later', expireAt: NOW + HOUR },
    { name: 's:expired', type: 'string', value: 'gone', expireAt: NOW - HOUR },
    { name: 's:deleted', type: 'string', value: 'gone', deleted: true },
    { name: 's:stale', type: 'string', value: 'new', staleVersion: true },
    { name: 's:wal', type: 'string', value: 'only in the WAL', unflushed: true, instance: 1 },
    { name: 'h:small', type: 'hash', value: { a: '1', b: '2' }, expireAt: NOW + HOUR },
    { name: 'h:big', type: 'hash', value: big },
    { name: 'h:stale', type: 'hash', value: { live: 'yes' }, staleVersion: true, instance: 1 },
    { name: 'h:deleted', type: 'hash', value: { f: 'gone' }, deleted: true },
    { name: 'h:expired', type: 'hash', value: { f: 'gone' }, expireAt: NOW - HOUR },
    { name: 'l:1', type: 'list', value: ['c', 'a', 'b', 'a'] },
    { name: 'l:big', type: 'list', value: Array.from({ length: 1200 }, (_, i) => `e${i}`) },
    { name: 'l:stale', type: 'list', value: ['x'], staleVersion: true },
    { name: 'l:deleted', type: 'list', value: ['gone'], deleted: true },
    { name: 'st:1', type: 'set', value: ['m1', 'hex:00', 'm2'] },
    { name: 'st:wal', type: 'set', value: ['w'], unflushed: true },
    { name: 'z:1', type: 'zset', value: [['lo', '-inf'], ['neg', '-2.5'], ['zero', '0'], ['a', '1'], ['b', '1'], ['hi', 'inf'], ['tiny', '5e-324']] },
    { name: 'z:stale', type: 'zset', value: [['m', '3']], staleVersion: true, expireAt: NOW + HOUR },
    { name: 'z:deleted', type: 'zset', value: [['m', '3']], deleted: true },
  ];
  if (family === 'A-C') {
    // Pika 3.x keeps one name in several types; Redis holds one.
    ks.push(
      { name: 'same', type: 'zset', value: [['m', '1']] },
      { name: 'same', type: 'hash', value: { f: 'v' } },
      { name: 'same', type: 'list', value: ['x'] },
      { name: 'same2', type: 'set', value: ['only a set is left'] },
      { name: 'same2', type: 'string', value: 'dead', expireAt: NOW - HOUR },
    );
  }
  return ks;
}

const KNOBS: Array<{ label: string; desc: Omit<DumpDesc, 'keys'> }> = [
  { label: 'A–C, format_version 2, snappy, binary index (as Pika 3.2–3.4 write)', desc: { family: 'A-C', options: { format_version: 2, compression: 'snappy', index: 'binary' } } },
  { label: 'A–C, format_version 5, zstd, two-level index, small blocks, xxh3', desc: { family: 'A-C', options: { format_version: 5, compression: 'zstd', index: 'two_level', block_size: 256, checksum: 'xxh3' } } },
  { label: 'A–C, format_version 4, lz4, first-key index, bloom', desc: { family: 'A-C', options: { format_version: 4, compression: 'lz4', index: 'first_key', bloom: 1 } } },
  { label: 'D 4.0.1, two instances, format_version 5, zstd, xxh3', desc: { family: 'D', instances: 2, options: { format_version: 5, compression: 'zstd', checksum: 'xxh3' } } },
  { label: 'D 4.0.0 (times in seconds), no compression, two-level index, small blocks', desc: { family: 'D', instances: 2, msTimes: false, options: { format_version: 3, compression: 'none', index: 'two_level', block_size: 200 } } },
];

for (const { label, desc: knobs } of KNOBS) {
  test(`reads exactly the live keys of a RocksDB-written dump: ${label}`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'pm-pikadump-'));
    try {
      const desc: DumpDesc = { ...knobs, keys: keys(knobs.family) };
      const dir = writePikaDump(desc, root, NOW);
      const conflicts: Array<[string, DataType, DataType]> = [];
      const got = await fold(readSnapshot(dir, { db: 0, nowMs: NOW, chunkSize: 100, chunkBytes: 1 << 20, onTypeConflict: (k, loser, winner) => conflicts.push([k.toString(), loser, winner]) }), 0);
      const want = expectedOf(desc, NOW);
      assert.deepEqual([...got.values.keys()].sort(), [...want.keys()].sort(), 'the same keys');
      for (const [id, w] of want) {
        const g = got.values.get(id)!;
        assert.equal(g.canon, w.canon, `${id} value`);
        assert.equal(g.expireAtMs, w.expireAtMs, `${id} expiry`);
      }
      assert.ok(got.maxChunkElements <= 100, 'big keys come in chunks');
      if (knobs.family === 'A-C') {
        // hash comes first in the default order; the dead string of same2 is no rival of its set.
        assert.deepEqual(conflicts.map((c) => c.join(' ')).sort(), ['same list hash', 'same zset hash']);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}

test('type-order decides which type of a shared name is read (A–C)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'pm-pikadump-'));
  try {
    const desc: DumpDesc = { family: 'A-C', keys: keys('A-C') };
    const dir = writePikaDump(desc, root, NOW);
    const order: DataType[] = ['zset', 'list', 'hash', 'set', 'string'];
    const got = await fold(readSnapshot(dir, { db: 0, nowMs: NOW, chunkSize: 100, chunkBytes: 1 << 20, typeOrder: order }), 0);
    const want = expectedOf(desc, NOW, order);
    assert.ok(want.has(`${Buffer.from('same').toString('hex')} zset`));
    assert.deepEqual([...got.values.keys()].sort(), [...want.keys()].sort());
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
