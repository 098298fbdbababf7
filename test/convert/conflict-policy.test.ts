import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SnapshotRecord } from '../../src/core/record.js';
import { FatalError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { LOAD_GUARD_KEY } from '../../src/core/scripts.js';
import { SnapshotRecordConverter, type ConflictPolicy } from '../../src/convert/records.js';
import { SenderPool } from '../../src/sink/pool.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

let seq = 0;
const pos = () => ({ kind: 'snapshot', db: 0, seq: seq++ }) as const;
const b = (s: string) => Buffer.from(s);

/** A hash in `chunks` records of two fields each, fields f0…, values `v`. */
function hashRecords(key: string, chunks: number, v: string, expireAtMs: number | null = null): SnapshotRecord[] {
  return Array.from({ length: chunks }, (_, i) => ({
    db: 0, key: b(key), type: 'hash' as const, expireAtMs, first: i === 0, last: i === chunks - 1, pos: pos(),
    fields: [[b(`f${2 * i}`), b(v)], [b(`f${2 * i + 1}`), b(v)]] as const,
  }));
}

/** A hash with one small field, then field `big` in three pieces (a value too big for one command), then its expiry. */
function pieceRecords(key: string, expireAtMs: number | null = null): SnapshotRecord[] {
  const head: SnapshotRecord = { db: 0, key: b(key), type: 'hash', expireAtMs, first: true, last: false, pos: pos(), fields: [[b('f'), b('src')]] };
  return [
    head,
    ...['aa', 'bb', 'c'].map((v, i): SnapshotRecord => ({
      db: 0, key: b(key), type: 'hash', expireAtMs, first: false, last: i === 2, pos: pos(), fields: [[b('big'), b(v)]], piece: { offset: 2 * i, total: 5 },
    })),
  ];
}

function stringRecord(key: string, value: string, expireAtMs: number | null = null): SnapshotRecord {
  return { db: 0, key: b(key), type: 'string', value: b(value), expireAtMs, first: true, last: true, pos: pos() };
}

/** The same snapshot each time: three new keys and three that the target already holds. */
function snapshot(): SnapshotRecord[] {
  const later = Date.now() + 3_600_000;
  return [
    stringRecord('s:new', 'src'),
    stringRecord('s:old', 'src'),
    stringRecord('s:old-ttl', 'src', later),
    ...hashRecords('h:new', 3, 'src', later),
    ...hashRecords('h:old', 3, 'src', later),
    ...hashRecords('h:old-small', 1, 'src'),
    ...pieceRecords('p:new', later),
    ...pieceRecords('p:old'),
  ];
}

async function prepare(): Promise<void> {
  const c = redis.client();
  await c.flushall();
  await c.set('s:old', 'dst');
  await c.set('s:old-ttl', 'dst');
  await c.hset('h:old', 'mine', 'dst');
  await c.hset('h:old-small', 'mine', 'dst');
  await c.hset('p:old', 'mine', 'dst');
}

async function load(policy: ConflictPolicy, legacyTarget = false): Promise<{ pool: SenderPool; error: Error | null }> {
  // Batches of 2 on 3 senders: a key's chunks land in several batches, as with big keys.
  const pool = await SenderPool.connect({ host: redis.host, port: redis.port, db: 0, senders: 3, batchSize: 2, logger: silentLogger() });
  const conv = new SnapshotRecordConverter({ nowMs: Date.now, conflict: policy, legacyTarget, maxItemsPerCommand: 1 });
  let error: Error | null = null;
  try {
    for (const rec of snapshot()) for (const cmd of conv.convert(rec)) await pool.submit(cmd);
    await pool.flush();
  } catch (e) {
    error = e as Error;
  }
  return { pool, error };
}

for (const legacyTarget of [false, true]) {
  test(`conflict-policy skip keeps every key the target already had, writes the rest, and reports each kept key${legacyTarget ? ' (pre-6.2 target)' : ''}`, async () => {
    await prepare();
    const { pool, error } = await load('skip', legacyTarget);
    assert.equal(error, null);
    const c = redis.client();
    assert.equal(await c.get('s:new'), 'src');
    assert.equal(await c.get('s:old'), 'dst');
    assert.equal(await c.get('s:old-ttl'), 'dst');
    assert.equal(await c.pttl('s:old-ttl'), -1, 'the kept key got no expiry of the source');
    assert.deepEqual(await c.hgetall('h:new'), Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`f${i}`, 'src'])));
    assert.ok((await c.pttl('h:new')) > 3_500_000);
    assert.deepEqual(await c.hgetall('h:old'), { mine: 'dst' }, 'no chunk of a kept hash was merged into it');
    assert.equal(await c.pttl('h:old'), -1);
    assert.deepEqual(await c.hgetall('h:old-small'), { mine: 'dst' });
    assert.deepEqual(await c.hgetall('p:new'), { f: 'src', big: 'aabbc' }, 'a value built in pieces, moved in through the guard');
    assert.ok((await c.pttl('p:new')) > 3_500_000);
    assert.deepEqual(await c.hgetall('p:old'), { mine: 'dst' }, 'nothing staged for a kept key');
    assert.equal(await c.exists(LOAD_GUARD_KEY), 0, 'the guard is empty once every key has ended');
    assert.deepEqual(await c.keys('pika-migrate:staging*'), [], 'no staging key is left');
    const st = pool.stats();
    assert.equal(st.keysKept, 5, 'each kept key is counted once');
    assert.equal(st.errorClasses.other, 0);
    await pool.close();
  });
}

test('conflict-policy fail stops at the first existing key and names it, leaving it untouched', async () => {
  await prepare();
  const { pool, error } = await load('fail');
  assert.ok(error instanceof FatalError, `expected a FatalError, got ${String(error)}`);
  assert.match(error.message, /key s:old .*already exists on the target and conflict-policy is fail/);
  const c = redis.client();
  assert.equal(await c.get('s:old'), 'dst');
  assert.deepEqual(await c.hgetall('h:old'), { mine: 'dst' });
  await pool.close();
});

test('conflict-policy merge and replace do not go through the guard', async () => {
  for (const [policy, hOld] of [['merge', 7], ['replace', 6]] as const) {
    await prepare();
    const { pool, error } = await load(policy);
    assert.equal(error, null);
    const c = redis.client();
    assert.equal(await c.get('s:old'), 'src');
    assert.equal(await c.hlen('h:old'), hOld, policy);
    assert.deepEqual(await c.hgetall('p:old'), policy === 'merge' ? { mine: 'dst', f: 'src', big: 'aabbc' } : { f: 'src', big: 'aabbc' }, policy);
    assert.equal(pool.stats().keysKept, 0);
    await pool.close();
  }
});
