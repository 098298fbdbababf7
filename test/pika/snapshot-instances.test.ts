import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { slotOf } from '../../src/snapshot/pika/instance-count.js';
import { readSnapshot } from '../../src/snapshot/pika/snapshot.js';
import { fold, loadExpected } from './expected.js';
import { FIXTURES } from '../helpers/fixtures.js';

const REAL = `${FIXTURES}/snapshots/4.0.1-base`;

test('reports a 4.0 key found in two instances and emits it once, from the lower instance', async () => {
  const work = mkdtempSync(join(tmpdir(), 'pika-instances-'));
  try {
    // Instance 0 of the real dump, twice: what a master whose db-instance-num changed could hold.
    const two = join(work, 'two');
    cpSync(join(REAL, 'dump/db0/0'), join(two, '0'), { recursive: true });
    cpSync(join(REAL, 'dump/db0/0'), join(two, '1'), { recursive: true });
    writeFileSync(join(two, 'info'), '0s\n127.0.0.1\n9221\n0\n0\n');
    const at = loadExpected(join(REAL, 'expected.json')).at;
    const opts = { db: 0, nowMs: at, chunkSize: 100, chunkBytes: 1 << 16 };
    // Instance 0's keys, from the whole dump (instance 0 alone is refused: its keys say 3 instances).
    const all = await fold(readSnapshot(join(REAL, 'dump/db0'), opts), 0);
    const single = { values: new Map([...all.values].filter(([id]) => slotOf(Buffer.from(id.split(' ')[0], 'hex')) % 3 === 0)) };
    const dupes: string[] = [];
    const twice = await fold(readSnapshot(two, { ...opts, onSkipped: (k, why) => dupes.push(`${k.toString('hex')} ${why}`) }), 0);
    assert.ok(single.values.size > 500, `instance 0 holds ${single.values.size} live keys`);
    const canon = (f: typeof single) => [...f.values.entries()].map(([id, v]) => [id, v.canon, v.expireAtMs]).sort();
    assert.deepEqual(canon(twice), canon(single));
    assert.ok(dupes.length >= single.values.size);
    assert.ok(dupes.every((d) => d.endsWith('duplicate: also in instance 0, which is used; copy in instance 1 ignored')));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
