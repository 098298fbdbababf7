import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RedisCommand } from '../../src/core/command.js';
import { FatalError, TargetLostWritesError } from '../../src/core/errors.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import type { SenderPool } from '../../src/sink/pool.js';
import { binlog, keyed, poolFor, sleep, submitAll } from './support.js';

/** RPUSH of a per-key counter plus INCR: replaying or losing any command shows in the data. */
function* counting(keys: number, total: number, perKey: number[], value = ''): Generator<RedisCommand> {
  for (let i = 0; i < total; i++) {
    const k = (i * 7919) % keys;
    const n = perKey[k]++;
    const pos = binlog(2, i);
    yield keyed('RPUSH', `list:${k}`, [value === '' ? String(n) : `${n}:${value}`], pos);
    yield keyed('INCR', `ctr:${k}`, [], pos);
  }
}

async function assertExact(r: RedisServer, perKey: number[], withValue = false): Promise<void> {
  const c = r.client();
  for (let k = 0; k < perKey.length; k++) {
    const list = await c.lrange(`list:${k}`, 0, -1);
    const got = withValue ? list.map((v) => v.slice(0, v.indexOf(':'))) : list;
    assert.deepEqual(got, Array.from({ length: perKey[k] }, (_, i) => String(i)), `list:${k} holds each push once, in order`);
    assert.equal(await c.get(`ctr:${k}`), String(perKey[k]), `ctr:${k} counted each INCR once`);
  }
}

async function sinkClientIds(r: RedisServer): Promise<string[]> {
  const list = (await r.client().call('CLIENT', 'LIST', 'TYPE', 'normal')) as string;
  return list
    .split('\n')
    .filter((l) => / name=pika-migrate-sink-\d+ /.test(l))
    .map((l) => /\bid=(\d+)/.exec(l)![1]);
}

async function waitFor(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('CLIENT KILL of sender connections mid-stream loses and duplicates nothing', async () => {
  let pool!: SenderPool;
  const r = await startRedis();
  try {
    pool = await poolFor(r, { senders: 4, batchSize: 40, maxInFlightBatches: 4 });
    const perKey = new Array<number>(50).fill(0);
    let done = false;
    const producing = submitAll(pool, counting(50, 60_000, perKey)).finally(() => (done = true));
    const admin = r.client();
    let kills = 0;
    while (!done) {
      await sleep(15);
      const ids = await sinkClientIds(r);
      if (ids.length === 0) continue;
      if (kills % 3 === 2) await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      else await admin.call('CLIENT', 'KILL', 'ID', ids[kills % ids.length]);
      kills++;
    }
    await producing;
    await pool.flush();
    await assertExact(r, perKey);
    const st = pool.stats();
    assert.ok(kills >= 5, `only ${kills} kills happened`);
    assert.ok(st.total.reconnects >= 1);
    assert.equal(st.total.acked, 120_000);
    assert.deepEqual(pool.appliedPosition(), binlog(2, 59_999));
    console.log(`# kills ${kills}, reconnects ${st.total.reconnects}, batches resent ${st.total.retries}, batches applied with lost reply ${st.total.lostReplies}`);
    await pool.close();
  } finally {
    pool?.destroy();
    await r.stop();
  }
});

test('retries OOM in order until maxmemory is raised', async () => {
  let pool!: SenderPool;
  const r = await startRedis(['--maxmemory-policy', 'noeviction']);
  try {
    const admin = r.client();
    const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
    await admin.config('SET', 'maxmemory', String(used + 400_000));
    pool = await poolFor(r, { senders: 3, batchSize: 20, retryMinMs: 10, retryMaxMs: 100 });
    const perKey = new Array<number>(10).fill(0);
    const producing = submitAll(pool, counting(10, 3000, perKey, 'x'.repeat(500)));
    await waitFor('an OOM reply', () => (pool.stats().errors.oom ?? 0) >= 1);
    // Far below use, so that no fluctuation of client buffers lets a batch through.
    await admin.config('SET', 'maxmemory', '1');
    await waitFor('more OOM replies', () => (pool.stats().errors.oom ?? 0) >= 3);
    const stuck = pool.stats().total.acked;
    await sleep(200);
    assert.equal(pool.stats().total.acked, stuck, 'nothing is acknowledged while Redis is out of memory');
    await admin.config('SET', 'maxmemory', '0');
    await producing;
    await pool.flush();
    await assertExact(r, perKey, true);
    const st = pool.stats();
    assert.ok(st.total.retries >= 3);
    assert.equal(st.errorClasses.retryable, st.errors.oom);
    await pool.close();
  } finally {
    pool?.destroy();
    await r.stop();
  }
});

test('retries BUSY while another client runs a long script, keeping order', async () => {
  let pool!: SenderPool;
  const r = await startRedis(['--busy-reply-threshold', '50']);
  try {
    pool = await poolFor(r, { senders: 3, batchSize: 20, retryMinMs: 10, retryMaxMs: 100 });
    const perKey = new Array<number>(10).fill(0);
    const producing = submitAll(pool, counting(10, 20_000, perKey));
    await waitFor('some progress', () => pool.stats().total.acked > 1000);
    const killer = r.client();
    await killer.ping();
    const busy = r.client().eval('while true do end', 0).catch((e: Error) => e.message);
    await waitFor('a BUSY reply', () => (pool.stats().errors.busy ?? 0) >= 1);
    await killer.call('SCRIPT', 'KILL');
    assert.match(String(await busy), /killed/i);
    await producing;
    await pool.flush();
    await assertExact(r, perKey);
    await pool.close();
  } finally {
    pool?.destroy();
    await r.stop();
  }
});

test('a password change at runtime is fatal with a clear message', async () => {
  let pool!: SenderPool;
  const r = await startRedis();
  try {
    pool = await poolFor(r, { senders: 2, batchSize: 10 });
    const fatal = new Promise<Error>((resolve) => pool.once('fatal', resolve));
    await submitAll(pool, [keyed('SET', 'a', ['1'], binlog(1, 1))]);
    await pool.flush();
    const admin = r.client();
    await admin.config('SET', 'requirepass', 'new-secret');
    await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    const err = await fatal;
    assert.ok(err instanceof FatalError);
    assert.match(err.message, /NOAUTH/);
    assert.ok(err.message.includes(`127.0.0.1:${r.port}`));
    assert.throws(() => pool.submit(keyed('SET', 'b', ['1'], binlog(1, 2))), FatalError);
    await assert.rejects(pool.flush(), FatalError);
    assert.equal(pool.stats().errors.noAuth, 1);
    await pool.close();
  } finally {
    pool?.destroy();
    await r.stop();
  }
});

test('keeps memory bounded while Redis is paused: producers block, the heap does not grow', async () => {
  let pool!: SenderPool;
  const r = await startRedis();
  try {
    const senders = 4;
    const batchSize = 100;
    const maxInFlightBatches = 2;
    pool = await poolFor(r, { senders, batchSize, maxInFlightBatches });
    let submitted = 0;
    let stop = false;
    const value = 'v'.repeat(200);
    const producing = (async () => {
      while (!stop) {
        const p = pool.submit(keyed('SET', `k:${submitted}`, [value], binlog(3, submitted)));
        submitted++;
        if (p !== undefined) await p;
      }
    })();
    await waitFor('some progress', () => pool.stats().total.acked > 20_000);
    await r.client().call('CLIENT', 'PAUSE', '2500', 'ALL');
    await sleep(500);
    const s1 = submitted;
    const heap1 = process.memoryUsage().heapUsed;
    await sleep(1500);
    const s2 = submitted;
    const heap2 = process.memoryUsage().heapUsed;
    const held = pool.stats().total.queued + pool.stats().total.inFlight;
    stop = true;
    assert.equal(s2, s1, 'the producer is blocked while Redis does not answer');
    const bound = senders * (maxInFlightBatches + 2) * batchSize;
    assert.ok(held <= bound, `held ${held} commands > bound ${bound}`);
    assert.ok(heap2 - heap1 < 4 * 1024 * 1024, `heap grew by ${heap2 - heap1} bytes while paused`);
    await producing;
    await pool.flush();
    assert.equal(await r.client().dbsize(), submitted + senders + 1, 'every submitted key (plus one marker per sender and the applied hash)');
    console.log(`# held while paused: ${held} commands (bound ${bound}); heap change ${((heap2 - heap1) / 1024).toFixed(0)} KiB`);
    await pool.close();
  } finally {
    pool?.destroy();
    await r.stop();
  }
});

test('a target still loading its dataset (LOADING) is waited for at connect, not taken as a refusal', async () => {
  // 4000 keys at 0.5 ms each: about 2 s of LOADING after every start, clients served meanwhile.
  const r = await startRedis(['--key-load-delay', '500', '--loading-process-events-interval-bytes', '1024']);
  let pool: SenderPool | undefined;
  try {
    const c = r.client();
    const p = c.pipeline();
    for (let i = 0; i < 4000; i++) p.set(`load:${i}`, 'v');
    await p.exec();
    const bounced = r.bounce(0);
    // Connect while the new process loads: PING answers LOADING until it is done.
    await sleep(300);
    const t0 = Date.now();
    for (;;) {
      try {
        pool = await poolFor(r, { senders: 2 });
        break;
      } catch (e) {
        // Before the new process listens the port is refused: that is the unreachable case, tried again.
        assert.doesNotMatch((e as Error).message, /LOADING/, 'LOADING is waited out inside the connect');
        assert.match((e as Error).message, /ECONNREFUSED|Connection is closed/);
        await sleep(50);
      }
    }
    await bounced;
    const waited = Date.now() - t0;
    await submitAll(pool, [keyed('SET', 'after-load', ['1'], binlog(1, 1))]);
    await pool.flush();
    assert.equal(await r.client().dbsize(), 4001 + 2, 'the loaded keys, ours, and the sink markers');
    console.log(`# connected after ${waited} ms of loading`);
  } finally {
    pool?.destroy();
    await r.stop();
  }
});

/** Waits for the pool's fatal error (or fails after `ms`). */
function fatalOf(pool: SenderPool, ms: number): Promise<Error> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no fatal error within ${ms} ms`)), ms);
    pool.once('fatal', (e: Error) => {
      clearTimeout(t);
      resolve(e);
    });
  });
}

test('a target that restarts empty is a loss of acknowledged writes (TargetLostWritesError naming it), not "nothing applied"', async () => {
  const r = await startRedis();
  const pool = await poolFor(r, { senders: 3, batchSize: 20, reconnectGiveUpMs: 10_000 });
  try {
    const perKey = new Array<number>(30).fill(0);
    await submitAll(pool, counting(30, 600, perKey));
    await pool.flush();
    const fatal = fatalOf(pool, 15_000);
    await r.crash(200);
    // The senders find out on reconnect (their connections dropped) or on their next batch.
    await submitAll(pool, counting(30, 30, perKey)).catch(() => {});
    const e = await fatal;
    assert.ok(e instanceof TargetLostWritesError, String(e));
    assert.match(e.message, new RegExp(`Redis at 127\\.0\\.0\\.1:${r.port} lost writes it had acknowledged: sender \\d had batches up to \\d+ acknowledged .*marker pika-migrate:sink:\\w+:\\d is gone: its run_id changed`));
  } finally {
    pool.destroy();
    await r.stop();
  }
});

test('a FLUSHALL behind our back (no restart) is a loss too; our own FLUSHDB and FLUSHALL are not', async () => {
  const r = await startRedis();
  const pool = await poolFor(r, { senders: 4, batchSize: 10 });
  try {
    const perKey = new Array<number>(20).fill(0);
    await submitAll(pool, counting(20, 200, perKey));
    // Ours: a keyless barrier that empties the DB, markers included; the senders go on.
    for (const name of ['FLUSHDB', 'FLUSHALL']) {
      await submitAll(pool, [{ name, args: [], key: null, pos: binlog(3, name.length) }]);
      perKey.fill(0);
      await submitAll(pool, counting(20, 200, perKey));
      await pool.flush();
      await assertExact(r, perKey);
    }
    const fatal = fatalOf(pool, 10_000);
    await r.client().flushall();
    await submitAll(pool, counting(20, 40, perKey)).catch(() => {});
    const e = await fatal;
    assert.ok(e instanceof TargetLostWritesError, String(e));
    assert.match(e.message, /is gone: it was flushed, restarted or failed over/);
  } finally {
    pool.destroy();
    await r.stop();
  }
});
