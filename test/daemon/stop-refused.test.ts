/**
 * A stop while the target refuses every batch (maxmemory with noeviction: OOM until memory is
 * freed) must not wait for a flush that cannot end: the daemon exits 1 at once, naming the cause.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { waitFor } from '../replication/support.js';
import { ackedUpTo, startAll, untilIncremental } from './support.js';

describe('daemon: stop while the target answers OOM', () => {
  it('SIGTERM-like stop exits 1 within a second or two instead of retrying forever', async () => {
    const { target, master, d, done } = await startAll();
    try {
      await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
      await untilIncremental(d);
      const end = master.write(['set', 'before', '1']);
      await waitFor('first write acked', ackedUpTo(master, end), 10_000);
      const c = target.client();
      await c.config('SET', 'maxmemory-policy', 'noeviction');
      await c.config('SET', 'maxmemory', '1');
      for (let i = 0; i < 50; i++) master.write(['set', `oom:${i}`, 'x'.repeat(100)]);
      await waitFor('the senders retrying OOM', async () => Number((await d.info('migrate')).get('sink_errors_oom') ?? 0) > 2, 10_000);
      const t0 = Date.now();
      void d.daemon.stop('received SIGTERM');
      const code = await Promise.race([d.daemon.exited, new Promise<string>((r) => setTimeout(() => r('hung'), 10_000))]);
      assert.equal(code, 1);
      assert.ok(Date.now() - t0 < 3000, `stopped ${Date.now() - t0} ms after the signal`);
      assert.equal(await c.exists('oom:0'), 0);
      await c.config('SET', 'maxmemory', '0');
    } finally {
      await done();
    }
  });
});
