import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { parsePikaKeyspace, totalKeys } from '../../src/verify/keyspace-info.js';
import { parseScore } from '../../src/verify/compare-value.js';
import { parseSampling, sampled } from '../../src/verify/sample.js';
import { keyText } from '../../src/verify/report.js';
import { FakeMaster } from '../master/fake-master.js';
import { PikaKeyspace } from '../master/pika-keyspace.js';
import { answerRead } from '../master/client-reads.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { join } from 'node:path';

test("parses Pika's INFO keyspace of 3.2 (invaild_keys), 3.5 and 4.0 (Streams line); zeros mean never counted", () => {
  const v32 = '# Keyspace\r\n# Time:2026-12-01 08:00:00\r\n# Duration: 3s\r\ndb0 Strings_keys=10, expires=1, invaild_keys=0\r\ndb0 Hashes_keys=2, expires=0, invaild_keys=0\r\ndb0 Lists_keys=3, expires=0, invaild_keys=0\r\ndb0 Zsets_keys=4, expires=0, invaild_keys=0\r\ndb0 Sets_keys=5, expires=0, invaild_keys=0\r\n\r\n';
  const c = parsePikaKeyspace(v32)!;
  assert.deepEqual(c.keys, { string: 10, hash: 2, list: 3, zset: 4, set: 5, stream: 0 });
  assert.equal(c.countedAt, '2026-12-01 08:00:00');
  assert.equal(totalKeys(c), 24);
  const v40 = '# Keyspace\r\n# Use "info keyspace 1" to do async statistics\r\n# Time:1970-01-01 08:00:00\r\n# Duration: In Waiting\r\ndb0 Strings_keys=7, expires=0, invalid_keys=1\r\ndb0 Hashes_keys=0, expires=0, invalid_keys=0\r\ndb0 Lists_keys=0, expires=0, invalid_keys=0\r\ndb0 Zsets_keys=0, expires=0, invalid_keys=0\r\ndb0 Sets_keys=0, expires=0, invalid_keys=0\r\n\r\ndb0 Streams_keys=9, expires=0, invalid_keys=0\r\n\r\n';
  assert.deepEqual(parsePikaKeyspace(v40)!.keys, { string: 7, hash: 0, list: 0, zset: 0, set: 0, stream: 9 });
  assert.equal(parsePikaKeyspace(v40.replace('Strings_keys=7', 'Strings_keys=0').replace('Streams_keys=9', 'Streams_keys=0')), null);
  assert.equal(parsePikaKeyspace('# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\n'), null, "Redis's format is not Pika's");
  assert.equal(parsePikaKeyspace(v32, 'db1'), null);
});

test('--sample: an integer is a count, a number in (0, 1) a ratio; anything else is refused', () => {
  assert.deepEqual(parseSampling(undefined), { kind: 'all' });
  assert.deepEqual(parseSampling('1000'), { kind: 'count', count: 1000 });
  assert.deepEqual(parseSampling('0.05'), { kind: 'ratio', ratio: 0.05 });
  assert.deepEqual(parseSampling('.5'), { kind: 'ratio', ratio: 0.5 });
  for (const bad of ['0', '1.5', '1.0', '-3', 'ten', '', '2e3']) assert.equal(parseSampling(bad), null, bad);
});

test('a count sample is uniform and exactly that many; a ratio keeps about that share', async () => {
  async function* upTo(n: number) {
    for (let i = 0; i < n; i++) yield i;
  }
  const hits = new Array<number>(10).fill(0);
  for (let run = 0; run < 2000; run++) for await (const i of sampled(upTo(10), { kind: 'count', count: 3 })) hits[i]++;
  for (const h of hits) assert.ok(h > 450 && h < 750, `each item drawn about 600 times of 2000, got ${h}`);
  let n = 0;
  for await (const _ of sampled(upTo(3), { kind: 'count', count: 5 })) n++;
  assert.equal(n, 3);
  n = 0;
  for await (const _ of sampled(upTo(10_000), { kind: 'ratio', ratio: 0.2 })) n++;
  assert.ok(n > 1800 && n < 2200, String(n));
});

test('scores as Pika and Redis write them; keys as the fixtures spell them', () => {
  assert.equal(parseScore('inf'), Infinity);
  assert.equal(parseScore('-inf'), -Infinity);
  assert.ok(Number.isNaN(parseScore('nan')));
  assert.equal(parseScore('0.10000000000000001'), 0.1);
  assert.equal(parseScore('1e+300'), 1e300);
  assert.equal(keyText(Buffer.from('h:1')), 'h:1');
  assert.equal(keyText(Buffer.from([0x62, 0, 0xff])), 'hex:6200ff');
});

test('the test master reads like Pika: NOAUTH first, 3.x TYPE/PTTL orders and per-type commands, unknown reads refused', async () => {
  const ks = new PikaKeyspace('A');
  const at = Date.now() + 100_500;
  ks.set('k', { type: 'zset', members: [[Buffer.from('m'), 1.5]] }, at);
  ks.set('k', { type: 'set', members: [Buffer.from('s')] });
  ks.set('k', { type: 'hash', fields: [[Buffer.from('f'), Buffer.from('v')]] }, at);
  const m = new FakeMaster({ family: 'A', snapshotSource: join(FIXTURES, 'snapshots/3.2.7-base/dump/db0'), requirepass: 'pw', keyspace: ks });
  await m.start();
  const c = new Redis({ port: m.port, lazyConnect: true, enableReadyCheck: false, disableClientInfo: true, maxRetriesPerRequest: 0 });
  c.on('error', () => {});
  try {
    await c.connect();
    await assert.rejects(c.call('SCANX', 'hash', '', 'COUNT', '10'), /NOAUTH/);
    assert.equal(await c.call('AUTH', 'pw'), 'OK');
    assert.deepEqual(await c.call('SCANX', 'set', '', 'MATCH', '*', 'COUNT', '10'), ['', ['k']]);
    assert.equal(await c.call('TYPE', 'k'), 'hash', 'TYPE: string, hash, list, zset, set — the first that holds it');
    // PTTL: string, hash, list, set, zset — the hash's expiry, in whole seconds.
    const pttl = (await c.call('PTTL', 'k')) as number;
    assert.ok(pttl % 1000 === 0 && pttl >= 99_000 && pttl <= 101_000, String(pttl));
    ks.delete('k', 'hash');
    assert.equal(await c.call('PTTL', 'k'), -1, "now the set's: persistent");
    assert.equal(await c.call('GET', 'k'), null, '3.x: GET sees only strings');
    assert.equal(await c.call('ZCARD', 'k'), 1);
    assert.deepEqual(await c.call('ZSCAN', 'k', '0', 'COUNT', '10'), ['0', ['m', '1.5']]);
    assert.equal(await c.call('EXISTS', 'k'), 2);
    await assert.rejects(c.call('HGETALL', 'k'), /does not serve 'hgetall'/);
    await assert.rejects(c.call('SCANX', 'stream', '', 'COUNT', '1'), /invalid DB type/);
  } finally {
    c.disconnect();
    await m.stop();
  }
});

test('the 4.0 test master holds one type per name and answers WRONGTYPE across types', () => {
  const ks = new PikaKeyspace('D');
  ks.set('k', { type: 'string', value: Buffer.from('v') });
  assert.throws(() => ks.set('k', { type: 'hash', fields: [] }), /one type per name/);
  const argv = (...a: string[]) => a.map((x) => Buffer.from(x));
  assert.throws(() => answerRead(ks, 'hlen', argv('HLEN', 'k'), Date.now()), /WRONGTYPE/);
  assert.equal(answerRead(ks, 'pttl', argv('PTTL', 'gone'), Date.now()), 0, '4.0.1: PTTL of a missing key answers 0');
  assert.equal(answerRead(ks, 'pttl', argv('PTTL', 'k'), Date.now()), -1);
});
