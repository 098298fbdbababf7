/**
 * Names held in several types on real Pika 3.x masters (../shared/pika-bin): full sync, then
 * binlog writes that remove, replace or add one type of such a name. Redis must hold, under each
 * name, the first type in type-order that Pika holds now, the other types under their side names,
 * and `verify` must find no difference.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { buildConfig } from '../../src/config/load.js';
import { verify, verifyOptionsOf } from '../../src/daemon/verify.js';
import { totalDifferences } from '../../src/verify/summary.js';
import type { RealPikaVersion } from '../helpers/real-pika.js';
import { testLogger, waitFor } from '../replication/support.js';
import { startDaemon, untilIncremental } from '../daemon/support.js';
import { useRealRig } from './support.js';

async function fillBefore(c: Redis): Promise<void> {
  await c.set('m:s', 'str');
  await c.hset('m:s', 'f', 'v');
  await c.rpush('m:s', 'a', 'b');
  await c.hset('m:h', 'f', 'v');
  await c.sadd('m:h', 'old1', 'old2');
  await c.zadd('m:h', 1, 'z');
  await c.rpush('m:l', 'only');
  await c.sadd('m:l', 'm');
  await c.sadd('m:z', 'a');
  await c.zadd('m:z', 1, 'z');
  await c.set('m:x', 'str');
  await c.sadd('m:x', 'm');
  await c.setex('m:e', 6, 'expires'); // the string expires after the full sync: the hash takes the name
  await c.hset('m:e', 'f', 'v');
  await c.sadd('o1', 'x', 'y');
  await c.sadd('o2', 'y');
}

/** Writes while the daemon streams; `stores`: *STORE commands (3.5 logs them as `del`, see README). */
async function writeLive(c: Redis, stores: boolean): Promise<void> {
  if (stores) await c.sinterstore('m:h', 'o1', 'o2'); // replaces m:h's set only; the hash keeps the name
  await c.lpop('m:l'); // the list's last element: the set takes the name
  await c.del('m:z'); // every type
  await c.hset('m:n', 'f', 'v');
  await c.set('m:n', 'str'); // the string comes first: the hash moves aside
  await c.rpush('m:h', 'e'); // a new list under a hash name
  await c.hdel('m:h', 'f'); // the hash's last field: the list takes the name
  await c.smove('o1', 'm:s', 'x'); // a set joins m:s's other types
  await c.expire('m:s', 1000); // every type of m:s
  await c.setex('m:x', 100, 'str2'); // the string's value and expiry only
  await c.sadd('m:x', 'm2');
  await c.zadd('m:w', 1, 'z');
  await c.setex('m:w', 2, 'expires'); // the string expires while streaming: the zset takes the name
}

for (const version of ['3.2.7', '3.5.5'] as RealPikaVersion[]) {
  describe(`names in several types, real Pika ${version}`, () => {
    const rig = useRealRig(version, `pm-multitype-${version}-`, async (r) => {
      await fillBefore(r.pika.client());
      r.d = await startDaemon(r.target, r.dir);
    });

    it('Redis holds the first type Pika holds now, the others under side names; verify finds no difference', async () => {
      const { pika, target } = rig;
      const d = rig.d!;
      assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(pika.port), 'force'), 'OK');
      await untilIncremental(d, 60_000);
      const r = target.client();
      // After the full sync: the first type in type-order under the name, the others aside.
      assert.equal(await r.get('m:s'), 'str');
      assert.deepEqual(await r.hgetall('pika-migrate:t:hash:m:s'), { f: 'v' });
      assert.deepEqual(await r.lrange('pika-migrate:t:list:m:s', 0, -1), ['a', 'b']);
      assert.deepEqual(await r.hgetall('m:h'), { f: 'v' });
      const stores = version === '3.2.7';
      await writeLive(pika.client(), stores);
      const conf = buildConfig('real.conf', [
        { key: 'target-redis-port', value: String(target.port), where: 'real.conf:1' },
        { key: 'slaveof', value: `127.0.0.1:${pika.port}`, where: 'real.conf:2' },
      ]);
      let last = '';
      await waitFor(
        'Redis equal to the master',
        async () => {
          const v = await verify(verifyOptionsOf(conf, {}, testLogger()));
          last = JSON.stringify({ differences: v.differences, compared: v.compared, not: v.notDifferences });
          return totalDifferences(v) === 0 && v.compared.set >= 4;
        },
        30_000,
      ).catch((e: Error) => assert.fail(`${e.message}: ${last}`));
      assert.deepEqual((await r.smembers('m:l')).sort(), ['m']);
      assert.equal(await r.exists('m:z', 'pika-migrate:t:zset:m:z'), 0);
      assert.equal(await r.get('m:n'), 'str');
      assert.deepEqual(await r.hgetall('pika-migrate:t:hash:m:n'), { f: 'v' });
      assert.deepEqual(await r.lrange('m:h', 0, -1), ['e']);
      if (stores) assert.deepEqual(await r.smembers('pika-migrate:t:set:m:h'), ['y']);
      assert.deepEqual(await r.smembers('pika-migrate:t:set:m:s'), ['x']);
      for (const k of ['m:s', 'pika-migrate:t:hash:m:s', 'pika-migrate:t:list:m:s']) assert.ok((await r.ttl(k)) > 900, k);
      assert.equal(await r.get('m:x'), 'str2');
      assert.ok((await r.ttl('m:x')) > 90);
      assert.equal(await r.ttl('pika-migrate:t:set:m:x'), -1);
      // The strings of m:e and m:w expired in Redis as in Pika: their next types hold the names.
      await waitFor('m:e and m:w settled', async () => (await r.type('m:e')) === 'hash' && (await r.type('m:w')) === 'zset', 10_000);
      assert.deepEqual(await r.hgetall('m:e'), { f: 'v' });
      assert.equal(await r.exists('pika-migrate:t:hash:m:e', 'pika-migrate:t:zset:m:w'), 0);
      const v = await verify(verifyOptionsOf(conf, {}, testLogger()));
      assert.equal(totalDifferences(v), 0, JSON.stringify(v.differences));
      // SLAVEOF NO ONE: Redis keeps the names alone.
      assert.equal(await d.admin.call('SLAVEOF', 'NO', 'ONE'), 'OK');
      assert.deepEqual(await r.keys('pika-migrate:t:*'), []);
      assert.equal(await r.get('m:s'), 'str');
    });
  });
}
