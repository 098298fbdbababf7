/**
 * A snapshot load that takes long (here: Redis refuses writes for a few seconds) no longer races
 * the master's binlog retention: BinlogSync runs meanwhile, entries are spooled to disk and acked,
 * then replayed in order; a full spool stops the acks instead; an interrupted load resumes at the
 * next start (or is refused, saying why, when it cannot).
 */
import { strict as assert } from 'node:assert';
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RedisServer } from '../helpers/redis.js';
import { waitFor } from '../replication/support.js';
import type { Checkpoint } from '../../src/ops/checkpoint.js';
import { MsgType } from '../../src/replication/messages.js';
import type { FakeMaster } from '../master/fake-master.js';
import { ackedUpTo, startAll, startDaemon, stopDaemon, type TestDaemon, untilIncremental } from './support.js';

const dbSyncs = (m: FakeMaster) => m.requests.filter((q) => q.type === MsgType.DBSync).length;

const setup = (extra: Record<string, string> = {}) => startAll('C', '3.5.5', extra);

/**
 * Holds the load: Redis refuses writes (scripts included) for `ms`. Sent right after SLAVEOF has
 * answered (SLAVEOF itself writes to the target), well before the pulled snapshot starts loading.
 */
async function pauseWrites(target: RedisServer, ms: number): Promise<void> {
  await target.client().call('CLIENT', 'PAUSE', String(ms), 'WRITE');
}

describe('binlog spool during a long snapshot load', () => {
  it('acks entries once spooled while the load is held, then replays them in order', async () => {
    const { target, master, dir, d, done } = await setup({ 'target-flush-on-full-sync': 'yes' });
    try {
      await target.client().set('left:over', 'from an earlier attempt');
      await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
      await pauseWrites(target, 4000);
      await waitFor('BinlogSync active', () => master.events.some((e) => e.kind === 'activate'), 20_000);
      let end = master.write(['set', 'sp:first', '1']);
      for (let i = 0; i < 200; i++) end = master.write(['incr', 'sp:ctr']);
      end = master.write(['rpush', 'sp:list', 'a', 'b']);
      await waitFor('acked while the load is held', () => ackedUpTo(master, end)(), 10_000);
      const m = await d.info('migrate');
      assert.equal(m.get('phase'), 'full_sync', 'the load is still held');
      assert.equal(m.get('spool_entries'), '202');
      assert.equal(m.get('spool_durable_offset'), `${end.filenum} ${end.offset}`);
      assert.ok(existsSync(join(dir, 'dbsync', 'spool-db0.bin')));
      const cp = JSON.parse(readFileSync(join(dir, 'dbsync', 'pika-migrate-db0.checkpoint.json'), 'utf8')) as { loading?: boolean };
      assert.equal(cp.loading, true, 'the checkpoint says a load is under way');
      // Live writes keep coming while the spool replays.
      await untilIncremental(d);
      for (let i = 0; i < 50; i++) end = master.write(['incr', 'sp:ctr']);
      await waitFor('acked live', () => ackedUpTo(master, end)(), 10_000);
      const c = target.client();
      assert.equal(await c.get('sp:ctr'), '250');
      assert.deepEqual(await c.lrange('sp:list', 0, -1), ['a', 'b']);
      assert.equal(await c.get('sp:first'), '1');
      assert.equal(await c.exists('left:over'), 0, 'target-flush-on-full-sync cleared the target first');
      assert.ok(Number((await d.info('migrate')).get('load_keys')) > 20, 'the snapshot is in too');
      assert.equal(existsSync(join(dir, 'dbsync', 'spool-db0.bin')), false, 'the spool is gone once replayed');
      const cp2 = JSON.parse(readFileSync(join(dir, 'dbsync', 'pika-migrate-db0.checkpoint.json'), 'utf8')) as { loading?: boolean };
      assert.equal(cp2.loading, undefined);
    } finally {
      await done();
    }
  });

  it('a full spool (spool-max-bytes) stops the acks until the load is done; nothing is lost', async () => {
    const { target, master, d, done } = await setup({ 'spool-max-bytes': '2000' });
    try {
      await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
      await pauseWrites(target, 6000);
      await waitFor('BinlogSync active', () => master.events.some((e) => e.kind === 'activate'), 20_000);
      let end = master.write(['incr', 'full:ctr']);
      for (let i = 0; i < 199; i++) end = master.write(['incr', 'full:ctr']);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await d.info('migrate')).get('phase'), 'full_sync', 'the load is still held');
      assert.ok(!ackedUpTo(master, end)(), 'not everything acked while the spool is full');
      assert.ok(Number((await d.info('migrate')).get('spool_bytes')) >= 2000);
      await waitFor('everything acked after the load', () => ackedUpTo(master, end)(), 30_000);
      assert.equal(await target.client().get('full:ctr'), '200');
    } finally {
      await done();
    }
  });

  it('a load interrupted by a stop resumes at the next start: no second snapshot, BinlogSync on from the spool, every entry once', async () => {
    const { target, master, dir, d, done } = await setup();
    const cpPath = join(dir, 'dbsync', 'pika-migrate-db0.checkpoint.json');
    let d2: TestDaemon | null = null;
    try {
      await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
      await pauseWrites(target, 3000);
      await waitFor('BinlogSync active', () => master.events.some((e) => e.kind === 'activate'), 20_000);
      let end = master.write(['set', 'rs:first', '1']);
      for (let i = 0; i < 100; i++) end = master.write(['incr', 'rs:ctr']);
      end = master.write(['rpush', 'rs:list', 'a']);
      await waitFor('spooled and acked while the load is held', () => ackedUpTo(master, end)(), 10_000);
      const spooledTo = end;
      d.admin.disconnect();
      await d.daemon.stop('test');
      assert.equal(await d.daemon.exited, 0);
      const cp = JSON.parse(readFileSync(cpPath, 'utf8')) as Checkpoint;
      assert.equal(cp.loading, true);
      assert.deepEqual(cp.load?.spool.durable, { filenum: spooledTo.filenum, offset: spooledTo.offset }, 'the checkpoint says how far the spool is fsynced');
      assert.ok(existsSync(join(dir, 'dbsync', 'spool-db0.bin')), 'the spool is kept for the restart');
      // Written while the daemon is down.
      for (let i = 0; i < 50; i++) end = master.write(['incr', 'rs:ctr']);
      end = master.write(['rpush', 'rs:list', 'b']);
      const snapshots = dbSyncs(master);
      d2 = await startDaemon(target, dir, { slaveof: `127.0.0.1:${master.port}` });
      await untilIncremental(d2);
      await waitFor('caught up', () => ackedUpTo(master, end)(), 20_000);
      assert.equal(dbSyncs(master), snapshots, 'no second snapshot');
      assert.deepEqual(master.events.filter((e) => e.kind === 'trysync').pop()?.detail, { filenum: spooledTo.filenum, offset: spooledTo.offset }, 'TrySync from the spool\'s end');
      const c = target.client();
      assert.equal(await c.get('rs:ctr'), '150');
      assert.deepEqual(await c.lrange('rs:list', 0, -1), ['a', 'b']);
      assert.equal(await c.get('rs:first'), '1');
      assert.ok(Number((await d2.info('migrate')).get('load_keys')) > 20, 'the snapshot is in');
      assert.equal(existsSync(join(dir, 'dbsync', 'spool-db0.bin')), false, 'the spool is gone once replayed');
    } finally {
      if (d2 !== null) await stopDaemon(d2);
      await done();
    }
  });

  it('an interrupted load whose snapshot changed, or whose settings changed, is refused with the reason and force', async () => {
    const { target, master, dir, d, done } = await setup();
    try {
      await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
      await pauseWrites(target, 3000);
      await waitFor('BinlogSync active', () => master.events.some((e) => e.kind === 'activate'), 20_000);
      d.admin.disconnect();
      await d.daemon.stop('test');
      assert.equal(await d.daemon.exited, 0);
      await assert.rejects(
        startDaemon(target, dir, { slaveof: `127.0.0.1:${master.port}`, 'sync-batch-num': '7' }),
        /a snapshot load of master 127\.0\.0\.1:\d+ was interrupted, and it cannot be resumed: sync-batch-num was "50", is "7" .* force loads a new snapshot/,
      );
      appendFileSync(join(dir, 'dbsync', 'db0', 'info'), '\n');
      await assert.rejects(
        startDaemon(target, dir, { slaveof: `127.0.0.1:${master.port}` }),
        /was interrupted, and it cannot be resumed: its snapshot .*db0 is not the one the load started on .* force loads a new snapshot/,
      );
      rmSync(join(dir, 'dbsync', 'db0'), { recursive: true, force: true });
      await assert.rejects(startDaemon(target, dir, { slaveof: `127.0.0.1:${master.port}` }), /cannot be resumed: its snapshot .*db0 is gone; SLAVEOF .* force/);
    } finally {
      await done();
    }
  });
});
