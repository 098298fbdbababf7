/**
 * A master with several DBs: every dbN is followed over one link into the Redis DB that db-map
 * names, each with its own snapshot, binlog offsets, checkpoint and lag; a restart resumes them all.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BinlogPosition } from '../../src/core/binlog.js';
import { MsgType } from '../../src/replication/messages.js';
import { assertRedisHoldsExpected } from '../helpers/expected-redis.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { FakeMaster } from '../master/fake-master.js';
import { loadExpected } from '../pika/expected.js';
import { tempDir, waitFor } from '../replication/support.js';
import { startDaemon, untilIncremental } from './support.js';

const BASE = join(FIXTURES, 'snapshots/3.5.5-base');
const CONF = { databases: '2', 'db-map': '1:3' };

describe('daemon following a master with two DBs (db-map 1:3)', () => {
  let target: RedisServer;
  let master: FakeMaster;
  let dir: string;
  const acked = (db: string, end: BinlogPosition) => () => {
    const st = master.replicaOf(db);
    return st !== null && st.acked.filenum === end.filenum && st.acked.offset === end.offset;
  };

  before(async () => {
    target = await startRedis();
    master = new FakeMaster({ family: 'C', snapshotSource: join(BASE, 'dump/db0'), dbs: ['db0', 'db1'], keepaliveMs: 500 });
    await master.start();
    dir = tempDir('pm-multidb-');
  });
  after(async () => {
    await master?.stop();
    await target?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads each DB snapshot into its Redis DB and streams each binlog into it', async () => {
    master.write(['set', 'written-before-db1-dump', 'x'], 'db1');
    const d = await startDaemon(target, dir, CONF);
    try {
      assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force'), 'OK');
      await untilIncremental(d);
      const exp = loadExpected(join(BASE, 'expected.json'));
      for (const db of [0, 3]) {
        const c = target.client({ db });
        const n = await assertRedisHoldsExpected(c, exp, { nowMs: Date.now(), expirySlackMs: 1000 });
        const keys = (await c.keys('*')).filter((k) => !k.startsWith('pika-migrate:'));
        assert.equal(keys.length, n, `Redis DB ${db}: no key beyond expected.json`);
      }
      assert.equal(await target.client({ db: 1 }).dbsize(), 0, 'nothing in DB 1: db1 goes to 3');
      let e0 = master.write(['incr', 'ctr0'], 'db0');
      let e1 = master.write(['incr', 'ctr1'], 'db1');
      for (let i = 0; i < 9; i++) {
        e0 = master.write(['incr', 'ctr0'], 'db0');
        e1 = master.write(['rpush', 'list1', String(i)], 'db1');
      }
      await waitFor('db0 acked', acked('db0', e0), 15_000);
      await waitFor('db1 acked', acked('db1', e1), 15_000);
      assert.equal(await target.client({ db: 0 }).get('ctr0'), '10');
      assert.equal(await target.client({ db: 0 }).exists('ctr1', 'list1'), 0);
      assert.equal(await target.client({ db: 3 }).get('ctr1'), '1');
      assert.deepEqual(await target.client({ db: 3 }).lrange('list1', 0, -1), ['0', '1', '2', '3', '4', '5', '6', '7', '8']);
      const r = await d.info('replication');
      assert.equal(r.get('db0'), 'connected');
      assert.equal(r.get('db1'), 'connected');
      assert.equal(r.get('db0 binlog_offset'), `${e0.filenum} ${e0.offset},safety_purge=none`);
      assert.equal(r.get('db1 binlog_offset'), `${e1.filenum} ${e1.offset},safety_purge=none`);
      assert.equal(r.get('db1_applied_binlog_offset'), `${e1.filenum} ${e1.offset}`);
      assert.equal(r.get('lag_entries'), '0');
      const m = await d.info('migrate');
      assert.equal(m.get('db_map'), '0:0,1:3');
      assert.equal(m.get('in_sync'), 'yes');
      d.admin.disconnect();
      await d.daemon.stop('test');
      assert.equal(await d.daemon.exited, 0);
      for (const [db, e] of [
        [0, e0],
        [1, e1],
      ] as const) {
        const cp = JSON.parse(readFileSync(join(dir, 'dbsync', `pika-migrate-db${db}.checkpoint.json`), 'utf8')) as { db: number; applied: BinlogPosition; target: string };
        assert.equal(cp.db, db);
        assert.deepEqual(cp.applied, { filenum: e.filenum, offset: e.offset });
        assert.equal(cp.target, `127.0.0.1:${target.port}/${db === 0 ? 0 : 3}`);
      }
    } finally {
      d.admin.disconnect();
      await d.daemon.stop('test').catch(() => {});
    }
  });

  it('restarted, it resumes every DB from its checkpoint with TrySync: no snapshot, nothing repeated', async () => {
    const before = master.requests.filter((q) => q.type === MsgType.DBSync).length;
    const e1 = master.write(['incr', 'ctr1'], 'db1');
    const d = await startDaemon(target, dir, { ...CONF, slaveof: `127.0.0.1:${master.port}` });
    try {
      await waitFor('db1 acked', acked('db1', e1), 15_000);
      const e0 = master.write(['incr', 'ctr0'], 'db0');
      await waitFor('db0 acked', acked('db0', e0), 15_000);
      assert.equal(await target.client({ db: 3 }).get('ctr1'), '2');
      assert.equal(await target.client({ db: 0 }).get('ctr0'), '11');
      assert.equal(master.requests.filter((q) => q.type === MsgType.DBSync).length, before, 'no second snapshot');
    } finally {
      d.admin.disconnect();
      await d.daemon.stop('test').catch(() => {});
      await d.daemon.exited;
    }
  });

  it('refuses to resume when one DB has no checkpoint, naming force', async () => {
    rmSync(join(dir, 'dbsync', 'pika-migrate-db1.checkpoint.json'));
    const d = await startDaemon(target, dir, CONF);
    try {
      await assert.rejects(d.admin.call('SLAVEOF', '127.0.0.1', String(master.port)), /checkpoints of some DBs are missing .*db1.*force/);
      assert.ok(existsSync(join(dir, 'dbsync', 'pika-migrate-db0.checkpoint.json')), 'the other checkpoint stays');
    } finally {
      d.admin.disconnect();
      await d.daemon.stop('test').catch(() => {});
      await d.daemon.exited;
    }
  });
});
