/**
 * Restarts, as an operator sees them: the daemon stopped and started again resumes from its
 * checkpoint with TrySync (no second snapshot); a master that restarts mid-stream is followed on;
 * what cannot be resumed (another master, a purged binlog) stops with a message that names `force`.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BinlogPosition } from '../../src/core/binlog.js';
import { MsgType } from '../../src/replication/messages.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { FakeMaster } from '../master/fake-master.js';
import { tempDir, waitFor } from '../replication/support.js';
import { ackedUpTo, startDaemon, untilIncremental } from './support.js';

const SNAPSHOT = join(FIXTURES, 'snapshots/3.5.5-base/dump/db0');

const dbSyncs = (m: FakeMaster) => m.requests.filter((q) => q.type === MsgType.DBSync).length;

describe('daemon restarts and checkpoints (family C master)', () => {
  let target: RedisServer;
  let master: FakeMaster;
  let dir: string;
  let checkpoint: string;
  let end: BinlogPosition;

  before(async () => {
    target = await startRedis();
    // Small binlog files, so a purge can take the checkpoint's file away.
    master = new FakeMaster({ family: 'C', snapshotSource: SNAPSHOT, keepaliveMs: 500, binlogFileSize: 4096 });
    await master.start();
    dir = tempDir('pm-resume-');
    checkpoint = join(dir, 'dbsync', 'pika-migrate-db0.checkpoint.json');
  });
  after(async () => {
    await master?.stop();
    await target?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a clean stop writes the checkpoint at what Redis holds', async () => {
    const d = await startDaemon(target, dir);
    assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force'), 'OK');
    await untilIncremental(d);
    for (let i = 0; i < 20; i++) end = master.write(['incr', 'ctr']);
    end = master.write(['rpush', 'list', 'a']);
    await waitFor('acked', ackedUpTo(master, end), 15_000);
    d.admin.disconnect();
    await d.daemon.stop('test');
    assert.equal(await d.daemon.exited, 0);
    const cp = JSON.parse(readFileSync(checkpoint, 'utf8')) as { master: { port: number }; applied: BinlogPosition; replicationId?: string; target: string };
    assert.deepEqual(cp.applied, { filenum: end.filenum, offset: end.offset });
    assert.equal(cp.master.port, master.port);
    assert.match(cp.replicationId ?? '', /^[0-9a-f]{50}$/);
    assert.equal(cp.target, `127.0.0.1:${target.port}/0`);
  });

  it('started again with slaveof in the conf, it resumes with TrySync from the checkpoint: no snapshot, nothing lost or repeated', async () => {
    // Written while the daemon is down: the master keeps them for its registered replica.
    for (let i = 0; i < 30; i++) end = master.write(['incr', 'ctr']);
    end = master.write(['rpush', 'list', 'b']);
    const snapshotsBefore = dbSyncs(master);
    const from = (JSON.parse(readFileSync(checkpoint, 'utf8')) as { applied: BinlogPosition }).applied;
    const d = await startDaemon(target, dir, { slaveof: `127.0.0.1:${master.port}` });
    try {
      await waitFor('caught up', ackedUpTo(master, end), 20_000);
      assert.equal(dbSyncs(master), snapshotsBefore, 'no second snapshot');
      const trysync = master.events.filter((e) => e.kind === 'trysync').pop();
      assert.deepEqual(trysync?.detail, from);
      const c = target.client();
      const diag = async () => {
        const m = await d.info('migrate');
        return `skipped as applied: ${m.get('sink_skippedAsApplied')}, binlog entries: ${m.get('binlog_entries')}, trysync from ${JSON.stringify(from)}, acked ${JSON.stringify(master.replicaState?.acked)}, end ${JSON.stringify(end)}`;
      };
      assert.equal(await c.get('ctr'), '50', `every INCR applied exactly once (${await diag()})`);
      assert.deepEqual(await c.lrange('list', 0, -1), ['a', 'b']);
      const m = await d.info('migrate');
      assert.equal(m.get('phase'), 'incremental');
      assert.equal(m.get('load_keys'), undefined, 'nothing was loaded');
      // The master restarts: connections and registrations are gone, the binlog stays.
      await master.restart();
      for (let i = 0; i < 5; i++) end = master.write(['incr', 'ctr']);
      await waitFor('followed across the master restart', ackedUpTo(master, end), 20_000);
      assert.equal(await c.get('ctr'), '55');
      assert.equal(dbSyncs(master), snapshotsBefore, 'still no second snapshot');
    } finally {
      d.admin.disconnect();
      await d.daemon.stop('test');
      assert.equal(await d.daemon.exited, 0);
    }
  });

  it('refuses to resume another master from this checkpoint, and force starts over', async () => {
    const other = new FakeMaster({ family: 'C', snapshotSource: SNAPSHOT, keepaliveMs: 500 });
    await other.start();
    const d = await startDaemon(target, dir);
    try {
      await assert.rejects(d.admin.call('SLAVEOF', '127.0.0.1', String(other.port)), new RegExp(`checkpoint .* is of master 127\\.0\\.0\\.1:${master.port}, not 127\\.0\\.0\\.1:${other.port}; SLAVEOF 127\\.0\\.0\\.1 ${other.port} force starts over`));
      assert.equal((await d.info('replication')).get('role'), 'master', 'nothing started');
      assert.equal(dbSyncs(other), 0);
      assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(other.port), 'force'), 'OK');
      await untilIncremental(d);
      assert.equal(dbSyncs(other), 1);
      const cp = JSON.parse(readFileSync(checkpoint, 'utf8')) as { master: { port: number } };
      assert.equal(cp.master.port, other.port, 'the checkpoint now follows the new master');
      assert.equal(await d.admin.call('SLAVEOF', 'NO', 'ONE'), 'OK');
      assert.equal(existsSync(checkpoint), false, 'SLAVEOF NO ONE forgets the checkpoint with the master');
    } finally {
      d.admin.disconnect();
      await d.daemon.stop('test');
      await d.daemon.exited;
      await other.stop();
    }
  });

  it('a checkpoint whose binlog the master purged stops the daemon with exit 1 and names force (no second snapshot on its own)', async () => {
    const d1 = await startDaemon(target, dir);
    await d1.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
    await untilIncremental(d1);
    end = master.write(['set', 'k', 'v']);
    await waitFor('acked', ackedUpTo(master, end), 15_000);
    d1.admin.disconnect();
    await d1.daemon.stop('test');
    assert.equal(await d1.daemon.exited, 0);
    const snapshotsBefore = dbSyncs(master);
    // Enough writes to roll past the checkpoint's binlog file, then a forced purge (as an operator's purgelogsto … all).
    for (let i = 0; i < 400; i++) end = master.write(['set', `fill:${i}`, 'x'.repeat(40)]);
    assert.ok(master.purgeBelow(end.filenum, true).length > 0);
    const d2 = await startDaemon(target, dir, { slaveof: `127.0.0.1:${master.port}` });
    try {
      assert.equal(await d2.daemon.exited, 1);
      assert.match(d2.daemon.failure?.message ?? '', /no longer has binlog \d+:\d+ of db0 \(kSyncPointBePurged\).*SLAVEOF 127\.0\.0\.1 \d+ force/);
      assert.equal(dbSyncs(master), snapshotsBefore, 'no snapshot taken on its own');
    } finally {
      d2.admin.disconnect();
    }
  });
});
