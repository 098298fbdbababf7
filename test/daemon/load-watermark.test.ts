import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/log.js';
import { loadSnapshot } from '../../src/daemon/load-snapshot.js';
import { LoadWatermark } from '../../src/daemon/load-watermark.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startRedis } from '../helpers/redis.js';
import { poolFor } from '../sink/support.js';

/** Records the most keys held at any key's start. */
class Probe extends LoadWatermark {
  most = 0;
  override keyStart(...a: Parameters<LoadWatermark['keyStart']>): void {
    super.keyStart(...a);
    this.most = Math.max(this.most, this.held);
  }
}

test('the load watermark lets go of applied keys while the load runs, not only at checkpoints', async () => {
  const r = await startRedis();
  const pool = await poolFor(r, { senders: 1, batchSize: 10, maxInFlightBatches: 1 });
  try {
    const watermark = new Probe(null);
    const s = await loadSnapshot({
      dir: join(FIXTURES, 'snapshots/3.2.7-base/dump/db0'),
      db: 0,
      pool,
      logger: silentLogger(),
      chunkSize: 100,
      conflict: 'merge',
      bar: null,
      watermark,
    });
    assert.ok(s.done > 2000, `${s.done} keys loaded`);
    // One batch of records (512) plus what the sink holds unacknowledged (~20 commands); before,
    // it held every key since the last checkpoint: here all of them.
    assert.ok(watermark.most < 600, `the watermark held up to ${watermark.most} keys`);
  } finally {
    pool.destroy();
    await r.stop();
  }
});
