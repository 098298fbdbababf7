/**
 * The target (no persistence) is killed -9 and comes back empty while the daemon streams the
 * binlog: the daemon must not stream on over the hole. It stops acking the master, says so in
 * INFO migrate, keeps saying so across a restart, and starts over only on SLAVEOF … force.
 */
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from '../replication/support.js';
import { ackedUpTo, startAll, startDaemon, stopDaemon, untilIncremental } from './support.js';

describe('daemon: the target restarts empty while streaming', () => {
  it('stops acking, reports target_lost_writes:1 (also after a restart), and starts over only on SLAVEOF force', async () => {
    const { target, master, dir, d, done } = await startAll();
    let d2: Awaited<ReturnType<typeof startDaemon>> | null = null;
    try {
      await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
      await untilIncremental(d);
      let end = master.write(['set', 'before', '1']);
      for (let i = 0; i < 400; i++) end = master.write(['incr', `ctr:${i % 40}`]);
      await waitFor('the writes acked', ackedUpTo(master, end), 15_000);
      const ackedBefore = { ...master.replicaState!.acked };

      await target.crash(300);
      for (let i = 0; i < 40; i++) master.write(['incr', `ctr:${i}`]);
      await waitFor('target_lost_writes:1', async () => (await d.info('migrate')).get('target_lost_writes') === '1', 20_000);
      const m = await d.info('migrate');
      assert.equal(m.get('phase'), 'error');
      assert.match(m.get('target_lost_writes_reason') ?? '', new RegExp(`Redis at 127\\.0\\.0\\.1:${target.port} lost writes it had acknowledged`));
      await new Promise((r) => setTimeout(r, 1500));
      // The link is closed (or, while it closes, acks nothing new).
      const st = master.replicaState;
      if (st !== null) assert.deepEqual(st.acked, ackedBefore, 'nothing acked after the loss');
      const record = join(dir, 'dbsync', 'pika-migrate.target-lost-writes');
      assert.ok(existsSync(record));
      await assert.rejects(d.admin.call('SLAVEOF', '127.0.0.1', String(master.port)), /lost writes it had acknowledged.*force starts over/);

      // A restart (with slaveof in its conf) does not resume from the checkpoint past the hole.
      await stopDaemon(d);
      assert.equal(await d.daemon.exited, 1, 'a daemon whose target lost writes does not stop with success');
      d2 = await startDaemon(target, dir, { slaveof: `127.0.0.1:${master.port}` });
      const m2 = await d2.info('migrate');
      assert.equal(m2.get('target_lost_writes'), '1');
      assert.equal(m2.get('phase'), 'error');

      await d2.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
      await untilIncremental(d2);
      assert.equal((await d2.info('migrate')).get('target_lost_writes'), '0');
      assert.ok(!existsSync(record));
      end = master.write(['set', 'after', '1']);
      await waitFor('a new write acked', ackedUpTo(master, end), 15_000);
      const c = target.client();
      assert.equal(await c.get('after'), '1');
    } finally {
      if (d2 !== null) await stopDaemon(d2);
      await done();
    }
  });
});
