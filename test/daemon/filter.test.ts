/** The key filter applies to the snapshot and to the binlog alike, through the daemon. */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_TYPE_ORDER } from '../../src/snapshot/pika/snapshot.js';
import { assertRedisHoldsExpected } from '../helpers/expected-redis.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { loadExpected } from '../pika/expected.js';
import { waitFor } from '../replication/support.js';
import { ackedUpTo, startAll, untilIncremental } from './support.js';

describe('filters', () => {
  it('filter-exclude-keys and filter-types leave the same keys out of the snapshot and the binlog', async () => {
    const base = join(FIXTURES, 'snapshots/3.5.5-base');
    const { target, master, d, done } = await startAll('C', '3.5.5', { 'filter-exclude-keys': 'cnt:* secret:*', 'filter-types': 'string hash list set' });
    try {
      await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
      await untilIncremental(d);
      const exp = loadExpected(join(base, 'expected.json'));
      const left = (name: string) => {
        const k = exp.keys[name];
        const type = DEFAULT_TYPE_ORDER.find((t) => k.types[t] !== undefined);
        return name.startsWith('cnt:') || type === 'zset';
      };
      const c = target.client();
      const n = await assertRedisHoldsExpected(c, exp, { nowMs: Date.now(), expirySlackMs: 1000, ignore: left, types: ['string', 'hash', 'list', 'set'] });
      assert.ok(n > 2000);
      const keys = (await c.keys('*')).filter((k) => !k.startsWith('pika-migrate:'));
      assert.equal(keys.length, n, 'nothing beyond what the filter lets through');
      // Counted per (name, type): every type of a left-out name, and the zset of a name held in several types.
      const leftOut = Object.entries(exp.keys).reduce((n, [name, k]) => n + (name.startsWith('cnt:') ? Object.keys(k.types).length : k.types.zset !== undefined ? 1 : 0), 0);
      assert.equal(Number((await d.info('migrate')).get('load_filtered')), leftOut);
      // The binlog, with the same rules.
      let end = master.write(['set', 'secret:pw', 'x']);
      end = master.write(['zadd', 'z:new', '1', 'm']);
      end = master.write(['set', 'open:1', 'v']);
      end = master.write(['del', 'open:1', 'secret:pw']);
      end = master.write(['set', 'open:2', 'v']);
      end = master.write(['rpoplpush', 'secret:q', 'open:q']);
      await waitFor('acked', ackedUpTo(master, end), 15_000);
      assert.equal(await c.exists('secret:pw', 'z:new', 'open:1', 'open:q'), 0);
      assert.equal(await c.get('open:2'), 'v');
      const m = await d.info('migrate');
      assert.equal(m.get('binlog_notes_filter_mixed'), '1');
      assert.equal(m.get('binlog_notes_filtered'), '3');
    } finally {
      await done();
    }
  });
});
