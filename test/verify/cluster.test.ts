import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { verify, verifyOptionsOf } from '../../src/daemon/verify.js';
import { matches } from '../../src/verify/summary.js';
import { startCluster } from '../helpers/cluster.js';
import { copyData } from '../daemon/support.js';
import { testLogger } from '../replication/support.js';
import { confOf, liveNames, setup } from './support.js';

test('a Redis Cluster target: the keys of every master are compared and scanned for extras', async () => {
  const s = await setup('A', '3.2.7');
  const cluster = await startCluster();
  const client = cluster.client();
  try {
    // copyData reads with KEYS/DUMP and writes with RESTORE through callBuffer, which Cluster routes by key.
    await copyData(s.target.client(), client as unknown as Redis);
    // The target as an operator's conf names it: one seed is enough to find every master.
    const conf = confOf({ ...s.conf, 'target-redis-cluster': cluster.seeds[1] });
    const run = () => verify(verifyOptionsOf(conf, {}, testLogger()));
    const r = await run();
    assert.ok(matches(r), JSON.stringify(r.differences));
    assert.equal(r.redisKeys, liveNames('3.2.7').names, 'SCAN reached the keys of all three masters');
    await client.set('extra:{a}', 'x');
    await client.set('extra:{b}', 'x');
    await client.del('str:9');
    const d = await run();
    assert.deepEqual(d.differences, { missing: 1, extra: 2, type: 0, value: 0, ttl: 0 });
  } finally {
    await cluster.stop();
    await s.done();
  }
});
