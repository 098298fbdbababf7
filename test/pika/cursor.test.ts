import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openRocksDb } from '../../src/snapshot/rocks/db.js';
import { pikaComparators } from '../../src/snapshot/pika/comparators.js';
import { BatchCursor, ForwardLookup } from '../../src/snapshot/pika/cursor.js';
import { FIXTURES } from '../helpers/fixtures.js';

const HASHES = `${FIXTURES}/snapshots/3.2.7-base/dump/db0/hashes`;

test('a batch cursor visits every pair of a CF in order', async () => {
  const db = await openRocksDb(HASHES, { comparators: pikaComparators });
  const direct: string[] = [];
  for await (const { key } of db.scan('data_cf')) direct.push(key.toString('hex'));
  const c = await BatchCursor.open(db, 'data_cf', { batchSize: 7 });
  const viaCursor: string[] = [];
  while (!c.done) {
    viaCursor.push(c.current!.key.toString('hex'));
    const p = c.advance();
    if (p !== undefined) await p;
  }
  assert.deepEqual(viaCursor, direct);
  assert.ok(direct.length > 5000);
  await db.close();
});

test('forward lookups answer like point reads, in any order, for present and absent keys', async () => {
  const db = await openRocksDb(HASHES, { comparators: pikaComparators });
  const keys: Buffer[] = [];
  for await (const { key } of db.scan('default')) keys.push(key);
  const absent = [Buffer.from(''), Buffer.from('h:1x'), Buffer.from('zzzz'), Buffer.from('h:'), Buffer.from([0xff, 0xff])];
  // Ascending with gaps (the common case), then descending, then a shuffled mix.
  const asc = [...keys.filter((_, i) => i % 3 === 0), ...absent].sort(Buffer.compare);
  const desc = [...asc].reverse();
  const mixed = [...keys, ...absent].map((k, i) => [k, (i * 7919) % 1013] as const).sort((a, b) => a[1] - b[1]).map((x) => x[0]);
  for (const [order, steps] of [
    [asc, 256],
    [desc, 256],
    [mixed, 4],
  ] as const) {
    const fl = new ForwardLookup(db, 'default', undefined, steps);
    for (const k of order) {
      const want = await db.get('default', k);
      const got = await fl.get(k);
      assert.deepEqual(got === null ? null : Buffer.from(got), want, `key ${k.toString('latin1')}`);
    }
    await fl.close();
  }
  await db.close();
});
