/** key-rename-prefix through the daemon: the snapshot and the binlog end in Redis under the new names only. */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertRedisHoldsExpected } from '../helpers/expected-redis.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startRedis } from '../helpers/redis.js';
import { bytesOf, loadExpected, type ExpectedFile } from '../pika/expected.js';
import { waitFor } from '../replication/support.js';
import { assertSameReads } from '../convert/redis-dump.js';
import { ackedUpTo, copyData, dataOf, startAll, untilIncremental } from './support.js';

/** The test's own statement of the mapping `str:=>string: h:=>hash: =>m:` (longest prefix first). */
function renamed(key: Buffer): Buffer {
  const swap = (from: string, to: string) => Buffer.concat([Buffer.from(to), key.subarray(from.length)]);
  if (key.subarray(0, 4).toString('latin1') === 'str:') return swap('str:', 'string:');
  if (key.subarray(0, 2).toString('latin1') === 'h:') return swap('h:', 'hash:');
  return swap('', 'm:');
}

function nameOf(b: Buffer): string {
  const s = b.toString('latin1');
  return /^[\x20-\x7e]*$/.test(s) ? s : `hex:${b.toString('hex')}`;
}

describe('key-rename-prefix', () => {
  it('renames every key of the snapshot and of the binlog, after the filter', async () => {
    const base = join(FIXTURES, 'snapshots/3.5.5-base');
    const { target, master, d, done } = await startAll('C', '3.5.5', { 'key-rename-prefix': 'str:=>string: h:=>hash: =>m:', 'filter-exclude-keys': 'cnt:*' });
    const ref = await startRedis();
    try {
      await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
      await untilIncremental(d);
      const exp = loadExpected(join(base, 'expected.json'));
      const moved: ExpectedFile = { ...exp, keys: {} };
      for (const [name, k] of Object.entries(exp.keys)) if (!name.startsWith('cnt:')) moved.keys[nameOf(renamed(bytesOf(name)))] = k;
      const c = target.client();
      const n = await assertRedisHoldsExpected(c, moved, { nowMs: Date.now(), expirySlackMs: 1000 });
      assert.ok(n > 2000, `${n} keys compared`);
      const names = [...(await dataOf(c)).keys()];
      assert.equal(names.length, n, 'nothing beyond the renamed snapshot');
      assert.deepEqual(names.filter((k) => !/^(string|hash|m):/.test(k)), [], 'no key under its source name');

      // The binlog: single- and multi-key commands, and the target form of each on a reference.
      await copyData(c, ref.client());
      const r = ref.client();
      const live: Array<[string[], string[]]> = [
        [['set', 'str:live', 'str:live'], ['set', 'string:live', 'str:live']],
        [['incr', 'cnt:incr'], []],
        [['rpoplpush', 'l:0', 'h:from-list'], ['rpoplpush', 'm:l:0', 'hash:from-list']],
        [['mset', 'str:m1', 'a', 'other', 'b'], ['mset', 'string:m1', 'a', 'm:other', 'b']],
        [['del', 'h:0', 's:0', 'str:1'], ['del', 'hash:0', 'm:s:0', 'string:1']],
        [['sadd', 's:new', 'x', 'y'], ['sadd', 'm:s:new', 'x', 'y']],
        [['smove', 's:new', 's:new2', 'x'], ['smove', 'm:s:new', 'm:s:new2', 'x']],
        [['sinterstore', 's:inter', 's:new', 's:1'], ['sinterstore', 'm:s:inter', 'm:s:new', 'm:s:1']],
        [['zunionstore', 'z:u', '2', 'z:0', 'z:1', 'WEIGHTS', '1', '2'], ['zunionstore', 'm:z:u', '2', 'm:z:0', 'm:z:1', 'WEIGHTS', '1', '2']],
        [['bitop', 'or', 'str:bits', 'bits', 'str:2'], ['bitop', 'or', 'string:bits', 'm:bits', 'string:2']],
        [['rename', 'str:3', 'h:was-str'], ['rename', 'string:3', 'hash:was-str']],
        [['hset', 'h:1', 'str:field', 'v'], ['hset', 'hash:1', 'str:field', 'v']],
        [['expireat', 'str:4', String(Math.floor(Date.now() / 1000) + 3600)], []],
      ];
      let end = master.write(['set', 'str:first', '1']);
      await r.call('set', 'string:first', '1');
      for (const [source, targetForm] of live) {
        end = master.write(source);
        if (targetForm.length > 0) await r.call(targetForm[0], ...targetForm.slice(1));
        else if (source[0] === 'expireat') await r.call('expireat', 'string:4', source[2]);
      }
      await waitFor('acked', ackedUpTo(master, end), 15_000);
      await assertSameReads(() => dataOf(c), () => dataOf(r), 2000, 'target vs reference');
      assert.equal(await c.exists('str:live', 'l:0', 's:new2', 'cnt:incr', 'm:cnt:incr'), 0, 'source names and filtered keys are absent');
      assert.equal(await c.get('string:live'), 'str:live', 'values are not renamed');
      assert.ok((await c.ttl('string:4')) > 3000);
    } finally {
      await ref.stop();
      await done();
    }
  });
});
