/**
 * A full sync whose snapshot cannot be read whole (here: an emptied MANIFEST in the dump the master
 * sends) stops the daemon with exit 1 and the file named, instead of loading part of it and
 * following the binlog as if nothing were missing.
 */
import assert from 'node:assert/strict';
import { cpSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FatalError } from '../../src/core/errors.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startRedis } from '../helpers/redis.js';
import { FakeMaster } from '../master/fake-master.js';
import { tempDir } from '../replication/support.js';
import { startDaemon, stopDaemon } from './support.js';

test('a snapshot with an emptied MANIFEST is the fatal "snapshot cannot be read": exit 1, file named, nothing loaded', { timeout: 60_000 }, async () => {
  const dir = tempDir('pm-damaged-snap-');
  const source = join(dir, 'source');
  cpSync(join(FIXTURES, 'snapshots', '3.5.5-base', 'dump', 'db0'), source, { recursive: true });
  const manifest = readdirSync(join(source, 'hashes')).find((n) => n.startsWith('MANIFEST-'))!;
  truncateSync(join(source, 'hashes', manifest), 0);
  const target = await startRedis();
  const master = new FakeMaster({ family: 'C', version: '3.5.5', snapshotSource: source, keepaliveMs: 500 });
  await master.start();
  const d = await startDaemon(target, dir);
  try {
    const t0 = Date.now();
    assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force'), 'OK');
    assert.equal(await d.daemon.exited, 1);
    const e = d.daemon.failure;
    assert.ok(e instanceof FatalError, String(e));
    assert.match(e.message, new RegExp(`snapshot in .* cannot be read: .*/hashes/${manifest}@0: MANIFEST is empty`));
    assert.ok(Date.now() - t0 < 20_000, `${Date.now() - t0} ms: no retry loop`);
    const c = target.client();
    try {
      assert.equal(await c.dbsize(), 0, 'no key of the partial snapshot was written');
    } finally {
      c.disconnect();
    }
  } finally {
    await stopDaemon(d);
    await master.stop();
    await target.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
