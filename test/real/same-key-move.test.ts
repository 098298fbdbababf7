/**
 * RPOPLPUSH k k and SMOVE k k m on a real master, with the key's one element and a TTL. 3.5+ log
 * RPOPLPUSH as `RPOP k` + `LPUSH k v`: replayed as two commands, the RPOP empties the list, Redis
 * deletes the key and its TTL, and the LPUSH makes a new list without one, where the master's list
 * never stopped existing. A client's own RPOP + LPUSH of another value keeps the replay's meaning.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { REAL_PIKA_VERSIONS } from '../helpers/real-pika.js';
import { startDaemon, untilIncremental } from '../daemon/support.js';
import { assertExact, untilCaughtUp, useRealRig } from './support.js';

for (const version of REAL_PIKA_VERSIONS) {
  describe(`real Pika ${version}: a list or set moved onto itself`, () => {
    const rig = useRealRig(version, `pm-selfmove-${version}-`);

    it('keeps the TTL of a one-element list rotated by RPOPLPUSH k k, and the meaning of a client RPOP + LPUSH', async () => {
      rig.d = await startDaemon(rig.target, rig.dir);
      await rig.d.admin.call('SLAVEOF', '127.0.0.1', String(rig.pika.port), 'force');
      await untilIncremental(rig.d, 60_000);
      const c = rig.pika.client();
      const script: string[][] = [
        ['RPUSH', 'rot:one', 'a'], ['EXPIRE', 'rot:one', '1000'], ['RPOPLPUSH', 'rot:one', 'rot:one'],
        ['RPUSH', 'rot:many', 'a', 'b', 'c'], ['EXPIRE', 'rot:many', '1000'], ['RPOPLPUSH', 'rot:many', 'rot:many'],
        ['RPUSH', 'rot:none', 'a'], ['RPOPLPUSH', 'rot:none', 'rot:none'],
        // a client's own pair: the list is emptied on the master too, so its TTL goes
        ['RPUSH', 'pair:other', 'a'], ['EXPIRE', 'pair:other', '1000'], ['RPOP', 'pair:other'], ['LPUSH', 'pair:other', 'x'],
        ['RPOP', 'pair:missing'], ['LPUSH', 'pair:missing', 'y'],
        ['SADD', 'mv:one', 'm'], ['EXPIRE', 'mv:one', '1000'], ['SMOVE', 'mv:one', 'mv:one', 'm'],
      ];
      for (const cmd of script) await c.call(cmd[0], ...cmd.slice(1));
      assert.ok((await c.ttl('rot:one')) > 900, 'the master keeps the rotated list and its TTL');
      assert.equal(await c.ttl('pair:other'), -1);
      await untilCaughtUp(rig.pika, rig.d, 20_000);
      const t = rig.target.client();
      assert.deepEqual(await t.lrange('rot:many', 0, -1), ['c', 'a', 'b']);
      assert.deepEqual(await t.lrange('pair:other', 0, -1), ['x']);
      assert.deepEqual(await t.lrange('pair:missing', 0, -1), ['y']);
      await assertExact(rig.pika, rig.target, rig.dir, version);
    });
  });
}
