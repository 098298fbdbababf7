/**
 * A Sentinel-managed target failing over in the middle of a binlog stream: the senders find the
 * new master through the sentinel and, with target-redis-wait-replicas, nothing is lost or doubled.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import type { BinlogPosition } from '../../src/core/binlog.js';
import { assertRedisHoldsExpected } from '../helpers/expected-redis.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startSentinelGroup } from '../helpers/sentinel.js';
import { loadExpected } from '../pika/expected.js';
import { waitFor } from '../replication/support.js';
import { ackedUpTo, startAll, untilIncremental } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type SentinelGroup = Awaited<ReturnType<typeof startSentinelGroup>>;

/** A daemon (with `extra` conf) on the group's Sentinel master, following the test master's binlog live. */
async function startFollowing(group: SentinelGroup, extra: Record<string, string> = {}) {
  const all = await startAll(
    'C',
    '3.5.5',
    { 'target-redis-sentinels': `127.0.0.1:${group.sentinelPort}`, 'target-redis-sentinel-master': group.name, ...extra },
    { target: async () => group.master },
  );
  try {
    assert.equal(await all.d.admin.call('SLAVEOF', '127.0.0.1', String(all.master.port), 'force'), 'OK');
    await untilIncremental(all.d);
  } catch (e) {
    // The tests' own finally (done, then the group) starts only once this returns.
    await all.done();
    await group.stop();
    throw e;
  }
  return all;
}

/**
 * `total` INCRs of one counter, paced, with a Sentinel failover after the 1000th; stops early once
 * `stopped` says so. The last entry's position and the port the sentinel promoted.
 */
async function incrThroughFailover(all: Awaited<ReturnType<typeof startAll>>, group: SentinelGroup, total: number, stopped: () => boolean = () => false) {
  let end: BinlogPosition | null = null;
  let failedOverTo = 0;
  for (let i = 0; i < total && !stopped(); i++) {
    end = all.master.write(['incr', 'sentinel:ctr']);
    if (i % 50 === 49) await sleep(20);
    if (i === 1000) failedOverTo = await group.failover();
  }
  return { end: end!, failedOverTo };
}

test('SENTINEL FAILOVER mid-stream: the daemon goes on against the new master and every INCR lands once', async () => {
  const group = await startSentinelGroup();
  const all = await startFollowing(group, { 'target-redis-wait-replicas': '1' });
  const { master, d, dir, done } = all;
  try {
    const total = 3000;
    const { end, failedOverTo } = await incrThroughFailover(all, group, total);
    assert.equal(failedOverTo, group.replica.port, 'the sentinel promoted the replica');
    await waitFor('the master acked every INCR', ackedUpTo(master, end), 90_000);
    const now = new Redis({ host: '127.0.0.1', port: failedOverTo, maxRetriesPerRequest: 1 });
    try {
      assert.equal(await now.get('sentinel:ctr'), String(total), 'each INCR applied exactly once on the new master');
      await assertRedisHoldsExpected(now, loadExpected(join(FIXTURES, 'snapshots/3.5.5-base/expected.json')), { nowMs: Date.now(), expirySlackMs: 1000 });
      const clients = (await now.call('CLIENT', 'LIST')) as string;
      assert.ok(/name=pika-migrate-sink-\d+/.test(clients), 'the senders are connected to the new master');
      const m = await d.info('migrate');
      assert.match(m.get('target') ?? '', /^sentinel master "pm-target" \(sentinels 127\.0\.0\.1:\d+\)$/);
      // The checkpoint names the target by its Sentinel name: a failover does not make it another target.
      await d.daemon.stop('test');
      const cp = JSON.parse(readFileSync(join(dir, 'dbsync', 'pika-migrate-db0.checkpoint.json'), 'utf8')) as { target: string };
      assert.equal(cp.target, 'sentinel:pm-target/0');
      console.log(`# reconnects ${m.get('sink_total_reconnects')}, batches resent ${m.get('sink_total_retries')}, lost replies ${m.get('sink_total_lostReplies')}`);
    } finally {
      now.disconnect();
    }
  } finally {
    await done();
    await group.stop();
  }
});

test('without target-redis-wait-replicas a failover that loses acknowledged writes stops the migration (target_lost_writes:1), never leaves a silent hole', async () => {
  const group = await startSentinelGroup();
  const all = await startFollowing(group);
  const { master, d, done } = all;
  // A loss stops the link and shows in INFO migrate; the daemon waits for SLAVEOF … force.
  let lost = false;
  const stopped = (): boolean => lost;
  const poll = setInterval(() => void d.info('migrate').then((m) => (lost ||= m.get('target_lost_writes') === '1'), () => {}), 200);
  try {
    const total = 3000;
    let newMaster: Redis | null = null;
    const now = (): Redis => (newMaster ??= new Redis({ host: '127.0.0.1', port: group.replica.port, maxRetriesPerRequest: 1 }));
    const { end, failedOverTo } = await incrThroughFailover(all, group, total, stopped);
    if (failedOverTo !== 0) assert.equal(failedOverTo, group.replica.port, 'the sentinel promoted the replica');
    await waitFor('all INCRs acked, or the daemon stopped', async () => stopped() || ackedUpTo(master, end)(), 90_000);
    // The old master takes writes until the sentinel turns it into a replica (seconds after the
    // promotion) and closes its clients; only the senders' reconnect can tell what that undid.
    await waitFor('the old master demoted', async () => /role:slave/.test(await group.master.client().info('replication')), 30_000);
    await waitFor('the senders to reconnect, or the daemon to stop', async () => stopped() || /name=pika-migrate-sink-/.test((await now().call('CLIENT', 'LIST')) as string), 30_000);
    await sleep(1000);
    try {
      const count = Number(await now().get('sentinel:ctr'));
      clearInterval(poll);
      if (!lost) {
        assert.equal(count, total, 'the daemon went on: then nothing was lost');
        console.log('# the failover lost nothing this time');
      } else {
        const m = await d.info('migrate');
        assert.equal(m.get('phase'), 'error');
        assert.match(m.get('target_lost_writes_reason') ?? '', /lost writes it had acknowledged/);
        console.log(`# stopped as it should: ${m.get('target_lost_writes_reason')}`);
      }
    } finally {
      (newMaster as Redis | null)?.disconnect();
    }
  } finally {
    clearInterval(poll);
    await done();
    await group.stop();
  }
});
