/**
 * End to end into a Redis Cluster: test master → daemon with `target-redis-cluster : yes` → a real
 * 3-master cluster. The snapshot and the live binlog must end as on a standalone target, except
 * the multi-key commands whose keys span slots, which are refused and counted.
 */
import { strict as assert } from 'node:assert';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { clusterSlot } from '../../src/core/cluster-slot.js';
import { startCluster, type RedisCluster } from '../helpers/cluster.js';
import { freePort } from '../helpers/redis.js';
import { assertRedisHoldsExpected } from '../helpers/expected-redis.js';
import { FIXTURES } from '../helpers/fixtures.js';
import type { FakeMaster } from '../master/fake-master.js';
import { loadExpected } from '../pika/expected.js';
import { tempDir, waitFor } from '../replication/support.js';
import { ackedUpTo, startDaemon, startMaster, stopDaemon, untilIncremental, type TestDaemon } from './support.js';

describe('daemon end to end into a 3-master Redis Cluster (family C, 3.5.5)', () => {
  let cluster: RedisCluster;
  let master: FakeMaster;
  let d: TestDaemon;
  let dir: string;
  let metricsPort: number;
  const base = join(FIXTURES, 'snapshots/3.5.5-base');

  before(async () => {
    cluster = await startCluster(3);
    master = await startMaster('C', '3.5.5');
    dir = tempDir('pm-daemon-cluster-');
    metricsPort = await freePort();
    d = await startDaemon(cluster.nodes[0], dir, { 'target-redis-cluster': 'yes', 'target-flush-on-full-sync': 'yes', 'metrics-port': String(metricsPort) });
  });

  after(async () => {
    await stopDaemon(d);
    await master.stop();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('flushes every master, loads the snapshot into the cluster exactly, each key on the master of its slot', async () => {
    for (const [i, n] of cluster.nodes.entries()) {
      // A stray key on each master: target-flush-on-full-sync must FLUSHDB all of them.
      for (let k = 0; ; k++) {
        if ((await cluster.ownerOf(clusterSlot(Buffer.from(`stray:${k}`)))) === i) {
          await n.client().set(`stray:${k}`, 'x');
          break;
        }
      }
    }
    assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force'), 'OK');
    await untilIncremental(d);
    const c = cluster.client();
    const n = await assertRedisHoldsExpected(c as unknown as Redis, loadExpected(join(base, 'expected.json')), { nowMs: Date.now(), expirySlackMs: 1000, sideNames: false });
    assert.ok(n > 20, `${n} keys compared`);
    const perNode = await cluster.keysPerNode();
    assert.equal(perNode.flat().length, n, 'no key beyond expected.json (strays flushed, nothing of our own left)');
    for (const [i, keys] of perNode.entries()) {
      assert.ok(keys.length > 0, `master ${i} holds keys`);
      for (const k of keys) assert.equal(await cluster.ownerOf(clusterSlot(k)), i, k.toString('hex'));
    }
    const m = await d.info('migrate');
    assert.equal(Number(m.get('load_keys')), n);
    assert.equal(m.get('sink_possibleRepeats'), '0');
  });

  it('follows the binlog into the cluster: splits what it can, runs same-slot multi-key commands, refuses cross-slot ones', async () => {
    const c = cluster.client();
    let end = master.write(['set', 'live:s', 'v1']);
    for (let i = 0; i < 5; i++) end = master.write(['incr', 'live:ctr']);
    end = master.write(['mset', 'live:m1', 'a', 'live:m2', 'b', 'live:m3', 'c']);
    end = master.write(['rpush', '{live}:src', 'x', 'y']);
    end = master.write(['rpoplpush', '{live}:src', '{live}:dst']);
    end = master.write(['sadd', 'live:set1', 'm']);
    assert.notEqual(clusterSlot(Buffer.from('live:set1')), clusterSlot(Buffer.from('live:set2')));
    end = master.write(['smove', 'live:set1', 'live:set2', 'm']);
    end = master.write(['del', 'live:m1', 'live:m2']);
    end = master.write(['set', 'live:s', 'v2']);
    await waitFor('master acked the last write', ackedUpTo(master, end), 15_000);
    assert.equal(await c.get('live:s'), 'v2');
    assert.equal(await c.get('live:ctr'), '5');
    assert.equal(await c.exists('live:m1'), 0);
    assert.equal(await c.exists('live:m2'), 0);
    assert.equal(await c.get('live:m3'), 'c');
    assert.deepEqual(await c.lrange('{live}:src', 0, -1), ['x']);
    assert.deepEqual(await c.lrange('{live}:dst', 0, -1), ['y']);
    assert.deepEqual(await c.smembers('live:set1'), ['m'], 'the cross-slot SMOVE was refused, not half-run');
    const m = await d.info('migrate');
    assert.equal(m.get('sink_refused'), '1');
    assert.equal(m.get('sink_errors_crossslot'), '1');
    assert.equal(m.get('in_sync'), 'yes');
    const r = await d.info('replication');
    assert.equal(r.get('applied_binlog_offset'), `${end.filenum} ${end.offset}`);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /^pika_migrate_sink_possible_repeats_total 0$/m);
    assert.match(metrics, /^pika_migrate_sink_redirections_total 0$/m);
    assert.match(metrics, /^pika_migrate_sink_refused_total 1$/m);
    assert.match(metrics, /^pika_migrate_sink_queue_depth\{sender="2"\} 0$/m, 'one sender per master');
  });
});
