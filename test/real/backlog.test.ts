/**
 * A daemon resumed over a backlog of large entries on a real master: the master packs up to 100
 * entries into one BinlogSync message, which the link reads entry by entry as it arrives
 * (replication/response-reader.ts) instead of whole. Redis must end equal to the master.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { REAL_PIKA_VERSIONS } from '../helpers/real-pika.js';
import { startDaemon, stopDaemon, untilIncremental } from '../daemon/support.js';
import { assertExact, untilCaughtUp, useRealRig } from './support.js';

const ENTRIES = 40;
const VALUE = 300 << 10;

for (const version of REAL_PIKA_VERSIONS) {
  describe(`real Pika ${version}: a resume over a backlog of ${ENTRIES} entries of 300 KiB`, () => {
    const rig = useRealRig(version, `pm-backlog-${version}-`);

    it('applies every entry of the large messages, in order, and ends exact', async () => {
      rig.d = await startDaemon(rig.target, rig.dir);
      await rig.d.admin.call('SLAVEOF', '127.0.0.1', String(rig.pika.port), 'force');
      await untilIncremental(rig.d, 60_000);
      const c = rig.pika.client();
      await c.set('before', '1');
      await untilCaughtUp(rig.pika, rig.d, 20_000);
      await stopDaemon(rig.d);
      rig.d = undefined;
      // Each value distinct, and one key written twice: order within the messages matters.
      for (let i = 0; i < ENTRIES; i++) await c.set(`big:${i % 30}`, Buffer.alloc(VALUE, 97 + (i % 26)));
      await c.rpush('after', 'x');
      rig.d = await startDaemon(rig.target, rig.dir, { slaveof: `127.0.0.1:${rig.pika.port}` });
      await untilCaughtUp(rig.pika, rig.d, 60_000);
      const t = rig.target.client();
      assert.equal((await t.getBuffer('big:5'))?.[0], 97 + 35 % 26, 'the later of two writes to a key wins');
      assert.deepEqual(await t.lrange('after', 0, -1), ['x']);
      await assertExact(rig.pika, rig.target, rig.dir, version);
    });
  });
}
