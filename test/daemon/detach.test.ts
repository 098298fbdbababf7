/**
 * SLAVEOF NO ONE ends a migration: no resume can follow, so pika-migrate's bookkeeping keys leave
 * the target (this run's sender markers, those a killed run left, the applied positions, the load
 * guard); the master's own keys stay, `pika-migrate:canary` among them. A stop keeps what a resume needs.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ackedUpTo, startAll, stopDaemon, untilIncremental } from './support.js';
import { waitFor } from '../replication/support.js';

describe('SLAVEOF NO ONE removes our keys from the target', () => {
  it('leaves only data, follows again cleanly, and a stop keeps the applied positions', async () => {
    const { target, master, d, done } = await startAll('C', '3.5.5');
    const t = target.client();
    try {
      assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force'), 'OK');
      await untilIncremental(d);
      let end = master.write(['set', 'pika-migrate:canary', '1700000000000']);
      end = master.write(['set', 'live:1', 'a']);
      await waitFor('acked', ackedUpTo(master, end), 10_000);
      // What a run killed with -9 and an interrupted skip/fail load leave behind.
      await t.set('pika-migrate:sink:deadbeef0000:0', '17', 'PX', 86_400_000);
      await t.hset('pika-migrate:load-guard', 'some:key', '1');
      const ours = async () => (await t.keys('pika-migrate:*')).sort();
      const before = await ours();
      assert.ok(before.includes('pika-migrate:applied'));
      assert.ok(before.filter((k) => k.startsWith('pika-migrate:sink:')).length >= 2, `this run's markers: ${before.join(' ')}`);

      assert.equal(await d.admin.call('SLAVEOF', 'NO', 'ONE'), 'OK');
      assert.deepEqual(await ours(), ['pika-migrate:canary']);
      assert.equal(await t.get('live:1'), 'a');

      // The senders start new marker chains on the next migration.
      assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force'), 'OK');
      await untilIncremental(d);
      end = master.write(['set', 'live:2', 'b']);
      await waitFor('acked after following again', ackedUpTo(master, end), 10_000);
      assert.equal(await t.get('live:2'), 'b');

      await stopDaemon(d);
      const kept = await ours();
      assert.ok(kept.includes('pika-migrate:applied'), `a stop keeps the applied positions: ${kept.join(' ')}`);
    } finally {
      await done();
    }
  });
});
