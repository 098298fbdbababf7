import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { RedisCommand } from '../../src/core/command.js';
import type { SnapshotRecord } from '../../src/core/record.js';
import { SnapshotRecordConverter, formatScore, type RecordConvertOptions } from '../../src/convert/records.js';
import { clusterSlot } from '../../src/core/cluster-slot.js';
import { stagingKey, UNSTAGE_SCRIPT } from '../../src/core/scripts.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { applyCommands } from './redis-dump.js';
import { FIXTURES } from '../helpers/fixtures.js';

const SNAPSHOTS = `${FIXTURES}/snapshots`;

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

/** expected.json text: `hex:<bytes>` for non-printable data. */
const bytes = (s: string) => (s.startsWith('hex:') ? Buffer.from(s.slice(4), 'hex') : Buffer.from(s, 'latin1'));
const parseScore = (s: string) => (s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s));

interface ExpectedKey {
  types: Record<string, { v: unknown }>;
  expireAt: number | null;
}

/** Records for one key, split into chunks of `per` elements (first/last flags set like the reader's). */
function recordsFor(name: string, type: string, v: unknown, expireAt: number | null, seq: number, per: number): SnapshotRecord[] {
  const base = { db: 0, key: bytes(name), expireAtMs: expireAt, pos: { kind: 'snapshot', db: 0, seq } as const };
  if (type === 'string') return [{ ...base, type: 'string', value: bytes(v as string), first: true, last: true }];
  const items: unknown[] =
    type === 'hash' ? Object.entries(v as Record<string, string>).map(([f, x]) => [bytes(f), bytes(x)]) :
    type === 'zset' ? (v as Array<[string, string]>).map(([m, s]) => [bytes(m), parseScore(s)]) :
    (v as string[]).map(bytes);
  const out: SnapshotRecord[] = [];
  for (let i = 0; i < Math.max(items.length, 1); i += per) {
    const part = items.slice(i, i + per);
    const flags = { first: i === 0, last: i + per >= items.length };
    if (type === 'hash') out.push({ ...base, ...flags, type, fields: part as Array<[Buffer, Buffer]> });
    else if (type === 'list') out.push({ ...base, ...flags, type, elements: part as Buffer[] });
    else if (type === 'set') out.push({ ...base, ...flags, type, members: part as Buffer[] });
    else out.push({ ...base, ...flags, type: 'zset', members: part as Array<[Buffer, number]> });
  }
  return out;
}

async function load(records: SnapshotRecord[], opts: RecordConvertOptions): Promise<RedisCommand[]> {
  const conv = new SnapshotRecordConverter(opts);
  const cmds = records.flatMap((r) => conv.convert(r));
  await applyCommands(redis.client(), cmds);
  return cmds;
}

for (const version of ['3.2.7', '3.3.6', '3.5.5', '4.0.1']) {
  test(`loads the real ${version} snapshot contents through records → commands`, async () => {
    const expected = JSON.parse(readFileSync(`${SNAPSHOTS}/${version}-base/expected.json`, 'utf8')) as { keys: Record<string, ExpectedKey> };
    const c = redis.client();
    await c.flushall();
    const records: SnapshotRecord[] = [];
    let seq = 0;
    for (const [name, k] of Object.entries(expected.keys)) {
      // A 3.x name may hold several types; Redis holds one (that choice is the snapshot loader's): take the first.
      const [type, { v }] = Object.entries(k.types)[0];
      records.push(...recordsFor(name, type, v, k.expireAt, seq++, 2));
    }
    const notes: string[] = [];
    const cmds = await load(records, { nowMs: Date.now, maxItemsPerCommand: 3, onNote: (n) => notes.push(n.message) });
    // Real Pika data: 3.2.7's ZUNIONSTORE of inf and -inf stored a NaN score, which Redis refuses.
    const nan = Object.entries(expected.keys).flatMap(([name, k]) => ((k.types.zset?.v ?? []) as Array<[string, string]>).filter(([, s]) => s === 'NaN').map(([m]) => `${name} ${m}`));
    assert.equal(notes.length, nan.length);
    if (version === '3.2.7') {
      assert.deepEqual(nan, ['zu m3']);
      assert.match(notes[0], /zset 'zu' member 'm3' has score NaN/);
    }
    assert.ok(cmds.some((x) => x.name === 'ZADD' && x.args.includes('inf')));
    assert.equal(await c.dbsize(), Object.keys(expected.keys).length);
    // All checks at once: ioredis pipelines concurrent commands on the one connection.
    await Promise.all(Object.entries(expected.keys).map(async ([name, k]) => {
      const key = bytes(name);
      const [type, { v }] = Object.entries(k.types)[0];
      assert.equal(await c.type(key), type, name);
      if (type === 'string') assert.deepEqual(await c.getBuffer(key), bytes(v as string), name);
      else if (type === 'list') assert.deepEqual(await c.lrangeBuffer(key, 0, -1), (v as string[]).map(bytes), name);
      else if (type === 'set') assert.deepEqual((await c.smembersBuffer(key)).map((b) => b.toString('hex')).sort(), (v as string[]).map((s) => bytes(s).toString('hex')).sort(), name);
      else if (type === 'hash') {
        const got = Object.fromEntries(Object.entries(await c.hgetall(key)));
        assert.deepEqual(got, Object.fromEntries(Object.entries(v as Record<string, string>).map(([f, x]) => [bytes(f).toString(), bytes(x).toString()])), name);
      } else {
        const members = (v as Array<[string, string]>).filter(([, s]) => s !== 'NaN');
        for (const [m, s] of members) assert.equal(parseScore((await c.zscore(key, bytes(m)))!), parseScore(s), `${name} ${m}`);
        assert.equal(await c.zcard(key), members.length);
      }
      assert.equal(Number(await c.call('PEXPIRETIME', key)), k.expireAt ?? -1, `${name} expiry`);
    }));
  });
}

function hashRecords(key: string, expireAtMs: number | null, chunks: number): SnapshotRecord[] {
  return Array.from({ length: chunks }, (_, i) => ({
    db: 0, key: Buffer.from(key), expireAtMs, first: i === 0, last: i === chunks - 1,
    pos: { kind: 'snapshot', db: 0, seq: 7 } as const, type: 'hash' as const, fields: [[Buffer.from(`f${i}`), Buffer.from(`v${i}`)] as const],
  }));
}

test('does not write keys that already expired, and drops a key that expires between its chunks', async () => {
  const c = redis.client();
  await c.flushall();
  let now = 1_000_000;
  const [r0, r1, r2] = hashRecords('dies-midway', now + 10, 3);
  const conv = new SnapshotRecordConverter({ nowMs: () => now });
  const cmds = [...conv.convert(r0), ...conv.convert(r1)];
  now += 20; // the key's expiry passes while it is being written
  cmds.push(...conv.convert(r2));
  assert.deepEqual(cmds.map((x) => x.name), ['HSET', 'HSET', 'PEXPIREAT']);
  assert.ok(cmds.every((x) => x.pos.kind === 'snapshot' && x.pos.seq === 7 && x.key?.toString() === 'dies-midway'));
  await c.hset('keep', 'a', '1');
  await applyCommands(c, cmds);
  assert.equal(await c.exists('dies-midway'), 0);
  // Expired at its first chunk: nothing at all, not even for the later chunks.
  const dead = hashRecords('keep', now - 1, 2);
  assert.deepEqual(dead.flatMap((r) => conv.convert(r)), []);
  assert.deepEqual(
    conv.convert({ db: 0, key: Buffer.from('s'), expireAtMs: now, first: true, last: true, pos: { kind: 'snapshot', db: 0, seq: 1 }, type: 'string', value: Buffer.from('x') }),
    [],
  );
  assert.equal(await c.hget('keep', 'a'), '1');
});

test('merge writes into an existing key; replace deletes it before the first chunk', async () => {
  const c = redis.client();
  for (const [conflict, fields] of [['merge', ['a', 'f0', 'f1']], ['replace', ['f0', 'f1']]] as const) {
    await c.flushall();
    await c.hset('h', 'a', 'old');
    await c.rpush('l', 'old');
    const future = Date.now() + 100_000;
    const cmds = await load([...hashRecords('h', future, 2)], { nowMs: Date.now, conflict });
    assert.deepEqual(cmds.map((x) => x.name), conflict === 'replace' ? ['DEL', 'HSET', 'HSET', 'PEXPIREAT'] : ['HSET', 'HSET', 'PEXPIREAT']);
    assert.deepEqual(Object.keys(await c.hgetall('h')).sort(), [...fields]);
    assert.equal(Number(await c.call('PEXPIRETIME', 'h')), future);
    const list: SnapshotRecord = { db: 0, key: Buffer.from('l'), expireAtMs: null, first: true, last: true, pos: { kind: 'snapshot', db: 0, seq: 2 }, type: 'list', elements: ['a', 'b', 'c'].map((s) => Buffer.from(s)) };
    await load([list], { nowMs: Date.now, conflict, maxItemsPerCommand: 2 });
    assert.deepEqual(await c.lrange('l', 0, -1), conflict === 'replace' ? ['a', 'b', 'c'] : ['old', 'a', 'b', 'c']);
  }
});

test('writes zset scores that Redis reads back as the same doubles', async () => {
  const c = redis.client();
  await c.flushall();
  const scores = [0.1 + 0.2, -0, 5e-324, 1.7976931348623157e308, -1e-300, 123456789012345.67, Infinity, -Infinity, 1 / 3];
  assert.equal(formatScore(Infinity), 'inf');
  assert.equal(formatScore(-0), '-0');
  assert.equal(formatScore(0.1 + 0.2), '0.30000000000000004');
  const rec: SnapshotRecord = {
    db: 0, key: Buffer.from('z'), expireAtMs: null, first: true, last: true, pos: { kind: 'snapshot', db: 0, seq: 0 },
    type: 'zset', members: scores.map((s, i) => [Buffer.from(`m${i}`), s] as const),
  };
  await load([rec], { nowMs: Date.now });
  for (let i = 0; i < scores.length; i++) {
    const got = parseScore((await c.zscore('z', `m${i}`))!);
    assert.ok(Object.is(got, scores[i]) || (got === 0 && scores[i] === 0), `m${i}: ${got} vs ${scores[i]}`);
  }
  assert.throws(() => formatScore(NaN), /NaN/);
});

test('splits big records into commands by element count and by bytes', () => {
  const conv = new SnapshotRecordConverter({ nowMs: () => 0, maxItemsPerCommand: 1000, maxBytesPerCommand: 100 });
  const rec: SnapshotRecord = {
    db: 0, key: Buffer.from('s'), expireAtMs: null, first: true, last: true, pos: { kind: 'snapshot', db: 0, seq: 0 },
    type: 'set', members: Array.from({ length: 10 }, (_, i) => Buffer.alloc(40, String(i))),
  };
  const cmds = conv.convert(rec);
  assert.deepEqual(cmds.map((x) => x.args.length - 1), [2, 2, 2, 2, 2]);
});

test('writes expiring strings through a script for targets older than Redis 6.2', async () => {
  const c = redis.client();
  await c.flushall();
  const at = Date.now() + 50_000;
  const rec: SnapshotRecord = { db: 0, key: Buffer.from('s'), expireAtMs: at, first: true, last: true, pos: { kind: 'snapshot', db: 0, seq: 0 }, type: 'string', value: Buffer.from([0, 255]) };
  const cmds = await load([rec], { nowMs: Date.now, legacyTarget: true });
  assert.deepEqual(cmds.map((x) => x.name), ['EVAL']);
  assert.deepEqual(await c.getBuffer('s'), Buffer.from([0, 255]));
  assert.equal(Number(await c.call('PEXPIRETIME', 's')), at);
});

test('a big string in pieces: SET replaces the key, SETRANGE sizes it and writes the rest, the expiry comes last; skip and fail guard it whole', async () => {
  const c = redis.client();
  const pieces = (key: string, at: number | null, seq: number): SnapshotRecord[] =>
    ['aa', 'bb', 'c'].map((v, i, all) => ({
      db: 0, key: Buffer.from(key), expireAtMs: at, first: i === 0, last: i === all.length - 1, pos: { kind: 'snapshot', db: 0, seq: seq + i }, type: 'string', value: Buffer.from(v),
      piece: { offset: 2 * i, total: 5 },
    }));
  await c.flushall();
  await c.set('s', 'old value', 'EX', 100);
  await c.hset('h', 'f', 'v');
  const at = Date.now() + 50_000;
  const cmds = await load([...pieces('s', at, 0), ...pieces('p', null, 3)], { nowMs: Date.now });
  assert.deepEqual(
    cmds.map((x) => [x.name, ...x.args.slice(1).map((a) => (Buffer.isBuffer(a) ? a.toString('hex') : a))].join(' ')),
    ['SET 6161', 'SETRANGE 4 00', 'SETRANGE 2 6262', 'SETRANGE 4 63', `PEXPIREAT ${at}`, 'SET 6161', 'SETRANGE 4 00', 'SETRANGE 2 6262', 'SETRANGE 4 63'],
  );
  assert.deepEqual(cmds.map((x) => (x.pos as { seq: number }).seq), [0, 0, 1, 2, 2, 3, 3, 4, 5]);
  assert.equal(await c.get('s'), 'aabbc');
  assert.equal(Number(await c.call('PEXPIRETIME', 's')), at);
  assert.equal(await c.get('p'), 'aabbc');
  assert.equal(await c.ttl('p'), -1);
  for (const conflict of ['skip', 'fail'] as const) {
    await c.set('s', 'old');
    await c.del('p');
    const conv = new SnapshotRecordConverter({ nowMs: Date.now, conflict });
    const guarded = [...pieces('s', null, 0), ...pieces('p', null, 3)].flatMap((r) => conv.convert(r));
    assert.ok(guarded.every((x) => x.name === 'EVAL'));
    const refused: string[] = [];
    for (const x of guarded) await c.call(x.name, ...x.args).catch((e: Error) => refused.push(`${x.key} ${e.message.split(' ')[0]}`));
    // `s` exists: its first piece is refused (the sink counts or stops on it), the rest pass it by; `p` is new: written whole.
    assert.deepEqual(refused, [`s ${conflict === 'skip' ? 'PMKEYSKIPPED' : 'PMKEYEXISTS'}`]);
    assert.equal(await c.get('s'), 'old');
    assert.equal(await c.get('p'), 'aabbc');
  }
});

test('a hash field value or list element in pieces: built in the key\'s staging key, moved in by its last piece; skip and fail guard the key whole', async () => {
  const c = redis.client();
  const at = Date.now() + 50_000;
  // h: a small field, then field `big` in three pieces, then another small field; l: a, the big element, z.
  const recs = (seq: number, expireAtMs: number | null): SnapshotRecord[] => {
    const base = { db: 0, expireAtMs };
    const pos = (i: number) => ({ pos: { kind: 'snapshot', db: 0, seq: seq + i } as const });
    const pieces = ['aa', 'bb', 'c'].map((v, i) => ({ piece: { offset: 2 * i, total: 5 }, v: Buffer.from(v) }));
    const h = Buffer.from('h');
    const l = Buffer.from('l');
    return [
      { ...base, ...pos(0), key: h, type: 'hash', first: true, last: false, fields: [[Buffer.from('f'), Buffer.from('1')]] },
      ...pieces.map((p, i): SnapshotRecord => ({ ...base, ...pos(1 + i), key: h, type: 'hash', first: false, last: false, fields: [[Buffer.from('big'), p.v]], piece: p.piece })),
      { ...base, ...pos(4), key: h, type: 'hash', first: false, last: true, fields: [[Buffer.from('g'), Buffer.from('2')]] },
      { ...base, ...pos(5), key: l, type: 'list', first: true, last: false, elements: [Buffer.from('a')] },
      ...pieces.map((p, i): SnapshotRecord => ({ ...base, ...pos(6 + i), key: l, type: 'list', first: false, last: i === 2, elements: [p.v], piece: p.piece })),
    ];
  };
  await c.flushall();
  await c.set('l', 'a string: replaced');
  const cmds = await load(recs(0, at), { nowMs: Date.now, conflict: 'replace' });
  const staging = (key: string) => stagingKey(Buffer.from(key));
  assert.deepEqual(
    cmds.filter((x) => x.key!.toString() === 'l').map((x) => [x.name, ...x.args.map((a) => (a === UNSTAGE_SCRIPT ? 'UNSTAGE' : Buffer.isBuffer(a) && a.equals(staging('l')) ? 'S' : a.toString()))].join(' ')),
    ['DEL l', 'RPUSH l a', 'SET S aa', 'SETRANGE S 4 \0', 'SETRANGE S 2 bb', 'SETRANGE S 4 c', `EVAL UNSTAGE 2 l S ${createHash('sha1').update('aabbc').digest('hex')} RPUSH`, `PEXPIREAT l ${at}`],
  );
  assert.deepEqual(await c.hgetall('h'), { f: '1', big: 'aabbc', g: '2' });
  assert.deepEqual(await c.lrange('l', 0, -1), ['a', 'aabbc']);
  assert.equal(Number(await c.call('PEXPIRETIME', 'h')), at);
  assert.equal(Number(await c.call('PEXPIRETIME', 'l')), at);
  assert.deepEqual(await c.keys('pika-migrate:*'), [], 'no staging key is left');
  // In a cluster the staging key shares the data key's slot, so the moving script may touch both.
  for (const key of ['h', 'user:{42}:x', '{}weird}', 'a{b']) assert.equal(clusterSlot(stagingKey(Buffer.from(key))), clusterSlot(Buffer.from(key)));

  for (const conflict of ['skip', 'fail'] as const) {
    await c.flushall();
    await c.hset('h', 'old', 'v');
    const conv = new SnapshotRecordConverter({ nowMs: Date.now, conflict });
    const guarded = recs(0, null).flatMap((r) => conv.convert(r));
    assert.ok(guarded.every((x) => x.name === 'EVAL'));
    const refused: string[] = [];
    for (const x of guarded) await c.call(x.name, ...x.args).catch((e: Error) => refused.push(`${x.key} ${e.message.split(' ')[0]}`));
    assert.deepEqual(refused, [`h ${conflict === 'skip' ? 'PMKEYSKIPPED' : 'PMKEYEXISTS'}`]);
    assert.deepEqual(await c.hgetall('h'), { old: 'v' }, 'the existing key is kept as it is, nothing staged for it');
    assert.deepEqual(await c.lrange('l', 0, -1), ['a', 'aabbc']);
    assert.deepEqual(await c.keys('pika-migrate:*'), []);
  }

  // A staged value that is not whole is never moved in: lost by the target (a restart without
  // persistence between two pieces), or built again only in part (a Redis Cluster target runs a
  // step twice when its reply was lost: pieces sent again after the move).
  await c.flushall();
  const conv = new SnapshotRecordConverter({ nowMs: Date.now });
  const all = recs(0, null).flatMap((r) => conv.convert(r));
  const hCmds = all.filter((x) => x.key!.toString() === 'h');
  const lCmds = all.filter((x) => x.key!.toString() === 'l');
  await applyCommands(c, lCmds.slice(0, -1));
  await c.del(staging('l'));
  await assert.rejects(applyCommands(c, lCmds.slice(-1)), /PMSTAGINGLOST/);
  await applyCommands(c, lCmds.slice(0, -1).filter((x) => x.name === 'SETRANGE' && x.args[1] !== '4'));
  await assert.rejects(applyCommands(c, lCmds.slice(-1)), /PMSTAGINGLOST/, 'a part of the pieces is not moved');
  assert.deepEqual(await c.lrange('l', 0, -1), ['a']);
  assert.equal(await c.exists(staging('l')), 0);
  await applyCommands(c, hCmds);
  const again = hCmds.filter((x) => x.name === 'SETRANGE' || (x.name === 'EVAL' && x.args[0] === UNSTAGE_SCRIPT));
  assert.equal(again.length, 4);
  await applyCommands(c, again);
  assert.deepEqual(await c.hgetall('h'), { f: '1', big: 'aabbc', g: '2' }, 'a move run again after it ran leaves the field as it is');
  assert.equal(await c.exists(staging('h')), 0);

  // A key that expires while its big element is staged: the staging key goes with it.
  const expiring = new SnapshotRecordConverter({ nowMs: Date.now });
  const rs = recs(0, Date.now() + 60_000);
  const early = rs.slice(0, 2).flatMap((r) => expiring.convert(r));
  const late = rs.slice(2, 5).flatMap((r) => expiring.convert({ ...r, expireAtMs: Date.now() - 1 }));
  await c.flushall();
  await applyCommands(c, [...early, ...late]);
  assert.ok(late.some((x) => x.name === 'DEL'));
  assert.deepEqual(await c.keys('*'), [], 'the expired hash and its staging key are gone');
});

test('streams: one XADD per entry with its ID, XSETID with the counters after the last chunk (last ID only before Redis 7, noted once)', async () => {
  const state = { lastId: '9-0', entriesAdded: '7', maxDeletedId: '8-1' };
  const rec = (key: string, first: boolean, last: boolean, ids: string[], seq: number): SnapshotRecord => ({
    type: 'stream',
    db: 0,
    key: Buffer.from(key),
    expireAtMs: null,
    first,
    last,
    pos: { kind: 'snapshot', db: 0, seq },
    entries: ids.map((id) => ({ id, fields: [Buffer.from('f'), Buffer.from(`v${id}`)] })),
    state,
  });
  const show = (cs: RedisCommand[]) => cs.map((c) => [c.name, ...c.args.map(String)].join(' '));
  const notes: string[] = [];
  const conv = new SnapshotRecordConverter({ nowMs: () => 0, conflict: 'replace' });
  assert.deepEqual(show(conv.convert(rec('s', true, false, ['1-1', '2-0'], 0))), ['DEL s', 'XADD s 1-1 f v1-1', 'XADD s 2-0 f v2-0']);
  assert.deepEqual(show(conv.convert(rec('s', false, true, ['5-5'], 1))), ['XADD s 5-5 f v5-5', 'XSETID s 9-0 ENTRIESADDED 7 MAXDELETEDID 8-1']);
  const old = new SnapshotRecordConverter({ nowMs: () => 0, noStreamCounters: true, onNote: (n) => notes.push(n.code) });
  assert.deepEqual(show(old.convert(rec('a', true, true, ['1-1'], 0))), ['XADD a 1-1 f v1-1', 'XSETID a 9-0']);
  assert.deepEqual(show(old.convert(rec('b', true, true, ['1-1'], 1))), ['XADD b 1-1 f v1-1', 'XSETID b 9-0']);
  assert.deepEqual(notes, ['stream-counters'], 'said once');
  // What Redis makes of them.
  const c = redis.client();
  await c.del('s');
  await applyCommands(c, [...conv.convert(rec('s', true, true, ['1-1', '2-0'], 2))]);
  const info = (await c.call('XINFO', 'STREAM', 's')) as unknown[];
  assert.equal(info[info.indexOf('entries-added') + 1], 7);
  assert.equal(info[info.indexOf('last-generated-id') + 1], '9-0');
  assert.equal(info[info.indexOf('max-deleted-entry-id') + 1], '8-1');
});
