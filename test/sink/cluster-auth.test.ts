import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FatalError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { ClusterPool } from '../../src/sink/cluster-pool.js';
import { startCluster } from '../helpers/cluster.js';
import { freePort, startRedis } from '../helpers/redis.js';
import { keyed, snap, submitAll } from './support.js';

test('cluster target with a password: every master is authenticated; a wrong password fails fast and says so', async () => {
  const cluster = await startCluster(3, { password: 's3cret' });
  try {
    const seed = { host: cluster.nodes[1].host, port: cluster.nodes[1].port };
    const pool = await ClusterPool.connect({ seeds: [seed], password: 's3cret', batchSize: 10, logger: silentLogger() });
    try {
      await submitAll(pool, Array.from({ length: 100 }, (_, i) => keyed('SET', `auth:${i}`, [String(i)], snap(i))));
      await pool.flush();
      const c = cluster.client();
      for (let i = 0; i < 100; i += 7) assert.equal(await c.get(`auth:${i}`), String(i));
      assert.equal(pool.nodes().length, 3, 'all three masters found from one seed');
    } finally {
      await pool.close();
    }
    await assert.rejects(
      ClusterPool.connect({ seeds: [seed], password: 'wrong', batchSize: 10, logger: silentLogger() }),
      (e: Error) => e instanceof FatalError && /refused our credentials/.test(e.message) && e.message.includes(`${seed.host}:${seed.port}`),
    );
  } finally {
    await cluster.stop();
  }
});

test('cluster target: a seed that is no cluster node, or no seed answering, is a clear fatal error', async () => {
  const r = await startRedis();
  try {
    await assert.rejects(
      ClusterPool.connect({ seeds: [{ host: r.host, port: r.port }], batchSize: 10, logger: silentLogger() }),
      (e: Error) => e instanceof FatalError && /target-redis-cluster is set but Redis at 127\.0\.0\.1:\d+ is not a cluster node/.test(e.message),
    );
  } finally {
    await r.stop();
  }
  const dead = await freePort();
  await assert.rejects(
    ClusterPool.connect({ seeds: [{ host: '127.0.0.1', port: dead }], batchSize: 10, logger: silentLogger(), connectTimeoutMs: 500 }),
    (e: Error) => e instanceof FatalError && e.message.startsWith('no seed of the Redis Cluster gave a usable slot map') && e.message.includes(`127.0.0.1:${dead}`),
  );
});
