/**
 * End to end: test master → daemon (admin port, replica link, snapshot loader, binlog applier,
 * sink) → a real redis-server, driven as an operator would, with SLAVEOF on the admin port.
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FakeMaster, MasterFamily } from '../master/fake-master.js';
import { assertRedisHoldsExpected } from '../helpers/expected-redis.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { loadExpected } from '../pika/expected.js';
import { waitFor } from '../replication/support.js';
import { ackedUpTo, copyData, dataOf, infoFields, startAll, untilIncremental, type TestDaemon } from './support.js';
import { PikaLogger } from '../convert/pika-logger.js';
import { assertSameReads } from '../convert/redis-dump.js';
import { workload } from '../convert/workload.js';

const CASES: ReadonlyArray<[MasterFamily, string]> = [
  ['A', '3.2.7'],
  ['B', '3.3.6'],
  ['C', '3.5.5'],
  ['D', '4.0.1'],
];

for (const [family, version] of CASES) {
  describe(`daemon end to end against a family ${family} (${version}) master`, () => {
    let target: RedisServer;
    let master: FakeMaster;
    let d: TestDaemon;
    let done: () => Promise<void>;
    const base = join(FIXTURES, `snapshots/${version}-base`);

    before(async () => {
      ({ target, master, d, done } = await startAll(family, version));
    });
    after(() => done());

    it('SLAVEOF … force loads the snapshot into Redis exactly and goes to incremental', async () => {
      assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force'), 'OK');
      const deadline = Date.now() + 30_000;
      for (;;) {
        const m = await d.info('migrate');
        const r = await d.info('replication');
        if (m.get('phase') === 'incremental' && r.get('master_link_status') === 'up') break;
        assert.ok(Date.now() < deadline, `still ${m.get('phase')} / ${r.get('master_link_status')}`);
        await new Promise((res) => setTimeout(res, 50));
      }
      const c = target.client();
      const n = await assertRedisHoldsExpected(c, loadExpected(join(base, 'expected.json')), {
        nowMs: Date.now(),
        expirySlackMs: family === 'D' ? 50 : 1000,
      });
      assert.ok(n > 20, `${n} keys compared`);
      const keys = (await c.keys('*')).filter((k) => !k.startsWith('pika-migrate:'));
      assert.equal(keys.length, n, 'no key beyond expected.json');
      const r = await d.info('replication');
      assert.equal(r.get('role'), 'slave');
      assert.equal(r.get('master_port'), String(master.port));
      assert.equal(r.get('db0'), 'connected');
      // A and B look alike on the wire; the master's INFO server (pika_version) tells them apart.
      assert.equal(r.get('master_family'), family);
      assert.equal(r.get('master_version'), version);
      const asked = master.events.filter((e) => e.kind === 'client-command').map((e) => e.detail);
      // 3.5.3–3.5.5 also count their streams (KEYS * stream), which their DBSync leaves out.
      assert.deepEqual([...new Set(asked)], family === 'C' ? ['info', 'keys'] : ['info'], 'the replica only reads INFO (and C: KEYS * stream) on the client port');
      const m = await d.info('migrate');
      // 3.x: the 4 losing types of names held in several types are loaded under their side names too.
      assert.equal(Number(m.get('load_keys')), n + (family === 'D' ? 0 : 4));
      // From the SST entry counts: every version and tombstone counts, so never below what was read.
      assert.ok(Number(m.get('load_keys_estimated')) >= n, `estimate ${m.get('load_keys_estimated')} vs ${n}`);
      if (family === 'A' || family === 'B' || family === 'C') assert.equal(m.get('load_type_conflicts'), '4');
    });

    it('follows the binlog: live writes reach Redis in order and the master is acked up to them', async () => {
      const c = target.client();
      let end = master.write(['set', 'live:s', 'v1']);
      for (let i = 0; i < 5; i++) end = master.write(['incr', 'live:ctr']);
      end = master.write(['rpush', 'live:l', 'a', 'b']);
      end = master.write(['lpush', 'live:l', 'z']);
      end = master.write(['hset', 'live:h', 'f', 'x']);
      end = master.write(['set', 'live:s', 'v2']);
      end = master.write(['del', 'live:h']);
      await waitFor('master acked the last write', ackedUpTo(master, end), 15_000);
      assert.equal(await c.get('live:s'), 'v2');
      assert.equal(await c.get('live:ctr'), '5');
      assert.deepEqual(await c.lrange('live:l', 0, -1), ['z', 'a', 'b']);
      assert.equal(await c.exists('live:h'), 0);
      const r = await d.info('replication');
      assert.equal(r.get('db0 binlog_offset'), `${end.filenum} ${end.offset},safety_purge=none`);
      assert.equal(r.get('applied_binlog_offset'), `${end.filenum} ${end.offset}`);
      assert.equal(r.get('lag_entries'), '0');
      const m = await d.info('migrate');
      assert.equal(m.get('in_sync'), 'yes');
      assert.equal(Number(m.get('binlog_entries')), 11);
      if (family === 'B') assert.equal(r.get('master_family'), 'B');
    });

    it('replays the §5.3 workload: Redis ends as a Redis that ran the original commands', async () => {
      const ref = await startRedis();
      try {
        // The reference starts from what the target holds now (snapshot + live writes)…
        const a = ref.client();
        const b = target.client();
        await copyData(b, a);
        // …then runs the client commands, while the master logs them as Pika of this version does.
        const logger = new PikaLogger(a, family, version);
        let end = master.write(['set', 'workload:start', '1']);
        await a.set('workload:start', '1');
        for (const argv of workload(family, version)) for (const logged of await logger.run(argv)) end = master.write(logged);
        await waitFor('master acked the workload', ackedUpTo(master, end), 20_000);
        const readTarget = async (): Promise<Awaited<ReturnType<typeof dataOf>>> => {
          const got = await dataOf(b);
          if (family === 'A' || family === 'B') {
            // Pika 3.x keeps one value per type: the empty SINTERSTORE result leaves st:empty's string
            // (checked on real 3.2.7), where Redis deletes the whole key. 3.5 logs it as `del`, which
            // deletes every type (on Pika's own replicas too), so C ends as Redis does.
            assert.equal(await b.get('st:empty'), 'old');
            got.delete('st:empty');
          }
          return got;
        };
        // TTLs: Pika logs whole seconds (2 s), plus the time between the two reads.
        const { expected: want } = await assertSameReads(readTarget, () => dataOf(a), 2000, `${family} ${version}`);
        assert.ok(want.size > 50, `${want.size} keys compared`);
        const m = await d.info('migrate');
        assert.equal(m.get('sink_errorClasses_other'), '0', 'no command failed in Redis');
        assert.equal(m.get('sink_refused'), '0');
      } finally {
        await ref.stop();
      }
    });

    it('SLAVEOF NO ONE removes us from the master and leaves Redis as it is', async () => {
      assert.equal(await d.admin.call('SLAVEOF', 'NO', 'ONE'), 'OK');
      await waitFor('RemoveSlaveNode', () => master.events.some((e) => e.kind === 'remove-slave'), 5000);
      const r = await d.info('replication');
      assert.equal(r.get('role'), 'master');
      assert.equal(await target.client().get('live:s'), 'v2');
    });
  });
}

/** SLAVEOF … force, the live phase, and one write acked: where the target-fault tests start. */
async function followingLive(d: TestDaemon, master: FakeMaster) {
  await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
  // Activation comes before the load ends (entries are spooled meanwhile): wait for the live phase.
  await untilIncremental(d);
  const end = master.write(['set', 'before', '1']);
  await waitFor('first write acked', ackedUpTo(master, end), 10_000);
  return { end, ackedBefore: { ...master.replicaState!.acked } };
}

describe('daemon end to end: the target stops answering for a while', () => {
  it('acks stop while Redis is paused, nothing is lost, and it catches up after', async () => {
    const { target, master, d, done } = await startAll();
    try {
      const live = await followingLive(d, master);
      const ackedBefore = live.ackedBefore;
      let end = live.end;
      const c = target.client();
      await c.call('CLIENT', 'PAUSE', '2500', 'ALL');
      for (let i = 0; i < 50; i++) end = master.write(['incr', 'paused:ctr']);
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(master.replicaState!.acked, ackedBefore, 'nothing acked while Redis holds the writes');
      const lag = infoFields((await d.admin.info('replication')) as string);
      assert.equal(lag.get('lag_entries'), '50');
      await waitFor('caught up', ackedUpTo(master, end), 15_000);
      assert.equal(await c.get('paused:ctr'), '50');
      assert.equal(await c.get('before'), '1');
    } finally {
      await done();
    }
  });
});

describe('daemon end to end: the target is down for 10 s', () => {
  it('acks stop while Redis is down, nothing is lost or repeated, and it catches up once Redis is back', async () => {
    const { target, master, d, done } = await startAll();
    try {
      const live = await followingLive(d, master);
      const ackedBefore = live.ackedBefore;
      let end = live.end;
      const down = target.bounce(10_000);
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 0; i < 100; i++) end = master.write(['incr', 'down:ctr']);
      end = master.write(['rpush', 'down:list', 'x']);
      await new Promise((r) => setTimeout(r, 3000));
      assert.deepEqual(master.replicaState!.acked, ackedBefore, 'nothing acked while Redis is down');
      assert.equal(infoFields((await d.admin.info('replication')) as string).get('lag_entries'), '101');
      await down;
      await waitFor('caught up', ackedUpTo(master, end), 30_000);
      const c = target.client();
      assert.equal(await c.get('down:ctr'), '100');
      assert.deepEqual(await c.lrange('down:list', 0, -1), ['x']);
      assert.equal(await c.get('before'), '1');
    } finally {
      await done();
    }
  });
});
