/**
 * The target ACL user of the README, exactly as documented there: a whole migration (snapshot, the
 * §5.3 workload, a full sync with FLUSHDB) runs with it and Redis logs no denial; a permission
 * taken away is a clear fatal error naming the command, never a retry loop.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FatalError } from '../../src/core/errors.js';
import { PikaLogger } from '../convert/pika-logger.js';
import { assertSameReads } from '../convert/redis-dump.js';
import { workload } from '../convert/workload.js';
import { assertRedisHoldsExpected } from '../helpers/expected-redis.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { loadExpected } from '../pika/expected.js';
import { tempDir, waitFor } from '../replication/support.js';
import { ackedUpTo, copyData, dataOf, startAll, startDaemon, untilIncremental } from './support.js';

/** The rules after `ACL SETUSER pika-migrate on >…` in the README: the test uses what operators are told. */
function readmeRules(): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const m = /^ACL SETUSER pika-migrate on >\S+ (.+)$/m.exec(readme);
  assert.ok(m !== null, 'README has an ACL SETUSER pika-migrate line');
  return m[1].trim().split(/\s+/);
}

const PWD = 'acl-test-secret';

/** A target with the README's user, plus `extraRules` (e.g. one permission taken away). */
async function aclTarget(extraRules: string[] = []): Promise<RedisServer> {
  const r = await startRedis();
  await r.client().call('ACL', 'SETUSER', 'pika-migrate', 'on', `>${PWD}`, ...readmeRules(), ...extraRules);
  return r;
}

const asUser = { 'target-redis-user': 'pika-migrate', 'target-redis-pwd': PWD };

test('a migration with the README\'s ACL user: snapshot, binlog workload and a FLUSHDB full sync, no denial logged', async () => {
  const { target, master, d, done } = await startAll('C', '3.5.5', { ...asUser, 'target-flush-on-full-sync': 'yes' }, { target: () => aclTarget() });
  const ref = await startRedis();
  try {
    const c = target.client();
    await c.set('left-over', 'x'); // the full sync's FLUSHDB removes it
    assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force'), 'OK');
    await untilIncremental(d);
    const n = await assertRedisHoldsExpected(c, loadExpected(join(FIXTURES, 'snapshots/3.5.5-base/expected.json')), { nowMs: Date.now(), expirySlackMs: 1000 });
    assert.ok(n > 20, `${n} keys compared`);
    assert.equal(await c.exists('left-over'), 0, 'FLUSHDB ran');
    const a = ref.client();
    await copyData(c, a);
    const logger = new PikaLogger(a, 'C', '3.5.5');
    let end = master.write(['set', 'workload:start', '1']);
    await a.set('workload:start', '1');
    for (const argv of workload('C', '3.5.5')) for (const logged of await logger.run(argv)) end = master.write(logged);
    await waitFor('master acked the workload', ackedUpTo(master, end), 20_000);
    await assertSameReads(() => dataOf(c), () => dataOf(a), 2000);
    // Detaching deletes our keys (SCAN, DEL) with the same user.
    assert.equal(await d.admin.call('SLAVEOF', 'NO', 'ONE'), 'OK');
    assert.deepEqual(await c.keys('pika-migrate:*'), []);
    const denied = (await c.call('ACL', 'LOG')) as unknown[];
    assert.deepEqual(denied, [], `Redis denied the user something: ${JSON.stringify(denied)}`);
    const who = (await c.call('CLIENT', 'LIST')) as string;
    assert.ok(/name=pika-migrate-sink-0 .*user=pika-migrate /.test(who), 'the senders are logged in as the ACL user');
  } finally {
    await ref.stop();
    await done();
  }
});

test('a command the user may not run while copying stops the daemon (exit 1) with NOPERM and the command named', async () => {
  for (const [rule, command] of [
    ['-rpush', /RPUSH/],
    ['-evalsha', /'evalsha'/],
  ] as const) {
    const { master, d, done } = await startAll('C', '3.5.5', asUser, { target: () => aclTarget([rule]) });
    try {
      const t0 = Date.now();
      assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force'), 'OK');
      assert.equal(await d.daemon.exited, 1);
      const e = d.daemon.failure;
      assert.ok(e instanceof FatalError, String(e));
      assert.match(e.message, /NOPERM/);
      assert.match(e.message, command);
      assert.ok(Date.now() - t0 < 15_000, `${Date.now() - t0} ms: no retry loop`);
    } finally {
      await done();
    }
  }
});

test('a command the sink needs at connect (SCRIPT LOAD, SELECT) denied: the start fails at once, naming it', async () => {
  for (const [rule, db, command] of [
    ['-script|load', '0', /'script\|load'/],
    ['-select', '1', /'select'/],
  ] as const) {
    const r = await aclTarget([rule]);
    const dir = tempDir('pm-acl-');
    try {
      await assert.rejects(startDaemon(r, dir, { ...asUser, 'target-redis-db': db }), (e: Error) => {
        assert.ok(e instanceof FatalError, `${e.name}: ${e.message}`);
        assert.match(e.message, /NOPERM/);
        assert.match(e.message, command);
        return true;
      });
    } finally {
      await r.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
