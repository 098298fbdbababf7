/** The meters behind INFO's rates and sizes: per-second rates from a clock, directory sizes walked in the background. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DirSizes, dirBytes } from '../../src/ops/dir-size.js';
import { RateMeter } from '../../src/ops/rate-meter.js';
import { tempDir } from '../replication/support.js';

test('RateMeter: units per second over the last interval; 0 before two samples; never negative', () => {
  let now = 1000;
  let total = 0;
  const m = new RateMeter(() => ({ ops: total }), 1000, () => now);
  m.sample();
  assert.equal(m.perSecond('ops'), 0);
  total = 500;
  now = 1500;
  m.sample();
  assert.equal(m.perSecond('ops'), 1000, '500 in half a second');
  total = 100; // a new migration starts counting from 0 again
  now = 2500;
  m.sample();
  assert.equal(m.perSecond('ops'), 0);
});

test('dirBytes sums the files below a directory; DirSizes serves the last walk and walks again when stale', async () => {
  const dir = tempDir('pm-dirsize-');
  try {
    mkdirSync(join(dir, 'a/b'), { recursive: true });
    writeFileSync(join(dir, 'x'), Buffer.alloc(100));
    writeFileSync(join(dir, 'a/b/y'), Buffer.alloc(23));
    assert.equal(await dirBytes(dir), 123);
    assert.equal(await dirBytes(join(dir, 'absent')), 0);
    const sizes = new DirSizes([dir], 0);
    assert.equal(sizes.get(dir), 0, 'nothing walked yet: 0, and a walk starts');
    await sizes.refresh();
    assert.equal(sizes.get(dir), 123);
    writeFileSync(join(dir, 'z'), Buffer.alloc(7));
    await sizes.refresh();
    assert.equal(sizes.get(dir), 130);
    const cached = new DirSizes([dir], 60_000);
    await cached.refresh();
    writeFileSync(join(dir, 'w'), Buffer.alloc(1));
    assert.equal(cached.get(dir), 130, 'within the minute: the last walk');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
