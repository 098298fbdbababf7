import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RedisCommand } from '../../src/core/command.js';
import { FatalError } from '../../src/core/errors.js';
import { comparePositions, formatPosition } from '../../src/core/position.js';
import { freePort, startRedis } from '../helpers/redis.js';
import { SenderPool, type CommandErrorEvent } from '../../src/sink/pool.js';
import { silentLogger } from '../../src/core/log.js';
import { binlog, keyed, poolFor, snap, submitAll } from './support.js';

test('keeps per-key order across senders under load', async () => {
  const r = await startRedis();
  try {
    const pool = await poolFor(r, { senders: 8, batchSize: 64, maxInFlightBatches: 3 });
    const keys = 200;
    const perKey = new Array<number>(keys).fill(0);
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 8) % keys;
    function* commands(): Generator<RedisCommand> {
      for (let i = 0; i < 40_000; i++) {
        const k = rand();
        const n = perKey[k]++;
        const pos = binlog(1, i * 10);
        yield keyed('RPUSH', `list:${k}`, [String(n)], pos);
        yield keyed('INCR', `ctr:${k}`, [], pos);
      }
    }
    await submitAll(pool, commands());
    await pool.flush();
    const c = r.client();
    for (let k = 0; k < keys; k++) {
      const list = await c.lrange(`list:${k}`, 0, -1);
      assert.deepEqual(list, Array.from({ length: perKey[k] }, (_, i) => String(i)), `order of list:${k}`);
      assert.equal(await c.get(`ctr:${k}`), String(perKey[k]));
    }
    assert.deepEqual(pool.appliedPosition(), binlog(1, 399_990));
    const st = pool.stats();
    assert.equal(st.total.acked, 80_000);
    assert.equal(st.total.queued + st.total.inFlight, 0);
    assert.equal(st.senders.length, 8);
    for (const s of st.senders) assert.ok(s.acked > 0, 'every sender got work');
    for (const p of pool.senderPositions()) assert.ok(p !== null && comparePositions(p, binlog(1, 399_990)) <= 0);
    await pool.close();
    // The applied hash stays for a restart to resume from (SLAVEOF NO ONE clears it).
    assert.deepEqual(await c.keys('pika-migrate:*'), ['pika-migrate:applied'], 'markers removed on close');
  } finally {
    await r.stop();
  }
});

test('reports as applied only positions whose every command is acknowledged', async () => {
  const r = await startRedis();
  try {
    const pool = await poolFor(r, { senders: 4, batchSize: 10 });
    assert.equal(pool.appliedPosition(), null);
    // One source entry → two commands on different keys, sharing a position.
    await submitAll(pool, [keyed('SET', 'a', ['1'], snap(0)), keyed('SET', 'b', ['1'], snap(1)), keyed('SET', 'c', ['1'], snap(1))]);
    await pool.flush();
    assert.deepEqual(pool.appliedPosition(), snap(1));
    const c = r.client();
    await c.call('CLIENT', 'PAUSE', '400', 'ALL');
    await submitAll(pool, [keyed('SET', 'd', ['1'], snap(2)), keyed('SET', 'e', ['1'], snap(2))]);
    assert.deepEqual(pool.appliedPosition(), snap(1), 'nothing of snapshot#2 is acknowledged while Redis is paused');
    await pool.flush();
    assert.deepEqual(pool.appliedPosition(), snap(2));
    await pool.close();
  } finally {
    await r.stop();
  }
});

test('orders a barrier command after everything before it and before everything after it', async () => {
  const r = await startRedis();
  try {
    const pool = await poolFor(r, { senders: 6, batchSize: 20 });
    const sets = 30;
    const before: RedisCommand[] = [];
    let seq = 0;
    for (let m = 0; m < 50; m++) for (let s = 0; s < sets; s++) before.push(keyed('SADD', `s:${s}`, [`before-${m}`], snap(seq++)));
    const setKeys = Array.from({ length: sets }, (_, s) => Buffer.from(`s:${s}`));
    const union: RedisCommand = { name: 'SUNIONSTORE', args: [Buffer.from('u'), ...setKeys], key: Buffer.from('u'), barrier: true, pos: snap(seq++) };
    const after: RedisCommand[] = [];
    for (let s = 0; s < sets; s++) after.push(keyed('SADD', `s:${s}`, ['after'], snap(seq++)));
    await submitAll(pool, [...before, union, ...after]);
    await pool.flush();
    const c = r.client();
    assert.equal(await c.scard('u'), 50, 'every member added before the barrier is in the union');
    assert.equal(await c.sismember('u', 'after'), 0, 'nothing added after the barrier is in the union');
    assert.equal(await c.sismember('s:7', 'after'), 1);
    // A keyless command is a barrier too.
    await submitAll(pool, [keyed('SET', 'x', ['1'], snap(seq++)), { name: 'FLUSHDB', args: [], key: null, pos: snap(seq++) }, keyed('SET', 'y', ['2'], snap(seq++))]);
    await pool.flush();
    assert.deepEqual((await c.keys('*')).filter((k) => !k.startsWith('pika-migrate:')), ['y']);
    // The senders continue after FLUSHDB removed their markers.
    await submitAll(pool, Array.from({ length: 200 }, (_, i) => keyed('INCR', `n:${i % 20}`, [], snap(seq++))));
    await pool.flush();
    for (let i = 0; i < 20; i++) assert.equal(await c.get(`n:${i}`), '10');
    assert.deepEqual(pool.appliedPosition(), snap(seq - 1));
    await pool.close();
  } finally {
    await r.stop();
  }
});

test('counts WRONGTYPE with its key, logs other errors, and goes on', async () => {
  const r = await startRedis();
  try {
    const pool = await poolFor(r, { senders: 2, batchSize: 10 });
    const conflicts: CommandErrorEvent[] = [];
    const errors: CommandErrorEvent[] = [];
    pool.on('typeConflict', (e: CommandErrorEvent) => conflicts.push(e));
    pool.on('commandError', (e: CommandErrorEvent) => errors.push(e));
    await submitAll(pool, [
      keyed('SET', 'str', ['v'], snap(0)),
      keyed('SET', 'str2', ['v'], snap(1)),
      keyed('RPUSH', 'str', ['x'], snap(2)),
      keyed('SET', 'after', ['1'], snap(3)),
      keyed('SET', 'str', ['a', 'b', 'c'], snap(4)),
      keyed('HSET', 'h', ['f', 'v'], snap(5)),
    ]);
    await pool.flush();
    const c = r.client();
    assert.equal(await c.get('after'), '1');
    assert.equal(await c.hget('h', 'f'), 'v');
    assert.equal(conflicts.length, 1);
    assert.equal(conflicts[0].cmd.key?.toString(), 'str');
    assert.equal(formatPosition(conflicts[0].cmd.pos), 'db0:snapshot#2');
    const st = pool.stats();
    assert.equal(st.typeConflicts, 1);
    assert.equal(st.errors.wrongType, 1);
    assert.equal(st.errors.err, 1, 'ERR syntax error counted');
    assert.equal(st.errorClasses.other, 1);
    assert.deepEqual(errors.map((e) => e.code), ['WRONGTYPE', 'ERR']);
    assert.deepEqual(pool.appliedPosition(), snap(5));
    await pool.close();
  } finally {
    await r.stop();
  }
});

test('fails fast naming host:port when the target is unreachable', async () => {
  const port = await freePort();
  const t0 = Date.now();
  await assert.rejects(
    SenderPool.connect({ host: '127.0.0.1', port, db: 0, senders: 3, batchSize: 10, logger: silentLogger() }),
    (e: Error) => e instanceof FatalError && e.message.includes(`127.0.0.1:${port}`) && /ECONNREFUSED/.test(e.message),
  );
  assert.ok(Date.now() - t0 < 3000);
});

test('fails fast on a bad or missing password', async () => {
  const r = await startRedis();
  try {
    // (test/helpers/redis.ts waits for PING, so the password is set once the server is up)
    await r.client().config('SET', 'requirepass', 'right');
    await assert.rejects(poolFor(r, { password: 'wrong' }), (e: Error) => e instanceof FatalError && /WRONGPASS/.test(e.message) && e.message.includes(`127.0.0.1:${r.port}`));
    await assert.rejects(poolFor(r), (e: Error) => e instanceof FatalError && /NOAUTH/.test(e.message) && e.message.includes(`127.0.0.1:${r.port}`));
    const pool = await poolFor(r, { password: 'right' });
    await submitAll(pool, [keyed('SET', 'k', ['v'], snap(0))]);
    await pool.flush();
    assert.equal(await r.client({ password: 'right' }).get('k'), 'v');
    await pool.close();
  } finally {
    await r.stop();
  }
});

test('after a restart, binlog commands each sender already applied are skipped, not applied twice', async () => {
  const r = await startRedis();
  try {
    const c = r.client();
    const work = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => keyed('INCR', `ctr:${(from + i) % 37}`, [], binlog(2, (from + i) * 10)));
    const first = await poolFor(r, { senders: 4, batchSize: 7 });
    assert.equal(await first.resumeAfter(0), null, 'nothing recorded yet');
    await submitAll(first, work(0, 500));
    await first.flush();
    await first.close(); // as a crash after Redis applied 0..499 but before the checkpoint said so
    const sum = async () => (await Promise.all(Array.from({ length: 37 }, (_, k) => c.get(`ctr:${k}`)))).reduce((a, v) => a + Number(v), 0);
    assert.equal(await sum(), 500);

    // Resumed from an older checkpoint (entry 200): 200..499 come again, then new ones.
    const again = await poolFor(r, { senders: 4, batchSize: 5 });
    const found = await again.resumeAfter(0);
    assert.equal(found?.sendersChanged, false);
    assert.equal(found?.positions.length, 4);
    await submitAll(again, work(200, 800));
    await again.flush();
    assert.equal(await sum(), 800, 'every INCR exactly once');
    assert.equal(again.stats().skippedAsApplied, 300);
    await again.close();

    // Another sender count: keys change senders, so only what every sender applied is skipped.
    const other = await poolFor(r, { senders: 3, batchSize: 5 });
    const f2 = await other.resumeAfter(0);
    assert.equal(f2?.sendersChanged, true);
    await submitAll(other, work(700, 800));
    await other.flush();
    assert.ok(other.stats().skippedAsApplied > 0 && other.stats().skippedAsApplied <= 100);
    await other.clearApplied();
    assert.equal(await c.exists('pika-migrate:applied'), 0);
    await other.close();
  } finally {
    await r.stop();
  }
});

test('holds at most its byte budget, whatever the batch counts allow, and sends a command bigger than it alone', async () => {
  const r = await startRedis();
  try {
    // By count alone, 4 senders × (4 in flight + 2) × 100 commands: 2400 values of 64 KiB (150 MB).
    const pool = await poolFor(r, { senders: 4, batchSize: 100, maxInFlightBytes: 256 << 10 });
    const value = Buffer.alloc(64 << 10, 'v');
    const c = r.client();
    await c.call('CLIENT', 'PAUSE', '300', 'ALL');
    let accepted = 0;
    let wait: void | Promise<void>;
    while ((wait = pool.submit(keyed('SET', `k:${accepted}`, [value], snap(accepted)))) === undefined) accepted++;
    // The 256 KiB take four values (each weighs a little more than its bytes): the fourth puts it over.
    assert.equal(accepted, 3, 'the producer is told to wait once the held commands outweigh the budget');
    const { queued, inFlight } = pool.stats().total;
    assert.equal(queued + inFlight, 4);
    await wait;
    const big = Buffer.alloc(1 << 20, 'b');
    await submitAll(pool, [keyed('SET', 'big', [big], snap(10)), keyed('SET', 'after', ['1'], snap(11))]);
    await pool.flush();
    assert.equal(await c.strlen('big'), 1 << 20);
    assert.equal(await c.strlen('k:3'), 64 << 10);
    assert.equal(await c.get('after'), '1');
    await pool.close();
  } finally {
    await r.stop();
  }
});
