/**
 * Streams through the daemon: a test master serving the real 4.0.1 / 3.5.5 dump with stream
 * records written in (stream-dumps.ts) and, on its client port, what that Pika holds. 4.0's DBSync
 * carries the streams: the full sync copies them, binlog XADD/XDEL/XTRIM follow, and verify finds
 * Redis equal. 3.5.5's DBSync leaves `streams/` out, as the real one does: the daemon says how many
 * are not copied, and verify reports them missing.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { verify, verifyOptionsOf } from '../../src/daemon/verify.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startRedis } from '../helpers/redis.js';
import { FakeMaster, type MasterFamily } from '../master/fake-master.js';
import { PikaKeyspace } from '../master/pika-keyspace.js';
import { loadExpected } from '../pika/expected.js';
import { dumpWithStreams, STREAMS } from '../pika/stream-dumps.js';
import { tempDir, testLogger, waitFor } from '../replication/support.js';
import { confOf } from '../verify/support.js';
import { ackedUpTo, startDaemon, stopDaemon, untilIncremental } from './support.js';

/** What the master holds: expected.json plus the live streams (entries as `ms-seq`, fields). */
function keyspaceOf(version: '3.5.5' | '4.0.1', family: MasterFamily): PikaKeyspace {
  const ks = PikaKeyspace.fromExpected(loadExpected(join(FIXTURES, 'snapshots', `${version}-base`, 'expected.json')), family);
  for (const s of STREAMS) {
    if (s.entries.length === 0) continue;
    ks.set(s.name, { type: 'stream', entries: s.entries.map(([ms, seq, ...fv]) => [`${ms}-${seq}`, fv.map((f) => Buffer.from(f))]) });
  }
  return ks;
}

async function run(version: '3.5.5' | '4.0.1', family: MasterFamily, check: (x: { master: FakeMaster; ks: PikaKeyspace; conf: Record<string, string>; info: (s: string) => Promise<Map<string, string>>; target: Awaited<ReturnType<typeof startRedis>> }) => Promise<void>): Promise<void> {
  const root = dumpWithStreams(version, STREAMS, tempDir('pm-streams-'));
  const ks = keyspaceOf(version, family);
  const master = new FakeMaster({ family, version, snapshotSource: join(root, 'db0'), keyspace: ks, keepaliveMs: 500 });
  await master.start();
  const target = await startRedis();
  const dir = tempDir('pm-daemon-streams-');
  const d = await startDaemon(target, dir);
  try {
    assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force'), 'OK');
    await untilIncremental(d, 60_000);
    const conf = { 'target-redis-port': String(target.port), slaveof: `127.0.0.1:${master.port}`, 'log-path': join(dir, 'verify-log') };
    await check({ master, ks, conf, info: d.info, target });
  } finally {
    await stopDaemon(d);
    await master.stop();
    await target.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(dirname(root), { recursive: true, force: true });
  }
}

test('4.0.1 master: the full sync copies its streams, binlog XADD / XDEL / XTRIM follow as Pika applied them, verify finds no difference', async () => {
  await run('4.0.1', 'D', async ({ master, ks, conf, info, target }) => {
    assert.equal((await info('migrate')).get('load_stream'), '3');
    assert.equal((await info('migrate')).has('streams_not_copied'), false, 'a 4.0 DBSync carries streams');
    // Live writes, as Pika logs them (XADD's ID is the generated one), and as Pika then holds them.
    master.write(['xadd', 'st:a', '8-0', 'late', 'x']);
    master.write(['xdel', 'st:big-ids', '18446744073709551615-18446744073709551614']);
    const end = master.write(['xtrim', 'st:big', 'MAXLEN', '~', '10']);
    const a = ks.live('stream', Buffer.from('st:a'))!.value as { type: 'stream'; entries: Array<[string, Buffer[]]> };
    ks.set('st:a', { type: 'stream', entries: [...a.entries, ['8-0', [Buffer.from('late'), Buffer.from('x')]]] });
    ks.delete('st:big-ids', 'stream'); // emptied: Pika forgets it
    const big = ks.live('stream', Buffer.from('st:big'))!.value as { type: 'stream'; entries: Array<[string, Buffer[]]> };
    ks.set('st:big', { type: 'stream', entries: big.entries.slice(-10) }); // Pika trims exactly
    await waitFor('the master acked up to the XTRIM', ackedUpTo(master, end), 15_000);
    const t = target.client();
    assert.equal(await t.exists('st:big-ids'), 0);
    assert.equal(await t.xlen('st:big'), 10);
    const r = await verify(verifyOptionsOf(confOf(conf), {}, testLogger()));
    assert.deepEqual(r.differences, { missing: 0, extra: 0, type: 0, value: 0, ttl: 0 });
    assert.equal(r.compared.stream, 2);
    // An entry Pika does not hold is found.
    await t.xadd('st:a', '9-0', 'only', 'redis');
    const r2 = await verify(verifyOptionsOf(confOf(conf), {}, testLogger()));
    assert.equal(r2.differences.value, 1);
  });
});

test('3.5.5 master: its DBSync leaves streams out; streams_not_copied says how many, verify reports them missing', async () => {
  await run('3.5.5', 'C', async ({ master, ks, conf, info, target }) => {
    await waitFor('streams_not_copied', async () => (await info('migrate')).get('streams_not_copied') === '3', 15_000);
    assert.equal(await target.client().exists('st:a', 'st:big', 'st:big-ids'), 0);
    // A stream made after the sync comes through the binlog; 3.5.x EXISTS does not see it, XLEN does.
    await waitFor('the XADD acked', ackedUpTo(master, master.write(['xadd', 'st:new', '1-1', 'f', 'v'])), 15_000);
    ks.set('st:new', { type: 'stream', entries: [['1-1', [Buffer.from('f'), Buffer.from('v')]]] });
    const r = await verify(verifyOptionsOf(confOf(conf), {}, testLogger()));
    assert.equal(r.differences.missing, 3);
    assert.deepEqual(r.differencesByType, { stream: 3 }, 'no extra: st:new is held by Pika');
    assert.equal(r.compared.stream, 1);
  });
});
