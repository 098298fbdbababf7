import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Cluster, type Redis } from 'ioredis';
import { verify, verifyOptionsOf } from '../../src/daemon/verify.js';
import { ClusterTargetReader } from '../../src/verify/cluster-target-reader.js';
import { matches } from '../../src/verify/summary.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { copyData } from '../daemon/support.js';
import { testLogger } from '../replication/support.js';
import { confOf, liveNames, setup } from './support.js';

/** Three real cluster-enabled redis-servers, slots spread by `redis-cli --cluster create`. */
async function startCluster(): Promise<{ nodes: RedisServer[]; stop(): Promise<void> }> {
  const nodes: RedisServer[] = [];
  for (let i = 0; i < 3; i++) nodes.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']));
  execFileSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' });
  for (const deadline = Date.now() + 10_000; ; ) {
    const states = await Promise.all(nodes.map(async (n) => /cluster_state:ok/.test((await n.client().call('CLUSTER', 'INFO')) as string)));
    if (states.every(Boolean)) break;
    if (Date.now() > deadline) throw new Error('cluster did not reach cluster_state:ok');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { nodes, stop: async () => void (await Promise.all(nodes.map((n) => n.stop()))) };
}

test('a Redis Cluster target: the keys of every master are compared and scanned for extras', async () => {
  const s = await setup('A', '3.2.7');
  const cluster = await startCluster();
  const client = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0].port }]);
  client.on('error', () => {});
  try {
    // copyData reads with KEYS/DUMP and writes with RESTORE through callBuffer, which Cluster routes by key.
    await copyData(s.target.client(), client as unknown as Redis);
    const openTarget = () => ClusterTargetReader.connect({ nodes: [{ host: '127.0.0.1', port: cluster.nodes[1].port }] });
    const run = () => verify({ ...verifyOptionsOf(confOf(s.conf), {}, testLogger()), openTarget });
    const r = await run();
    assert.ok(matches(r), JSON.stringify(r.differences));
    assert.equal(r.redisKeys, liveNames('3.2.7').names, 'SCAN reached the keys of all three masters');
    await client.set('extra:{a}', 'x');
    await client.set('extra:{b}', 'x');
    await client.del('str:9');
    const d = await run();
    assert.deepEqual(d.differences, { missing: 1, extra: 2, type: 0, value: 0, ttl: 0 });
  } finally {
    client.disconnect();
    await cluster.stop();
    await s.done();
  }
});
