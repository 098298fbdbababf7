/**
 * `pika-migrate load` of dumps holding streams (the real 3.5.5 and 4.0.1 dumps with stream records
 * written in through real RocksDB) into a real Redis 7: entries, IDs, last ID, entries-added and
 * max deleted ID equal the meta's. And a dump root with two DBs loaded in one run, each into the
 * Redis DB db-map names.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigError } from '../../src/core/errors.js';
import { offlineLoad } from '../../src/daemon/offline-load.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { assertRedisHoldsExpected } from '../helpers/expected-redis.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { loadExpected } from '../pika/expected.js';
import { dumpWithStreams, STREAMS } from '../pika/stream-dumps.js';
import { tempDir, testLogger } from '../replication/support.js';
import { confOf } from '../verify/support.js';

let redis: RedisServer;
let work: string;

before(async () => {
  redis = await startRedis();
  work = tempDir('pm-load-streams-');
});

after(async () => {
  await redis?.stop();
  rmSync(work, { recursive: true, force: true });
});

const conf = (extra: Record<string, string> = {}) => confOf({ 'target-redis-port': String(redis.port), 'log-path': join(work, 'log'), 'sync-batch-num': '64', ...extra });

/** XINFO STREAM as a field map (Redis 7 names). */
async function xinfo(c: ReturnType<RedisServer['client']>, key: Buffer): Promise<Record<string, unknown>> {
  const flat = (await c.call('XINFO', 'STREAM', key)) as unknown[];
  const out: Record<string, unknown> = {};
  for (let i = 0; i < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}

for (const version of ['3.5.5', '4.0.1'] as const) {
  test(`load: the ${version} dump's streams land with Pika's IDs and counters (XADD in chunks, then XSETID)`, async () => {
    const c = redis.client();
    await c.flushall();
    const root = dumpWithStreams(version, STREAMS, tempDir('pm-streams-'));
    try {
      const [r] = await offlineLoad(root, conf(), testLogger(), new AbortController().signal);
      assert.equal(r.summary.counts.stream, 3, 'three live streams');
      for (const s of STREAMS) {
        if (s.entries.length === 0) {
          assert.equal(await c.exists(s.name), 0, `${s.name.toString()}: length 0 is no stream to Pika`);
          continue;
        }
        const got = (await c.callBuffer('XRANGE', s.name, '-', '+')) as Array<[Buffer, Buffer[]]>;
        assert.deepEqual(
          got.map(([id, fv]) => [id.toString(), fv.map((b) => b.toString('hex'))]),
          s.entries.map(([ms, seq, ...fv]) => [`${ms}-${seq}`, fv.map((f) => Buffer.from(f).toString('hex'))]),
          s.name.toString(),
        );
        const info = await xinfo(c, s.name);
        assert.equal(info['length'], s.entries.length);
        assert.equal(info['last-generated-id'], s.lastId.join('-'));
        assert.equal(info['max-deleted-entry-id'], s.maxDeletedId.join('-'));
        assert.equal(String(info['entries-added']), String(s.entriesAdded));
        assert.equal(await c.pttl(s.name), -1);
      }
      // An XADD the master logs next continues from the copied last ID.
      await assert.rejects(c.xadd('st:a', '6-0', 'f', 'v'), /equal or smaller/);
      const exp = loadExpected(join(FIXTURES, 'snapshots', `${version}-base`, 'expected.json'));
      const n = await assertRedisHoldsExpected(c, exp, { nowMs: Date.now(), expirySlackMs: version === '3.5.5' ? 1000 : 50 });
      assert.ok(n > 2000, `the other types too (${n} keys)`);
    } finally {
      rmSync(dirname(root), { recursive: true, force: true });
    }
  });
}

test('load: a dump root with db0 and db1 loads both in one run, each into the Redis DB db-map names', async () => {
  const c0 = redis.client();
  await c0.flushall();
  const root = join(work, 'two-dbs');
  mkdirSync(root, { recursive: true });
  // Two copies of a real dump: the 3.2.7 one as db0, and as db1 (going to Redis DB 5).
  for (const n of [0, 1]) cpSync(join(FIXTURES, 'snapshots', '3.2.7-base', 'dump', 'db0'), join(root, `db${n}`), { recursive: true });
  const loads = await offlineLoad(root, conf({ 'db-map': '1:5' }), testLogger(), new AbortController().signal);
  assert.deepEqual(
    loads.map((l) => [l.db.source, l.db.target]),
    [
      [0, 0],
      [1, 5],
    ],
  );
  assert.ok(loads.every((l) => l.info !== null && l.info.masterPort === loads[0].info!.masterPort), 'each DB read with its info file');
  assert.equal(loads[0].summary.done, loads[1].summary.done);
  const exp = loadExpected(join(FIXTURES, 'snapshots', '3.2.7-base', 'expected.json'));
  for (const db of [0, 5]) {
    const n = await assertRedisHoldsExpected(redis.client({ db }), exp, { nowMs: Date.now(), expirySlackMs: 1000 });
    assert.ok(n > 200, `Redis DB ${db}: ${n} keys`);
  }
  assert.equal(await redis.client({ db: 1 }).dbsize(), 0, 'nothing in the DB db-map moved db1 away from');
  // Two master DBs into one Redis DB would mix their keys: refused before anything is written.
  await c0.flushall();
  await assert.rejects(offlineLoad(root, conf({ 'db-map': '1:0' }), testLogger(), new AbortController().signal), (e: Error) => e instanceof ConfigError && /db0 and db1 would both go to Redis DB 0/.test(e.message));
  assert.equal(await c0.dbsize(), 0);
});
