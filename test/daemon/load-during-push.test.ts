/**
 * An A/B master pushes the snapshot dir by dir and sends `info` (the binlog offset) last; the
 * daemon loads each type dir as soon as its push ended. The test master holds `info` back, so the
 * daemon is caught in between: the load runs, the checkpoint says the offset is pending, and every
 * way out of that window ends exact, or stopped with the cause named.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { MsgType } from '../../src/replication/messages.js';
import { FakeMaster } from '../master/fake-master.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { writePikaDump, type KeyDesc } from '../pika/pika-dump-writer.js';
import { tempDir, waitFor } from '../replication/support.js';
import { dataOf, startDaemon, stopDaemon, untilIncremental, writeReference, type TestDaemon } from './support.js';

function snapshotKeys(): KeyDesc[] {
  const keys: KeyDesc[] = [];
  for (let i = 0; i < 3000; i++) keys.push({ name: `s:${i}`, type: 'string', value: `v${i}` });
  for (let i = 0; i < 50; i++) keys.push({ name: `h:${i}`, type: 'hash', value: Object.fromEntries(Array.from({ length: 20 }, (_, f) => [`f${f}`, String(i + f)])) });
  for (let i = 0; i < 50; i++) keys.push({ name: `l:${i}`, type: 'list', value: Array.from({ length: 10 }, (_, e) => `e${i}.${e}`) });
  for (let i = 0; i < 50; i++) keys.push({ name: `set:${i}`, type: 'set', value: Array.from({ length: 10 }, (_, m) => `m${m}`) });
  for (let i = 0; i < 50; i++) keys.push({ name: `z:${i}`, type: 'zset', value: Array.from({ length: 10 }, (_, m) => [`m${m}`, String(m)]) });
  return keys;
}

describe('loading an A/B snapshot while the master still pushes it', () => {
  let dir: string;
  let master: FakeMaster;
  let keys: KeyDesc[];
  before(async () => {
    dir = tempDir('pm-load-push-');
    keys = snapshotKeys();
    master = new FakeMaster({ family: 'A', snapshotSource: writePikaDump({ family: 'A-C', keys }, join(dir, 'dump')), keepaliveMs: 500 });
    await master.start();
  });
  after(async () => {
    await master?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A target and a reference that holds the snapshot; `done` stops both. */
  async function targets(): Promise<{ target: RedisServer; ref: RedisServer; refc: Redis; done: () => Promise<void> }> {
    const target = await startRedis();
    const ref = await startRedis();
    const refc = ref.client();
    await writeReference(refc, keys);
    return { target, ref, refc, done: async () => (refc.disconnect(), await target.stop(), await ref.stop()) };
  }

  /** A target with its reference and a daemon (with `extra` conf) in a fresh work dir, for `body`; all undone after it. */
  async function withDaemon(
    extra: Record<string, string>,
    body: (t: Awaited<ReturnType<typeof targets>>, d: TestDaemon, work: string) => Promise<void>,
  ): Promise<void> {
    const t = await targets();
    const work = tempDir('pm-load-push-');
    const d = await startDaemon(t.target, work, extra);
    try {
      await body(t, d, work);
    } finally {
      await stopDaemon(d);
      await t.done();
      rmSync(work, { recursive: true, force: true });
    }
  }

  /** SLAVEOF with `info` held back, until the load has written keys while the offset is still pending. */
  async function caughtInTheWindow(d: TestDaemon, work: string): Promise<() => void> {
    const release = master.holdNextInfo();
    await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
    await waitFor('keys loaded before info', async () => Number((await d.info('migrate')).get('load_keys') ?? 0) > 1000, 30_000);
    const m = await d.info('migrate');
    assert.equal(m.get('snapshot_phase'), 'transferring', 'info has not come');
    const cp = JSON.parse(readFileSync(join(work, 'dbsync', 'pika-migrate-db0.checkpoint.json'), 'utf8')) as { loading?: boolean; offsetPending?: boolean };
    assert.deepEqual([cp.loading, cp.offsetPending], [true, true]);
    return release;
  }

  it('loads the type dirs before info comes, then follows the binlog from info\'s offset: exact', async () => {
    await withDaemon({}, async (t, d, work) => {
      const release = await caughtInTheWindow(d, work);
      // Written on the master after its dump: in the binlog from info's offset on.
      for (const argv of [['SET', 's:1', 'changed'], ['DEL', 'h:3'], ['RPUSH', 'l:4', 'new'], ['SET', 'fresh', 'x']]) {
        master.write(argv);
        await t.refc.call(argv[0], ...argv.slice(1));
      }
      release();
      await untilIncremental(d);
      await waitFor('binlog applied', async () => (await t.target.client().get('fresh')) === 'x', 10_000);
      assert.deepEqual(await dataOf(t.target.client()), await dataOf(t.refc));
    });
  });

  it('a stop in the window: the restart refuses to resume, and takes a new snapshot when the target is flushed first', async () => {
    const t = await targets();
    const work = tempDir('pm-load-push-b-');
    const d = await startDaemon(t.target, work);
    const conf = { slaveof: `127.0.0.1:${master.port}` };
    try {
      const release = await caughtInTheWindow(d, work);
      await stopDaemon(d);
      release();
      await assert.rejects(startDaemon(t.target, work, conf), /stopped before the binlog offset came.*SLAVEOF 127\.0\.0\.1 \d+ force/s);
      // What the target holds beyond the new snapshot (keys the master deleted meanwhile) must go: the flush removes it.
      await t.target.client().set('gone-from-the-master', 'x');
      const d2 = await startDaemon(t.target, work, { ...conf, 'target-flush-on-full-sync': 'yes' });
      try {
        await untilIncremental(d2);
        assert.deepEqual(await dataOf(t.target.client()), await dataOf(t.refc));
      } finally {
        await stopDaemon(d2);
      }
    } finally {
      await t.done();
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('a push that fails before its first type dir leaves no checkpoint: nothing was written', async () => {
    await withDaemon({}, async (t, d, work) => {
      master.failNextPushOnce();
      await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
      assert.equal(await d.daemon.exited, 1);
      assert.match(d.daemon.failure?.message ?? '', /failed our rsync password/);
      assert.ok(!existsSync(join(work, 'dbsync', 'pika-migrate-db0.checkpoint.json')), 'no checkpoint');
      assert.equal(await t.target.client().dbsize(), 0);
    });
  });

  it('the link lost in the window: stops with the cause named, since a new snapshot would not remove what the master deleted', async () => {
    await withDaemon({}, async (t, d, work) => {
      await caughtInTheWindow(d, work);
      master.dropConnections();
      assert.equal(await d.daemon.exited, 1);
      assert.match(d.daemon.failure?.message ?? '', /snapshot push failed .* after \d+ commands of it were written to the target.*target-flush-on-full-sync : yes/);
    });
  });

  it('the link lost in the window with target-flush-on-full-sync: a new snapshot after a FLUSHDB, exact', async () => {
    await withDaemon({ 'target-flush-on-full-sync': 'yes' }, async (t, d, work) => {
      await caughtInTheWindow(d, work);
      const dbsyncs = master.requests.filter((r) => r.type === MsgType.DBSync).length;
      await t.target.client().set('gone-from-the-master', 'x');
      master.dropConnections();
      await untilIncremental(d, 60_000);
      assert.ok(master.requests.filter((r) => r.type === MsgType.DBSync).length > dbsyncs, 'a second DBSync');
      assert.deepEqual(await dataOf(t.target.client()), await dataOf(t.refc));
    });
  });
});
