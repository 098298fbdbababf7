import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VerifySummary } from '../../src/verify/summary.js';
import { matches, totalDifferences } from '../../src/verify/summary.js';
import { verify, verifyOptionsOf } from '../../src/daemon/verify.js';
import { testLogger } from '../replication/support.js';
import { confOf, liveNames, setup } from './support.js';

const compared = (s: VerifySummary): number => Object.values(s.compared).reduce((a, b) => a + b, 0);

test('3.2.7: the copy made by load matches; the other types of a multi-type name are compared under their side names', async () => {
  const s = await setup('A', '3.2.7');
  try {
    const r = await s.run();
    const live = liveNames('3.2.7');
    assert.equal(totalDifferences(r), 0, JSON.stringify(r.differences));
    assert.ok(matches(r));
    assert.equal(compared(r), live.pairs);
    assert.ok(live.pairs - live.names >= 4, 'the fixture name "multi" holds all five types');
    assert.equal(r.pikaKeys, live.pairs);
    assert.equal(r.redisKeys, live.pairs, 'side names are looked up in Pika too');
    // expected.json: 2024 names hold a string ("multi" among them), 202 a hash, 202 a list, 204 a set, 204 a zset.
    assert.deepEqual(r.compared, { string: 2024, hash: 202, list: 202, set: 204, zset: 204, stream: 0 });
    // Pika's PTTL answers for the string of "multi": its four other types' expiries cannot be told.
    assert.equal(r.notDifferences['ttl-unverifiable'], 4);
  } finally {
    await s.done();
  }
});

test('3.2.7: seeded differences of every kind are counted and listed in the report; a TTL within the tolerance matches', async () => {
  const s = await setup('A', '3.2.7');
  try {
    const c = s.target.client();
    const at = Date.now() + 3_600_000;
    await c.del('str:0'); // missing
    await c.set('only:in:redis', 'x'); // extra
    await c.hset('pika-migrate:applied', '0', '1 0'); // our own bookkeeping: not an extra
    await c.del('h:0');
    await c.set('h:0', 'now a string'); // type
    await c.set('str:1', 'changed'); // value, string
    await c.hset('h:1', 'a', 'changed'); // value, hash (same field count)
    await c.lset('l:1', 2, 'changed'); // value, list
    await c.srem('s:1', 'a');
    await c.sadd('s:1', 'other'); // value, set (same size)
    await c.zadd('z:1', 99, 'm1'); // value, zset
    s.keyspace.set('ttl:far', { type: 'string', value: Buffer.from('v') }, at);
    await c.set('ttl:far', 'v', 'PXAT', at + 60_000); // ttl beyond the tolerance
    s.keyspace.set('ttl:near', { type: 'string', value: Buffer.from('v') }, at);
    await c.set('ttl:near', 'v', 'PXAT', at + 400); // ttl within it: a match
    s.keyspace.set('ttl:lost', { type: 'hash', fields: [[Buffer.from('f'), Buffer.from('v')]] }, at);
    await c.hset('ttl:lost', 'f', 'v'); // persistent on Redis: a ttl difference
    const report = join(s.dir, 'diffs.jsonl');
    const r = await s.run({ report, ttlTolerance: '500' });
    assert.deepEqual(r.differences, { missing: 1, extra: 1, type: 1, value: 5, ttl: 2 });
    // By the Pika type compared (h:0 is a hash in Pika); the extra by the type Redis holds.
    assert.deepEqual(r.differencesByType, { string: 4, hash: 3, list: 1, set: 1, zset: 1 });
    assert.ok(!matches(r));
    const lines = readFileSync(report, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; key: string; type: string; detail: string });
    const got = lines.map((l) => `${l.kind} ${l.key} ${l.type}`).sort();
    assert.deepEqual(got, [
      'extra only:in:redis string',
      'missing str:0 string',
      'ttl ttl:far string',
      'ttl ttl:lost hash',
      'type h:0 hash',
      'value h:1 hash',
      'value l:1 list',
      'value s:1 set',
      'value str:1 string',
      'value z:1 zset',
    ]);
    const detail = (key: string) => lines.find((l) => l.key === key)!.detail;
    assert.match(detail('h:1'), /field 'a': pika '1', redis 'changed'/);
    assert.match(detail('l:1'), /element 2: pika 'cc', redis 'changed'/);
    assert.match(detail('z:1'), /member 'm1': pika score -1, redis 99/);
    assert.match(detail('ttl:lost'), /redis persistent/);
  } finally {
    await s.done();
  }
});

test('--max-diffs bounds the report; the counts stay complete', async () => {
  const s = await setup('A', '3.2.7');
  try {
    const c = s.target.client();
    for (let i = 0; i < 20; i++) await c.set(`str:${i}`, 'changed');
    const report = join(s.dir, 'diffs.jsonl');
    const r = await s.run({ report, maxDiffs: '5' });
    assert.equal(r.differences.value, 20);
    assert.equal(readFileSync(report, 'utf8').trim().split('\n').length, 5);
  } finally {
    await s.done();
  }
});

test('sampled: --sample N compares N Pika keys and N Redis keys; a ratio about that share', async () => {
  const s = await setup('A', '3.2.7');
  try {
    const n = await s.run({ sample: '50' });
    assert.equal(n.pikaKeys, 50);
    assert.equal(n.redisKeys, 50);
    assert.ok(matches(n));
    const live = liveNames('3.2.7');
    const ratio = await s.run({ sample: '0.1' });
    assert.ok(ratio.pikaKeys > live.pairs * 0.05 && ratio.pikaKeys < live.pairs * 0.15, String(ratio.pikaKeys));
    assert.ok(matches(ratio));
    // A difference outside the sample is not seen; in it, it is.
    await s.target.client().set('str:5', 'changed');
    const all = await s.run({ sample: String(live.pairs) });
    assert.equal(all.differences.value, 1);
  } finally {
    await s.done();
  }
});

test('--max-keys-per-sec paces the comparison', async () => {
  const s = await setup('A', '3.2.7');
  try {
    const t0 = Date.now();
    const r = await s.run({ sample: '200', maxKeysPerSec: '250' });
    const ms = Date.now() - t0;
    assert.equal(r.pikaKeys + r.redisKeys, 400);
    // 400 keys at 250/s take 1.6 s less the 100 ms burst; unthrottled this takes well under 0.5 s.
    assert.ok(ms >= 1300, `${ms} ms`);
    assert.ok(ms < 6000, `${ms} ms`);
  } finally {
    await s.done();
  }
});

test('type-order and filters of the conf apply: what the migration left out by rule is not a difference', async () => {
  const extra = { 'type-order': 'zset, set, list, hash, string', 'filter-exclude-keys': 'str:1*', 'filter-types': 'string hash list zset' };
  const s = await setup('A', '3.2.7', extra);
  try {
    const r = await s.run();
    assert.equal(totalDifferences(r), 0, JSON.stringify(r.differences));
    const live = liveNames('3.2.7');
    // str:1, str:10…19, str:100…199, str:1000…1999; and the 204 sets (the type filter), "multi"'s among them.
    assert.equal(r.notDifferences.filtered, 1 + 10 + 100 + 1000 + 204);
    assert.ok(live.pairs > live.names);
    // "multi" holds its zset under the name, its hash, list and string under side names (its set
    // is filtered); Pika's PTTL answers for its string, so the zset's, hash's and list's expiries cannot be told.
    assert.equal(r.notDifferences['ttl-unverifiable'], 3);
    assert.equal(r.compared.zset, 204);
  } finally {
    await s.done();
  }
});

test('4.0.1: one type per name, millisecond expiries; a match, then a TTL and a value difference', async () => {
  const s = await setup('D', '4.0.1');
  try {
    const live = liveNames('4.0.1');
    const r = await s.run();
    assert.ok(matches(r), JSON.stringify(r.differences));
    assert.equal(compared(r), live.names);
    assert.equal(live.pairs, live.names);
    const c = s.target.client();
    const at = Date.now() + 3_600_000;
    s.keyspace.set('ms:near', { type: 'zset', members: [[Buffer.from('m'), 1]] }, at);
    await c.zadd('ms:near', 1, 'm');
    await c.pexpireat('ms:near', at + 40);
    s.keyspace.set('ms:far', { type: 'list', elements: [Buffer.from('e')] }, at);
    await c.rpush('ms:far', 'e');
    await c.pexpireat('ms:far', at + 300);
    await c.sadd('s:2', 'added');
    const d = await s.run({ ttlTolerance: '100' });
    assert.deepEqual(d.differences, { missing: 0, extra: 0, type: 0, value: 1, ttl: 1 });
  } finally {
    await s.done();
  }
});

test('a password-protected Pika: NOAUTH without masterauth fails with exit-1 class error; with it, a match', async () => {
  const s = await setup('C', '3.5.5', {}, { requirepass: 'sekret' });
  try {
    await assert.rejects(s.run(), /NOAUTH|masterauth/);
    const r = await s.run({}, { masterauth: 'sekret' });
    assert.ok(matches(r), JSON.stringify(r.differences));
    assert.equal(compared(r), liveNames('3.5.5').pairs);
  } finally {
    await s.done();
  }
});

test('big keys are read chunk by chunk: a difference in the last chunk is found', async () => {
  const s = await setup('A', '3.2.7', { 'sync-batch-num': '64' });
  try {
    const c = s.target.client();
    await c.lset('biglist', -1, 'changed'); // element 4999: the last of 79 chunks
    await c.hset('bighash', 'field999', 'changed');
    const report = join(s.dir, 'diffs.jsonl');
    const r = await s.run({ report });
    assert.deepEqual(r.differences, { missing: 0, extra: 0, type: 0, value: 2, ttl: 0 });
    const text = readFileSync(report, 'utf8');
    assert.match(text, /"key":"biglist","type":"list","detail":"element 4999: pika 'e4999', redis 'changed'"/);
    assert.match(text, /"key":"bighash","type":"hash","detail":"field 'field999': pika 'value999', redis 'changed'"/);
  } finally {
    await s.done();
  }
});

test('a key about to expire on Pika that Redis already dropped, and a HyperLogLog, are not differences; an interrupted run proves nothing', async () => {
  const s = await setup('C', '3.5.5');
  try {
    // Expires within the slack (tolerance + 3.x's second) but lives long enough to be listed.
    s.keyspace.set('soon', { type: 'string', value: Buffer.from('v') }, Date.now() + 5000);
    // A HyperLogLog (2^17 one-byte registers) is not copied: absent from Redis by rule.
    s.keyspace.set('hll', { type: 'string', value: Buffer.alloc(131072, 3) });
    const r = await s.run({ ttlTolerance: '5000' });
    assert.ok(matches(r), JSON.stringify(r.differences));
    assert.equal(r.notDifferences.vanished, 1);
    assert.equal(r.notDifferences['not-copied'], 1);
    const ctl = new AbortController();
    const running = verify(verifyOptionsOf(confOf(s.conf), { maxKeysPerSec: '200' }, testLogger(), ctl.signal));
    setTimeout(() => ctl.abort(new Error('test')), 300);
    const i = await running;
    assert.equal(i.interrupted, true);
    assert.ok(!matches(i));
    assert.ok(i.pikaKeys < 200, String(i.pikaKeys));
    assert.equal(i.redisKeys, 0);
  } finally {
    await s.done();
  }
});

test('3.2.7: a type ahead that expires between the probes and the PTTL moves the name under verify: not a difference', async () => {
  const s = await setup('A', '3.2.7');
  try {
    // Only "race" on both sides, so every TYPE the test master serves is about it.
    for (const type of ['string', 'hash', 'list', 'set', 'zset'] as const) for (const k of s.keyspace.keys(type)) s.keyspace.delete(k, type);
    const r = s.target.client();
    await r.flushdb();
    // Pika: a string and a hash under one name. Redis: the string already expired and the daemon's
    // sweep moved the hash from its side name to the name.
    s.keyspace.set('race', { type: 'string', value: Buffer.from('v') });
    s.keyspace.set('race', { type: 'hash', fields: [[Buffer.from('f'), Buffer.from('v')]] });
    await r.hset('race', 'f', 'v');
    // With only hashes compared, the first TYPE is the hash's probe of the string ahead of it. The
    // string expires right after it answers: the PTTL that follows answers for the hash
    // (persistent), and the side name verify then looks under is empty.
    let types = 0;
    const push = s.master.events.push.bind(s.master.events);
    s.master.events.push = (...events) => {
      for (const e of events) if (e.kind === 'client-command' && e.detail === 'type' && ++types === 1) process.nextTick(() => s.keyspace.delete('race', 'string'));
      return push(...events);
    };
    const v = await s.run({}, { 'filter-types': 'hash' });
    assert.equal(types, 2, 'the probe, then the check that the name still holds what it held');
    assert.equal(totalDifferences(v), 0, JSON.stringify(v.differences));
    assert.equal(v.notDifferences.vanished, 1, 'the hash: its place changed while it was compared');
  } finally {
    await s.done();
  }
});
