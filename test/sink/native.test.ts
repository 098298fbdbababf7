import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import type { RedisCommand } from '../../src/core/command.js';
import { shortLivedBytesNoted } from '../../src/core/gc-pacing.js';
import { encodeNativeBatch, killServerClient, nativeCall, nativeEligible, serverClientOf, transactionHead } from '../../src/sink/native-batch.js';
import type { SenderPool } from '../../src/sink/pool.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { binlog, keyed, poolFor, sleep, submitAll } from './support.js';

async function calls(r: RedisServer, cmd: string): Promise<number> {
  const stats = await r.client().info('commandstats');
  return Number(new RegExp(`cmdstat_${cmd.replace('|', '\\|')}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
}

/**
 * Runs of SETs that overwrite each counter with its current value, then runs of INCRs of the same
 * counters: batches of the first kind go as transactions, of the second through the batch script,
 * on the same senders. A SET applied late or twice out of turn, or an INCR applied twice or lost,
 * leaves a counter off.
 */
function* setsThenIncrs(keys: number, rounds: number, counts: number[]): Generator<RedisCommand> {
  let off = 0;
  for (let r = 0; r < rounds; r++) {
    // Three passes: runs long enough to fill whole batches of SETs on every sender.
    for (let pass = 0; pass < 3; pass++) for (let k = 0; k < keys; k++) yield keyed('SET', `c:${k}`, [String(counts[k])], binlog(1, off++));
    for (let k = 0; k < keys; k++) {
      counts[k]++;
      yield keyed('INCR', `c:${k}`, [], binlog(1, off++));
    }
  }
}

async function assertCounts(r: RedisServer, counts: number[]): Promise<void> {
  const c = r.client();
  const got = await c.mget(...counts.map((_, k) => `c:${k}`));
  assert.deepEqual(got, counts.map(String));
}

test('only batches of overwrites go as transactions: SETs, HSET, SADD, ZADD without options, PEXPIREAT', () => {
  const pos = binlog(1, 1);
  assert.equal(nativeEligible([keyed('SET', 'a', ['1'], pos), keyed('SET', 'b', ['2', 'PXAT', '99999999999999'], pos)]), true);
  const many = (n: number, f: (i: number) => string[]): string[] => Array.from({ length: n }, (_, i) => f(i)).flat();
  const bigHset = keyed('HSET', 'h', many(40, (i) => [`f${i}`, '1']), pos);
  const bigSadd = keyed('SADD', 's', many(80, (i) => [`m${i}`]), pos);
  const bigZadd = keyed('ZADD', 'z', [...many(38, (i) => [String(i + 0.5), `m${i}`]), 'inf', 'n', '-inf', 'NX'], pos); // a member named NX
  const expiry = keyed('PEXPIREAT', 'h', ['99999999999999'], pos);
  assert.equal(nativeEligible([bigHset, bigSadd, bigZadd, expiry, keyed('SET', 'a', ['1'], pos)]), true);
  // Element writes that carry few arguments per call cost Node more in replies than Redis saves.
  assert.equal(nativeEligible([keyed('HSET', 'h', ['f', '1', 'g', '2'], pos), keyed('SADD', 's', ['m'], pos)]), false, 'small element writes');
  assert.equal(nativeEligible([keyed('PEXPIREAT', 'h', ['99999999999999'], pos)]), false, 'an expiry alone');
  assert.equal(nativeEligible([bigHset, expiry]), true, 'an expiry after a big chunk');
  assert.equal(nativeEligible([keyed('SET', 'a', ['1'], pos), keyed('INCR', 'b', [], pos)]), false);
  assert.equal(nativeEligible([keyed('SET', 'a', ['1', 'NX'], pos)]), false, 'SET NX depends on what is there');
  assert.equal(nativeEligible([keyed('SET', 'a', ['1', 'KEEPTTL'], pos)]), false);
  assert.equal(nativeEligible([keyed('RPUSH', 'l', ['x'], pos)]), false, 'RPUSH twice adds twice');
  for (const opt of ['NX', 'xx', 'GT', 'LT', 'CH', 'INCR']) assert.equal(nativeEligible([keyed('ZADD', 'z', [opt, ...many(20, (i) => ['1', `m${i}`])], pos)]), false, `ZADD ${opt}`);
  assert.equal(nativeEligible([keyed('HSET', 'h', many(40, (i) => [`f${i}`, '1']).slice(1), pos)]), false, 'HSET with a field without value');
  assert.equal(nativeEligible([keyed('HSETNX', 'h', ['f', '1'], pos)]), false);
  assert.equal(nativeEligible([keyed('HINCRBY', 'h', ['f', '1'], pos)]), false);
  assert.equal(nativeEligible([]), false);
});

test('the transaction is valid RESP: MULTI, the gate, one MSET per run, each expiring SET, EXEC', async () => {
  const r = await startRedis();
  try {
    const pos = binlog(1, 1);
    const cmds = [keyed('SET', 'a', ['1'], pos), keyed('SET', 'b', [Buffer.from([0, 13, 10, 255])], pos), keyed('SET', 'e', ['x', 'PXAT', String(Date.now() + 60_000)], pos), keyed('SET', 'c', ['3'], pos)];
    const noted = shortLivedBytesNoted();
    const enc = encodeNativeBatch(cmds);
    assert.deepEqual(enc.origin, [0, 2, 3]);
    // The layout dies once Redis has answered: noted for core/gc-pacing.ts.
    assert.equal(shortLivedBytesNoted() - noted, Buffer.concat(enc.data).length);
    // What an error report names for each call: an MSET as the SET of its first pair.
    assert.deepEqual(nativeCall(enc.data, 0), { name: 'SET', args: [Buffer.from('a'), Buffer.from('1')] });
    assert.equal(nativeCall(enc.data, 1).args[2].toString(), 'PXAT');
    assert.deepEqual(nativeCall(enc.data, 2), { name: 'SET', args: [Buffer.from('c'), Buffer.from('3')] });
    const payload = Buffer.concat([transactionHead('m', '-', 1, 60_000, null, pos), ...enc.data, Buffer.from('*1\r\n$4\r\nEXEC\r\n')]);
    // Through a raw socket: redis-cli --pipe style, the replies in order.
    const c = r.client();
    await c.script('LOAD', (await import('../../src/sink/native-batch.js')).GATE_SCRIPT);
    const raw = connect(r.port, r.host);
    try {
      const replies: Buffer[] = [];
      raw.on('data', (d: Buffer) => replies.push(d));
      raw.write(payload);
      const want = '+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*4\r\n*0\r\n+OK\r\n+OK\r\n+OK\r\n';
      for (let i = 0; i < 100 && Buffer.concat(replies).length < want.length; i++) await sleep(10);
      assert.equal(Buffer.concat(replies).toString('latin1'), want);
    } finally {
      raw.destroy();
    }
    assert.deepEqual(await c.mgetBuffer('a', 'b', 'c'), [Buffer.from('1'), Buffer.from([0, 13, 10, 255]), Buffer.from('3')]);
    assert.ok((await c.pttl('e')) > 50_000);
    assert.equal(await c.get('m'), '1', 'the gate wrote the marker');
  } finally {
    await r.stop();
  }
});

test('values of every length digit count go out exact', async () => {
  const r = await startRedis();
  try {
    const pos = binlog(1, 1);
    // Lengths around each change in the number of digits of the bulk header, a multibyte string
    // (bytes, not characters, in the header), either side of the length written by reference and
    // one large enough to need more than one write.
    const lengths = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 9999, 10_000, 16_383, 16_384, 123_456, 1 << 20];
    const values = lengths.map((n, i) => Buffer.alloc(n, 97 + (i % 26)));
    const cmds = values.map((v, i) => keyed('SET', `len:${'x'.repeat(i * 9)}:${lengths[i]}`, [v], pos));
    cmds.push(keyed('SET', 'utf8', ['žluťoučký kůň'], pos));
    const enc = encodeNativeBatch(cmds);
    // Long values are chunks of their own, not copies; shorter ones are copied.
    for (const [i, v] of values.entries()) assert.equal(enc.data.includes(v), lengths[i] >= 16_384, `value of ${lengths[i]} bytes`);
    const payload = Buffer.concat([transactionHead('m', '-', 1, 60_000, null, pos), ...enc.data, Buffer.from('*1\r\n$4\r\nEXEC\r\n')]);
    const c = r.client();
    await c.script('LOAD', (await import('../../src/sink/native-batch.js')).GATE_SCRIPT);
    const raw = connect(r.port, r.host);
    try {
      let replies = '';
      raw.on('data', (d: Buffer) => (replies += d.toString('latin1')));
      raw.write(payload);
      for (let i = 0; i < 200 && !replies.endsWith('+OK\r\n'); i++) await sleep(10);
      // MULTI, the gate, one MSET for the whole run, EXEC.
      assert.equal(replies, '+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n*0\r\n+OK\r\n');
    } finally {
      raw.destroy();
    }
    const got = await c.mgetBuffer(...cmds.map((cmd) => cmd.key!));
    assert.deepEqual(got.slice(0, values.length), values);
    assert.equal(got[values.length]!.toString('utf8'), 'žluťoučký kůň');
  } finally {
    await r.stop();
  }
});

test('strings go as transactions, the rest through the batch script, and the result is exact', async () => {
  let pool!: SenderPool;
  const r = await startRedis();
  try {
    pool = await poolFor(r, { senders: 3, batchSize: 20 });
    const counts = new Array<number>(60).fill(0);
    await submitAll(pool, setsThenIncrs(60, 30, counts));
    await pool.flush();
    await assertCounts(r, counts);
    assert.ok((await calls(r, 'exec')) >= 30, 'batches of SETs went as transactions');
    assert.ok((await calls(r, 'evalsha')) >= 60, 'the gate and the INCR batches ran scripts');
    await pool.close();
  } finally {
    pool?.destroy();
    await r.stop();
  }
});

test('transactions off: everything goes through the batch script', async () => {
  let pool!: SenderPool;
  const r = await startRedis();
  try {
    pool = await poolFor(r, { senders: 2, batchSize: 20, transactions: false });
    const counts = new Array<number>(20).fill(0);
    await submitAll(pool, setsThenIncrs(20, 5, counts));
    await pool.flush();
    await assertCounts(r, counts);
    assert.equal(await calls(r, 'exec'), 0);
    await pool.close();
  } finally {
    pool?.destroy();
    await r.stop();
  }
});

test('an ACL without client|kill falls back to the batch script for every batch', async () => {
  let pool!: SenderPool;
  const r = await startRedis();
  try {
    await r.client().call('ACL', 'SETUSER', 'nokill', 'on', '>pw', '~*', '+@all', '-client|kill');
    pool = await poolFor(r, { senders: 2, batchSize: 20, username: 'nokill', password: 'pw' });
    const counts = new Array<number>(20).fill(0);
    await submitAll(pool, setsThenIncrs(20, 5, counts));
    await pool.flush();
    await assertCounts(r, counts);
    // The capability probe's own empty MULTI/EXEC is the only one.
    assert.equal(await calls(r, 'exec'), 1);
    await pool.close();
  } finally {
    pool?.destroy();
    await r.stop();
  }
});

/**
 * Until `producing` settles, every 20 ms: kills the sink's connections (CLIENT KILL), and every
 * fourth time refuses every write for 30 ms instead (maxmemory 1: queued commands get OOM, EXEC
 * answers EXECABORT). Needs a server started with `--maxmemory-policy noeviction`.
 */
async function underFire(r: RedisServer, producing: Promise<void>): Promise<{ kills: number; ooms: number }> {
  let done = false;
  const settled = producing.finally(() => (done = true));
  const admin = r.client();
  let kills = 0;
  let ooms = 0;
  while (!done) {
    await sleep(20);
    if ((kills + ooms) % 4 === 3) {
      await admin.config('SET', 'maxmemory', '1');
      await sleep(30);
      await admin.config('SET', 'maxmemory', '0');
      ooms++;
    } else {
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      kills++;
    }
  }
  await settled;
  return { kills, ooms };
}

test('CLIENT KILL mid-stream and OOM refusals: transactions and scripts interleaved stay exact', async () => {
  let pool!: SenderPool;
  const r = await startRedis(['--maxmemory-policy', 'noeviction']);
  try {
    pool = await poolFor(r, { senders: 4, batchSize: 25, maxInFlightBatches: 4, retryMinMs: 10, retryMaxMs: 50 });
    const counts = new Array<number>(200).fill(0);
    const { kills, ooms } = await underFire(r, submitAll(pool, setsThenIncrs(200, 150, counts)));
    await pool.flush();
    await assertCounts(r, counts);
    const st = pool.stats();
    assert.ok(kills >= 3 && ooms >= 1, `${kills} kills, ${ooms} OOM windows`);
    assert.ok(st.total.reconnects >= 1);
    assert.ok((await calls(r, 'exec')) >= 100);
    // Each reconnect killed the connection it gave up on (gone already here: 0 killed, but asked).
    assert.ok((await calls(r, 'client|kill')) >= st.total.reconnects);
    console.log(`# kills ${kills}, OOM windows ${ooms}, reconnects ${st.total.reconnects}, resent ${st.total.retries}, oom replies ${st.errors.oom ?? 0}`);
    await pool.close();
  } finally {
    pool?.destroy();
    await r.stop();
  }
});

const FIELDS = 20;
const fieldNames = Array.from({ length: FIELDS }, (_, i) => `a${i}`);

/**
 * Rounds of big HSET/SADD/ZADD writes (transactions: 2 × FIELDS arguments and more each) and
 * HDEL/SREM (the batch script) over the same keys: a write applied late or out of turn and not
 * made again in order leaves a field, member or score that should not be there.
 */
function* elementRounds(keys: number, rounds: number): Generator<RedisCommand> {
  let off = 0;
  for (let r = 0; r < rounds; r++) {
    const members = (round: number): string[] => Array.from({ length: 2 * FIELDS }, (_, i) => `${round}:${i}`);
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < keys; k++) {
        yield keyed('HSET', `h:${k}`, [...fieldNames.flatMap((f) => [f, String(r)]), 'b', String(r * 2)], binlog(1, off++));
        yield keyed('SADD', `s:${k}`, members(r), binlog(1, off++));
        yield keyed('ZADD', `z:${k}`, fieldNames.flatMap((f) => [String(r), f]), binlog(1, off++));
      }
    }
    for (let k = 0; k < keys; k++) {
      yield keyed('HDEL', `h:${k}`, ['b'], binlog(1, off++));
      if (r > 0) yield keyed('SREM', `s:${k}`, members(r - 1), binlog(1, off++));
    }
  }
}

/** What each key must end as after elementRounds. */
async function assertElements(r: RedisServer, keys: number, rounds: number): Promise<void> {
  const c = r.client();
  const last = String(rounds - 1);
  for (let k = 0; k < keys; k++) {
    assert.deepEqual(await c.hgetall(`h:${k}`), Object.fromEntries(fieldNames.map((f) => [f, last])), `h:${k}`);
    assert.deepEqual((await c.smembers(`s:${k}`)).sort(), Array.from({ length: 2 * FIELDS }, (_, i) => `${last}:${i}`).sort(), `s:${k}`);
    assert.deepEqual(await c.zrange(`z:${k}`, 0, -1, 'WITHSCORES'), [...fieldNames].sort().flatMap((f) => [f, last]), `z:${k}`);
  }
}

test('hash fields, set and zset members go as transactions; CLIENT KILL and OOM mid-stream leave them exact', async () => {
  let pool!: SenderPool;
  const r = await startRedis(['--maxmemory-policy', 'noeviction']);
  try {
    pool = await poolFor(r, { senders: 4, batchSize: 25, maxInFlightBatches: 4, retryMinMs: 10, retryMaxMs: 50 });
    const keys = 100;
    const rounds = 60;
    const { kills, ooms } = await underFire(r, submitAll(pool, elementRounds(keys, rounds)));
    await pool.flush();
    await assertElements(r, keys, rounds);
    assert.ok(kills >= 3 && ooms >= 1, `${kills} kills, ${ooms} OOM windows`);
    assert.ok((await calls(r, 'hset')) >= 100 && (await calls(r, 'exec')) >= 100, 'element writes went as transactions');
    assert.ok((await calls(r, 'evalsha')) >= 100, 'the gate and the HDEL/SREM batches ran scripts');
    console.log(`# kills ${kills}, OOM windows ${ooms}, reconnects ${pool.stats().total.reconnects}, resent ${pool.stats().total.retries}`);
    await pool.close();
  } finally {
    pool?.destroy();
    await r.stop();
  }
});

test('killServerClient kills the connection with that id and address only', async () => {
  const r = await startRedis();
  try {
    const a = r.client();
    const b = new Redis({ host: r.host, port: r.port });
    try {
      const me = await serverClientOf(b);
      assert.equal(await killServerClient(a, { id: me.id, addr: '127.0.0.1:1' }), 0, 'same id, other address: not that one');
      assert.equal(await killServerClient(a, { id: String(Number(me.id) + 1000), addr: me.addr }), 0);
      assert.equal(await killServerClient(a, me), 1);
    } finally {
      b.disconnect();
    }
  } finally {
    await r.stop();
  }
});
