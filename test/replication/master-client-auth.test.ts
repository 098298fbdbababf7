/**
 * The one read on the master's client port P (INFO server): `AUTH <masterauth>`, or an ACL user
 * (master-client-user / -pwd) on the Pika versions that have them (3.5.3+), against the test
 * master's P, which answers AUTH as each version does.
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { test } from 'node:test';
import { fetchPikaVersion } from '../../src/replication/master-version.js';
import { FakeMaster, type MasterFamily } from '../master/fake-master.js';
import { FIXTURES } from './support.js';
import { startAll, untilIncremental } from '../daemon/support.js';

const users = { reader: { password: 'r-pass', commands: ['info', 'ping'] }, pinger: { password: 'p-pass', commands: ['ping'] } };

async function withMaster(family: MasterFamily, version: string, f: (m: FakeMaster) => Promise<void>): Promise<void> {
  const m = new FakeMaster({ family, version, snapshotSource: join(FIXTURES, `snapshots/${version}-base/dump/db0`), requirepass: 'admin', clientUsers: users });
  await m.start();
  try {
    await f(m);
  } finally {
    await m.stop();
  }
}

test('Pika 3.5.3+: an ACL user with +info reads the version; a wrong password or a user without INFO says why', async () => {
  for (const [family, version] of [['C', '3.5.5'], ['D', '4.0.1']] as const) {
    await withMaster(family, version, async (m) => {
      assert.deepEqual(await fetchPikaVersion('127.0.0.1', m.port, { username: 'reader', password: 'r-pass' }, 2000), { version });
      assert.ok(m.events.some((e) => e.kind === 'client-command' && e.detail === 'info as reader'));
      assert.deepEqual(await fetchPikaVersion('127.0.0.1', m.port, { password: 'admin' }, 2000), { version });
      const wrong = await fetchPikaVersion('127.0.0.1', m.port, { username: 'reader', password: 'nope' }, 2000);
      assert.equal(wrong.version, null);
      assert.match(wrong.why!, /WRONGPASS/);
      const noInfo = await fetchPikaVersion('127.0.0.1', m.port, { username: 'pinger', password: 'p-pass' }, 2000);
      assert.equal(noInfo.version, null);
      assert.match(noInfo.why!, /NOPERM .*'info'/);
    });
  }
});

test('before 3.5.3 Pika has no users: AUTH <user> <password> is a wrong number of arguments, the version stays unknown', async () => {
  await withMaster('B', '3.3.6', async (m) => {
    const r = await fetchPikaVersion('127.0.0.1', m.port, { username: 'reader', password: 'r-pass' }, 2000);
    assert.equal(r.version, null);
    assert.match(r.why!, /wrong number of arguments for 'auth'/);
    assert.deepEqual(await fetchPikaVersion('127.0.0.1', m.port, { password: 'admin' }, 2000), { version: '3.3.6' });
    const bad = await fetchPikaVersion('127.0.0.1', m.port, { password: 'nope' }, 2000);
    assert.match(bad.why!, /invalid password/);
  });
});

test('the daemon logs in on P as master-client-user, while MetaSync still carries masterauth', async () => {
  const { master, d, done } = await startAll(
    'D',
    '4.0.1',
    { masterauth: 'admin', 'master-client-user': 'reader', 'master-client-pwd': 'r-pass' },
    { master: { requirepass: 'admin', clientUsers: users } },
  );
  try {
    assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force'), 'OK');
    await untilIncremental(d);
    assert.equal((await d.info('replication')).get('master_version'), '4.0.1');
    const asked = master.events.filter((e) => e.kind === 'client-command').map((e) => e.detail);
    assert.ok(asked.includes('info as reader'), asked.join(', '));
  } finally {
    await done();
  }
});
