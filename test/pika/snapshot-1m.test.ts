import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSnapshot } from '../../src/snapshot/pika/snapshot.js';
import { FIXTURES } from '../helpers/fixtures.js';

const DIR = `${FIXTURES}/snapshots/3.2.7-1m-strings/dump/db0`;

test('reads the 1M-strings 3.2.7 dump as 1,000,000 string records with their values', async () => {
  let n = 0;
  const bad: string[] = [];
  const seen = new Uint8Array(1_000_000);
  for await (const r of readSnapshot(DIR, { db: 0, nowMs: Date.now(), chunkSize: 512, chunkBytes: 1 << 20 })) {
    // Plain checks in the loop (assert per record would dominate the run); failures are collected.
    const k = r.key.toString('latin1');
    const i = Number(k.slice(2));
    if (r.type !== 'string' || r.pos.kind !== 'snapshot' || r.pos.seq !== n || !r.first || !r.last || r.expireAtMs !== null) bad.push(`record ${n} framing`);
    else if (k.length !== 9 || !k.startsWith('k:') || !(i >= 0 && i < 1e6) || seen[i] !== 0) bad.push(`key ${k}`);
    else {
      seen[i] = 1;
      if (r.value.toString('latin1') !== `val-${String((i * 7919) % 1e11).padStart(11, '0')}`) bad.push(`value of ${k}`);
    }
    if (bad.length > 10) break;
    n++;
  }
  assert.deepEqual(bad, []);
  assert.equal(n, 1_000_000);
});
