import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../../src/sink/rate-limit.js';
import { startRedis } from '../helpers/redis.js';
import { binlog, keyed, poolFor, submitAll } from './support.js';

test('the limiter paces ops and bytes after a 100 ms burst, and 0 means no limit', () => {
  let now = 1000;
  const l = new RateLimiter(1000, 0, () => now);
  let waits = 0;
  for (let i = 0; i < 100; i++) waits += l.take(10) > 0 ? 1 : 0;
  assert.equal(waits, 0, 'a 100 ms burst passes');
  let asked = 0;
  for (let i = 0; i < 10; i++) asked += l.take(10) > 0 ? 1 : 0;
  assert.ok(asked >= 8, `then it asks to wait (${asked} of 10)`);
  now += 1000;
  assert.equal(l.take(10), 0, 'a second later there is room again');
  l.set(0, 1_000_000);
  assert.equal(l.take(50_000), 0);
  assert.ok(l.take(100_000) > 40, 'bytes count too');
  l.set(0, 0);
  assert.equal(l.limited, false);
});

test('the pool holds producers to target-max-ops, and a change applies at once', async () => {
  const r = await startRedis();
  try {
    const pool = await poolFor(r, { senders: 2, batchSize: 20, maxOpsPerSec: 2000 });
    const cmds = (from: number, n: number) => Array.from({ length: n }, (_, i) => keyed('SET', `k:${from + i}`, ['v'], binlog(1, from + i)));
    let t0 = performance.now();
    await submitAll(pool, cmds(0, 1000));
    await pool.flush();
    const limited = performance.now() - t0;
    // 1000 commands at 2000/s after a 100 ms burst: at least 0.35 s whatever the machine.
    assert.ok(limited >= 350, `took ${limited.toFixed(0)} ms`);
    pool.setRateLimits(0, 0);
    t0 = performance.now();
    await submitAll(pool, cmds(1000, 1000));
    await pool.flush();
    assert.ok(performance.now() - t0 < limited, 'faster once unlimited');
    assert.equal(await r.client().dbsize(), 2000 + 2 + 1, 'every key (plus the markers and the applied hash)');
    await pool.close();
  } finally {
    await r.stop();
  }
});
