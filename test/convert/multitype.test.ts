import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { convertEntry, convertSelfMove, multiTypeRule, type BinlogConvertContext } from '../../src/convert/binlog.js';
import type { BinlogEntry } from '../../src/core/binlog.js';
import type { RedisCommand } from '../../src/core/command.js';
import { silentLogger } from '../../src/core/log.js';
import type { DataType } from '../../src/core/record.js';
import { KeyRenamer, parseKeyRenames } from '../../src/convert/rename.js';
import { SenderPool } from '../../src/sink/pool.js';
import { encodeBatch } from '../../src/sink/batch-script.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { applyCommands } from './redis-dump.js';

const ORDER: DataType[] = ['string', 'hash', 'list', 'set', 'zset'];

function entry(argv: string[], n: number): BinlogEntry {
  return { db: 0, execTime: 0, termOrServerId: 0, logicId: BigInt(n), headerPos: { filenum: 0, offset: n }, argv: argv.map((a) => Buffer.from(a)), end: { filenum: 0, offset: n + 1 } };
}

function convertAll(lines: string[][], ctx: Partial<BinlogConvertContext> = {}): RedisCommand[] {
  return lines.flatMap((argv, i) => convertEntry(entry(argv, i), { family: 'C', version: '3.5.5', nowMs: Date.now(), multiType: multiTypeRule(ORDER), ...ctx }).commands);
}

/** What Redis holds under a name: its type and value (main name or a side name). */
async function valueOf(c: Redis, key: string): Promise<unknown> {
  const t = await c.type(key);
  switch (t) {
    case 'none':
      return null;
    case 'string':
      return await c.get(key);
    case 'hash':
      return { hash: await c.hgetall(key) };
    case 'list':
      return { list: await c.lrange(key, 0, -1) };
    case 'set':
      return { set: (await c.smembers(key)).sort() };
    case 'zset':
      return { zset: await c.zrange(key, 0, -1, 'WITHSCORES') };
    default:
      return t;
  }
}

/** The name and its side names, as `{ main, string?, hash?, … }` (only what exists). */
async function layout(c: Redis, name: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { main: await valueOf(c, name) };
  for (const t of ORDER) {
    const v = await valueOf(c, `pika-migrate:t:${t}:${name}`);
    if (v !== null) out[t] = v;
  }
  return out;
}

let redis: RedisServer;
let c: Redis;
before(async () => {
  redis = await startRedis();
  c = redis.client();
});
after(async () => {
  c.disconnect();
  await redis?.stop();
});

test('4.0 (family D) and a rule-less context leave commands as they are', () => {
  const d = convertEntry(entry(['sadd', 'k', 'm'], 0), { family: 'D', nowMs: 0 }).commands;
  assert.deepEqual([d[0].name, ...d[0].args.map(String)], ['SADD', 'k', 'm']);
  const c3 = convertAll([['sadd', 'k', 'm']]);
  assert.equal(c3[0].name, 'EVAL');
  assert.equal(String(c3[0].key), 'k');
  // Commands on no type (FLUSHDB) and the Pika-only scripts stay as they are.
  assert.equal(convertAll([['flushdb']])[0].name, 'FLUSHDB');
});

test('a name in several types: the first type in type-order holds it, the others side names', async () => {
  await c.flushall();
  await applyCommands(c, convertAll([['hset', 'k', 'f', 'v'], ['sadd', 'k', 'm'], ['rpush', 'k', 'e'], ['set', 'k', 's'], ['zadd', 'k', '1', 'z']]));
  assert.deepEqual(await layout(c, 'k'), { main: 's', hash: { hash: { f: 'v' } }, list: { list: ['e'] }, set: { set: ['m'] }, zset: { zset: ['z', '1'] } });
  // DEL of the string (an expired pksetexat) is a string-only delete: the hash takes the name.
  await applyCommands(c, convertAll([['pksetexat', 'k', '1000', 'x']]));
  assert.deepEqual(await layout(c, 'k'), { main: { hash: { f: 'v' } }, list: { list: ['e'] }, set: { set: ['m'] }, zset: { zset: ['z', '1'] } });
  // HDEL of the last field: the list comes next.
  await applyCommands(c, convertAll([['hdel', 'k', 'f']]));
  assert.deepEqual(await layout(c, 'k'), { main: { list: ['e'] }, set: { set: ['m'] }, zset: { zset: ['z', '1'] } });
  // A write to a type ahead of the name's moves the name's value aside.
  await applyCommands(c, convertAll([['hset', 'k', 'g', '1']]));
  assert.deepEqual(await layout(c, 'k'), { main: { hash: { g: '1' } }, list: { list: ['e'] }, set: { set: ['m'] }, zset: { zset: ['z', '1'] } });
  // Writes to a losing type go to its side name; LPOP of its last element removes it.
  await applyCommands(c, convertAll([['sadd', 'k', 'n'], ['lpop', 'k']]));
  assert.deepEqual(await layout(c, 'k'), { main: { hash: { g: '1' } }, set: { set: ['m', 'n'] }, zset: { zset: ['z', '1'] } });
  // EXPIRE and PERSIST reach every type, DEL deletes every type (Pika 3.x).
  await applyCommands(c, convertAll([['expireat', 'k', String(Math.floor(Date.now() / 1000) + 100)]]));
  for (const k of ['k', 'pika-migrate:t:set:k', 'pika-migrate:t:zset:k']) assert.ok((await c.ttl(k)) > 90, k);
  await applyCommands(c, convertAll([['persist', 'k']]));
  for (const k of ['k', 'pika-migrate:t:set:k', 'pika-migrate:t:zset:k']) assert.equal(await c.ttl(k), -1, k);
  await applyCommands(c, convertAll([['del', 'k']]));
  assert.deepEqual(await layout(c, 'k'), { main: null });
  // The EXPIREAT entered k in the expiry index; nothing else is left.
  assert.deepEqual(await c.keys('*'), ['pika-migrate:side-expiry']);
});

test('a run of SETs in one batch: one MSET for the plain names, the rule for a name held as a hash', async () => {
  await c.flushall();
  const pool = await SenderPool.connect({ host: redis.host, port: redis.port, db: 0, senders: 1, batchSize: 50, logger: silentLogger() });
  try {
    await pool.submit(convertAll([['hset', 'h', 'f', 'v']])[0]);
    await pool.flush();
    const sets = convertAll([['set', 'a', '1'], ['set', 'h', 's'], ['set', 'a', '2'], ['set', 'b', '3'], ['set', 'h', 's2']]);
    const blob = encodeBatch(sets, 'm', '-', 1, 1000).args[8] as Buffer;
    assert.ok(blob.includes('@TSET'), 'the five SETs are one run');
    for (const cmd of sets) await pool.submit(cmd);
    await pool.flush();
    assert.deepEqual(pool.stats().errors, {});
    assert.deepEqual([await c.get('a'), await c.get('b')], ['2', '3']);
    assert.deepEqual(await layout(c, 'h'), { main: 's2', hash: { hash: { f: 'v' } } });
  } finally {
    await pool.close();
  }
});

test('a value that Redis expires hands the name to the next type at the next sweep', async () => {
  await c.flushall();
  const pool = await SenderPool.connect({ host: redis.host, port: redis.port, db: 0, senders: 1, batchSize: 5, logger: silentLogger() });
  try {
    const at = String(Math.floor(Date.now() / 1000) + 1);
    for (const cmd of convertAll([['hset', 'k', 'f', 'v'], ['pksetexat', 'k', at, 's'], ['sadd', 'p', 'm'], ['pksetexat', 'p', at, 's']])) await pool.submit(cmd);
    await pool.flush();
    assert.equal(await c.get('k'), 's');
    assert.equal(await pool.settleExpiredSides(ORDER.join(',')), 0, 'not due yet');
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal(await pool.settleExpiredSides(ORDER.join(',')), 2);
    assert.deepEqual(await layout(c, 'k'), { main: { hash: { f: 'v' } } });
    assert.deepEqual(await layout(c, 'p'), { main: { set: ['m'] } });
    assert.equal(await c.exists('pika-migrate:side-expiry'), 0);
    await c.set('pika-migrate:t:set:q', 'x');
    assert.equal(await pool.dropSideNames(), 1);
    assert.deepEqual((await c.keys('*')).filter((k) => !k.startsWith('pika-migrate:')).sort(), ['k', 'p']);
    assert.deepEqual(await c.keys('pika-migrate:t:*'), []);
  } finally {
    await pool.close();
  }
});

test('*STORE, SMOVE and RPOPLPUSH read and write one type of each name, as Pika 3.x does', async () => {
  await c.flushall();
  await applyCommands(c, convertAll([['hset', 'k', 'f', 'v'], ['sadd', 'k', 'old'], ['sadd', 'o', 'x', 'y'], ['set', 'o', 'str'], ['sadd', 'p', 'y']]));
  await applyCommands(c, convertAll([['sinterstore', 'k', 'o', 'p']]));
  assert.deepEqual(await layout(c, 'k'), { main: { hash: { f: 'v' } }, set: { set: ['y'] } });
  // SUNIONSTORE reading its own destination's set.
  await applyCommands(c, convertAll([['sunionstore', 'k', 'k', 'o']]));
  assert.deepEqual(await layout(c, 'k'), { main: { hash: { f: 'v' } }, set: { set: ['x', 'y'] } });
  await applyCommands(c, convertAll([['smove', 'o', 'k', 'x'], ['smove', 'o', 'k', 'y']]));
  assert.deepEqual(await layout(c, 'o'), { main: 'str' });
  await applyCommands(c, convertAll([['rpush', 'l', 'a'], ['set', 'l', 's'], ['rpoplpush', 'l', 'k']]));
  assert.deepEqual(await layout(c, 'l'), { main: 's' });
  assert.deepEqual(await layout(c, 'k'), { main: { hash: { f: 'v' } }, list: { list: ['a'] }, set: { set: ['x', 'y'] } });
  await applyCommands(c, convertAll([['zadd', 'z', '1', 'a'], ['zunionstore', 'k', '1', 'z']]));
  assert.deepEqual((await layout(c, 'k')).zset, { zset: ['a', '1'] });
});

test('a *STORE reading its destination when the name holds only a type after the written one keeps that type', async () => {
  // Seen with the real 3.2.7 (random workload, seed 1393836180): `sunionstore k o k` over a name
  // holding only a zset. Placing the destination first moved the zset aside, so the source `k` then
  // found the name empty and settled the zset back under it, where the STORE replaced it.
  await c.flushall();
  await applyCommands(c, convertAll([['zadd', 'k', '1', 'z'], ['sunionstore', 'k', 'o', 'k']]));
  assert.deepEqual(await layout(c, 'k'), { main: { zset: ['z', '1'] } });
  await applyCommands(c, convertAll([['sadd', 'o', 'x'], ['sunionstore', 'k', 'o', 'k']]));
  assert.deepEqual(await layout(c, 'k'), { main: { set: ['x'] }, zset: { zset: ['z', '1'] } });
  await applyCommands(c, convertAll([['sdiffstore', 'k', 'k', 'o']]));
  assert.deepEqual(await layout(c, 'k'), { main: { zset: ['z', '1'] } });
});

test('through the sender pool (inlined in the batch script), with key-rename-prefix', async () => {
  await c.flushall();
  const pool = await SenderPool.connect({ host: redis.host, port: redis.port, db: 0, senders: 2, batchSize: 5, logger: silentLogger() });
  try {
    const rename = KeyRenamer.from(parseKeyRenames('a:=>b:'));
    for (const cmd of convertAll([['sadd', 'a:1', 'm'], ['set', 'a:1', 's'], ['rpush', 'a:1', 'e'], ['del', 'a:1'], ['hset', 'a:2', 'f', 'v'], ['set', 'a:2', 'x'], ['incr', 'a:3']], { rename })) {
      await pool.submit(cmd);
    }
    await pool.flush();
    assert.deepEqual(pool.stats().errors, {});
    assert.deepEqual(await layout(c, 'b:1'), { main: null });
    assert.deepEqual(await layout(c, 'b:2'), { main: 'x', hash: { hash: { f: 'v' } } });
    assert.equal(await c.get('b:3'), '1');
  } finally {
    await pool.close();
  }
});

test('RPOP k + LPUSH k v (how C/D log RPOPLPUSH k k) as one step: a one-element list keeps its TTL, on the name or a side name', async () => {
  await c.flushall();
  const ruled: BinlogConvertContext = { family: 'C', version: '3.5.5', nowMs: Date.now(), multiType: multiTypeRule(ORDER) };
  const plain: BinlogConvertContext = { family: 'D', version: '4.0.1', nowMs: Date.now() };
  const pair = (k: string, v: string, ctx: BinlogConvertContext) => convertSelfMove(entry(['RPOP', k], 10), entry(['LPUSH', k, v], 11), ctx)!.commands;
  // k: a string under the name, its list under a side name (string comes first in the order)
  await applyCommands(c, convertAll([['set', 'k', 's'], ['rpush', 'k', 'a'], ['rpush', 'one', 'a'], ['rpush', 'many', 'a', 'b', 'c']]));
  await c.pexpire('pika-migrate:t:list:k', 100_000);
  await c.pexpire('one', 100_000);
  await applyCommands(c, [...pair('k', 'a', ruled), ...pair('one', 'a', ruled), ...pair('many', 'c', ruled)]);
  assert.deepEqual(await layout(c, 'k'), { main: 's', list: { list: ['a'] } });
  assert.ok((await c.pttl('pika-migrate:t:list:k')) > 90_000);
  assert.ok((await c.pttl('one')) > 90_000);
  assert.deepEqual(await c.lrange('many', 0, -1), ['c', 'a', 'b']);
  // A client's own RPOP and LPUSH of another value: emptied and made anew, as on the master.
  await applyCommands(c, pair('one', 'x', ruled));
  assert.deepEqual(await c.lrange('one', 0, -1), ['x']);
  assert.equal(await c.pttl('one'), -1);
  // 4.0 (no rule): LIST_ROTATE_SCRIPT itself, the same three cases and a missing list.
  await c.rpush('d1', 'a');
  await c.pexpire('d1', 100_000);
  await c.rpush('d3', 'a', 'b', 'c');
  await applyCommands(c, [...pair('d1', 'a', plain), ...pair('d3', 'c', plain), ...pair('d0', 'y', plain)]);
  assert.ok((await c.pttl('d1')) > 90_000);
  assert.deepEqual(await c.lrange('d1', 0, -1), ['a']);
  assert.deepEqual(await c.lrange('d3', 0, -1), ['c', 'a', 'b']);
  assert.deepEqual(await c.lrange('d0', 0, -1), ['y']);
  await c.set('str', 'v');
  await assert.rejects(applyCommands(c, pair('str', 'v', plain)), /WRONGTYPE/);
});

test('the same pairs through the sender pool, whose batch script runs them inlined', async () => {
  await c.flushall();
  const pool = await SenderPool.connect({ host: redis.host, port: redis.port, db: 0, senders: 2, batchSize: 5, logger: silentLogger() });
  try {
    await c.rpush('p:c', 'a');
    await c.rpush('p:d', 'a');
    await c.pexpire('p:c', 100_000);
    await c.pexpire('p:d', 100_000);
    const ctxs: Array<[string, BinlogConvertContext]> = [
      ['p:c', { family: 'C', version: '3.5.5', nowMs: Date.now(), multiType: multiTypeRule(ORDER) }],
      ['p:d', { family: 'D', version: '4.0.1', nowMs: Date.now() }],
    ];
    for (const [k, ctx] of ctxs) for (const cmd of convertSelfMove(entry(['RPOP', k], 1), entry(['LPUSH', k, 'a'], 2), ctx)!.commands) await pool.submit(cmd);
    await pool.flush();
    assert.deepEqual(pool.stats().errors, {});
    for (const [k] of ctxs) {
      assert.deepEqual(await c.lrange(k, 0, -1), ['a']);
      assert.ok((await c.pttl(k)) > 90_000, `${k} keeps its TTL`);
    }
  } finally {
    await pool.close();
  }
});
