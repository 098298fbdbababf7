/**
 * End to end against the real Pika servers of ../shared/pika-bin: SLAVEOF … force on the daemon's
 * admin port, full sync, live writes through the binlog, then `verify` against the master itself.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { REAL_PIKA_VERSIONS } from '../helpers/real-pika.js';
import { startDaemon, untilIncremental } from '../daemon/support.js';
import { assertExact, untilCaughtUp, useRealRig } from './support.js';

/** A few keys of every type, some with expiries, written before the snapshot. */
async function fillBefore(c: Redis, n: number): Promise<void> {
  const p = c.pipeline();
  for (let i = 0; i < n; i++) {
    p.set(`s:${i}`, `v${i}`);
    p.hset(`h:${i}`, 'a', `${i}`, 'b', 'x');
    p.rpush(`l:${i}`, 'a', 'b', `${i}`);
    p.sadd(`set:${i}`, 'm1', `m${i}`);
    p.zadd(`z:${i}`, i, 'a', -i, 'b');
  }
  p.setex('ttl:s', 3600, 'v');
  p.expire('h:0', 3600);
  await p.exec();
}

/** Live writes after the full sync, each family's binlog rewrites among them (INCR, EXPIRE, RPOPLPUSH, SPOP). */
async function writeLive(c: Redis): Promise<void> {
  await c.set('live:s', 'x');
  await c.incr('live:n');
  await c.incrby('live:n', 41);
  await c.hset('h:1', 'c', 'new');
  await c.hdel('h:2', 'a');
  await c.lpush('l:1', 'front');
  await c.rpoplpush('l:2', 'l:3');
  await c.sadd('set:1', 'extra');
  await c.srem('set:2', 'm1');
  await c.zadd('z:1', 3.5, 'c');
  await c.zincrby('z:2', 2, 'a');
  await c.del('s:3', 'h:3');
  await c.expire('s:4', 3600);
  await c.mset('m:1', 'a', 'm:2', 'b');
  await c.setex('live:ttl', 3600, 'y');
}

for (const version of REAL_PIKA_VERSIONS) {
  describe(`real Pika ${version} master`, () => {
    const rig = useRealRig(version, `pm-real-${version}-`, async (r) => {
      await fillBefore(r.pika.client(), 200);
      r.d = await startDaemon(r.target, r.dir);
    });

    it('full sync, then the binlog: verify finds Redis equal to the master', async () => {
      const { pika, target } = rig;
      const d = rig.d!;
      assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(pika.port), 'force'), 'OK');
      await untilIncremental(d, 60_000);
      await writeLive(pika.client());
      await untilCaughtUp(pika, d, 30_000);
      const r = await assertExact(pika, target, rig.dir, `real ${version}`, 30_000);
      assert.ok(r.compared.string > 200, JSON.stringify(r.compared));
      assert.equal(await target.client().get('live:n'), '42');
    });
  });
}
