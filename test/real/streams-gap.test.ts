/**
 * A real Pika 3.5.5 master holding streams: its DBSync leaves `streams/` out, so the full sync
 * cannot copy them. The daemon counts them on the master's client port (`KEYS * stream`) and says
 * so: a warning, and `streams_not_copied` in INFO migrate. Other keys are copied as usual.
 */
import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import { waitFor } from '../replication/support.js';
import { startDaemon, untilIncremental } from '../daemon/support.js';
import { useRealRig } from './support.js';

const rig = useRealRig('3.5.5', 'pm-real-streams-', async (r) => {
  const c = r.pika.client();
  await c.set('plain', 'v');
  await c.xadd('st:1', '*', 'f', 'v');
  await c.xadd('st:1', '*', 'g', 'w');
  await c.xadd('st:2', '5-1', 'f', 'v');
  r.d = await startDaemon(r.target, r.dir);
});

it('3.5.5 full sync: the streams its DBSync leaves out are counted in INFO migrate (streams_not_copied:2)', async () => {
  const { pika, target } = rig;
  const d = rig.d!;
  assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(pika.port), 'force'), 'OK');
  await untilIncremental(d, 60_000);
  await waitFor('streams_not_copied in INFO migrate', async () => (await d.info('migrate')).get('streams_not_copied') === '2', 15_000);
  const t = target.client();
  assert.equal(await t.get('plain'), 'v');
  assert.equal(await t.exists('st:1', 'st:2'), 0, 'not in the DBSync, so not on the target');
});
