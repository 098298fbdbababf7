import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RedisCommand } from '../../src/core/command.js';
import type { SnapshotRecord } from '../../src/core/record.js';
import { SnapshotRecordConverter } from '../../src/convert/records.js';
import { TargetLostWritesError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { DELETE_MATCHING_SCRIPT, GUARDED_WRITE_SCRIPT, LIST_ROTATE_SCRIPT, LOAD_GUARD_KEY } from '../../src/core/scripts.js';
import { ClusterPool, type ClusterPoolOptions } from '../../src/sink/cluster-pool.js';
import { clusterSlot, SLOTS, slotTag } from '../../src/core/cluster-slot.js';
import { parseRedirect } from '../../src/sink/cluster-slots.js';
import { RateLimiter } from '../../src/sink/rate-limit.js';
import { startCluster, type RedisCluster } from '../helpers/cluster.js';
import { binlog, keyed, sleep, snap, submitAll } from './support.js';

let cluster: RedisCluster;

before(async () => {
  cluster = await startCluster(3);
});

after(async () => {
  await cluster.stop();
});

function poolFor(extra: Partial<ClusterPoolOptions> = {}): Promise<ClusterPool> {
  const [host, port] = cluster.seeds[0].split(':');
  return ClusterPool.connect({ seeds: [{ host, port: Number(port) }], batchSize: 50, logger: silentLogger(), reconnectGiveUpMs: 20_000, ...extra });
}

async function flushAll(): Promise<void> {
  for (const n of cluster.nodes) await n.client().flushdb();
}

/** The master index each key lives on, asked of each master (KEYS), not computed. */
async function whereIs(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  (await cluster.keysPerNode()).forEach((keys, i) => keys.forEach((k) => out.set(k.toString(), i)));
  return out;
}

/** Any master answers for any key (one redirect-following client per test is enough for reads). */
async function lrange(key: string): Promise<string[]> {
  const i = await cluster.ownerOf(clusterSlot(Buffer.from(key)));
  return cluster.nodes[i].client().lrange(key, 0, -1);
}

/** A workload of RPUSH n and INCR on `keys` keys, n counting per key: order and count are both checked. */
function workload(keys: number, commands: number, perKey: number[], keyName: (k: number) => string = (k) => `list:${k}`, from = 0): Generator<RedisCommand> {
  let seed = 4242 + from;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 8) % keys;
  return (function* () {
    for (let i = 0; i < commands; i++) {
      const k = rand();
      const n = perKey[k]++;
      yield keyed('RPUSH', keyName(k), [String(n)], binlog(1, (from + i) * 10));
    }
  })();
}

test('cluster: the slot of a key is the one Redis computes, hash tags included; every slot has a tag', async () => {
  const c = cluster.nodes[0].client();
  const keys = ['', 'a', 'user:1000', '{user1}:a', 'x{user1}y', '{}a', 'a{}b{c}', '{a}{b}', 'a{b', 'a}b{', Buffer.from([0xff, 0x00, 0x7b, 0x01, 0x7d]).toString('latin1')];
  for (const k of keys) {
    const key = Buffer.from(k, 'latin1');
    assert.equal(clusterSlot(key), Number(await c.call('CLUSTER', 'KEYSLOT', key)), JSON.stringify(k));
  }
  for (let slot = 0; slot < SLOTS; slot++) assert.equal(clusterSlot(Buffer.from(`pika-migrate:load-guard{${slotTag(slot)}}`)), slot);
  assert.deepEqual(parseRedirect('MOVED 3999 127.0.0.1:6381', '10.0.0.9'), { addr: '127.0.0.1:6381', asking: false });
  assert.deepEqual(parseRedirect('ASK 12 :7002', '10.0.0.9'), { addr: '10.0.0.9:7002', asking: true }, 'no host: the node that answered');
  assert.equal(parseRedirect('TRYAGAIN Multiple keys request during rehashing of slot', '10.0.0.9'), null);
});

test('cluster: every key lands on the master of its slot, each key in order, one sender per master', async () => {
  await flushAll();
  const pool = await poolFor({ batchSize: 64, maxInFlightBatches: 3 });
  try {
    const keys = 300;
    const perKey = new Array<number>(keys).fill(0);
    await submitAll(pool, workload(keys, 30_000, perKey));
    await pool.flush();
    const where = await whereIs();
    assert.equal(where.size, keys);
    for (const [key, node] of where) assert.equal(node, await cluster.ownerOf(clusterSlot(Buffer.from(key))), `${key} on the master of its slot`);
    for (let k = 0; k < keys; k++) {
      assert.deepEqual(await lrange(`list:${k}`), Array.from({ length: perKey[k] }, (_, i) => String(i)), `order of list:${k}`);
    }
    const st = pool.stats();
    assert.equal(st.senders.length, 3);
    for (const s of st.senders) assert.ok(s.acked > 5000, 'every master got its share');
    assert.equal(st.total.acked, 30_000);
    assert.equal(st.possibleRepeats, 0);
    assert.equal(st.redirections, 0);
    assert.deepEqual(pool.appliedPosition(), binlog(1, 299_990));
  } finally {
    await pool.close();
  }
});

test('cluster: multi-key commands run when their keys share a slot and are refused (counted, not sent) otherwise', async () => {
  await flushAll();
  const pool = await poolFor();
  try {
    const a = Buffer.from('{user1}:src');
    const b = Buffer.from('{user1}:dst');
    const x = Buffer.from('plain-a');
    const y = Buffer.from('plain-b');
    assert.notEqual(clusterSlot(x), clusterSlot(y), 'the cross-slot keys really are in different slots');
    const multi = (name: string, args: Buffer[], key: Buffer, seq: number): RedisCommand => ({ name, args, key, barrier: true, pos: snap(seq) });
    await submitAll(pool, [
      keyed('RPUSH', a.toString(), ['1', '2', '3'], snap(0)),
      multi('RPOPLPUSH', [a, b], a, 1),
      keyed('SADD', x.toString(), ['m'], snap(2)),
      multi('SMOVE', [x, y, Buffer.from('m')], x, 3),
      keyed('RPUSH', a.toString(), ['4'], snap(4)),
    ]);
    await pool.flush();
    const c = cluster.nodes[await cluster.ownerOf(clusterSlot(a))].client();
    assert.deepEqual(await c.lrange(a, 0, -1), ['1', '2', '4']);
    assert.deepEqual(await c.lrange(b, 0, -1), ['3']);
    const cx = cluster.nodes[await cluster.ownerOf(clusterSlot(x))].client();
    assert.deepEqual(await cx.smembers(x), ['m'], 'the cross-slot SMOVE was not run');
    const st = pool.stats();
    assert.equal(st.refused, 1);
    assert.equal(st.errors.crossslot, 1);
    assert.deepEqual(pool.appliedPosition(), snap(4), 'a refused command does not hold the position back');
  } finally {
    await pool.close();
  }
});

test('cluster: the list rotation script (RPOP k + LPUSH k v of a 3.5+ master) runs on the master of its key', async () => {
  await flushAll();
  const pool = await poolFor();
  try {
    const k = Buffer.from('rot:one');
    const c = cluster.nodes[await cluster.ownerOf(clusterSlot(k))].client();
    await c.rpush(k, 'a');
    await c.pexpire(k, 100_000);
    await submitAll(pool, [{ name: 'EVAL', args: [LIST_ROTATE_SCRIPT, '1', k, 'a'], key: k, pos: binlog(1, 10) }]);
    await pool.flush();
    assert.deepEqual(pool.stats().errors, {});
    assert.deepEqual(await c.lrange(k, 0, -1), ['a']);
    assert.ok((await c.pttl(k)) > 90_000, 'the one-element list kept its TTL');
  } finally {
    await pool.close();
  }
});

test('cluster: the skip guard works per slot, FLUSHDB and the pattern-delete script run on every master', async () => {
  await flushAll();
  const pool = await poolFor();
  try {
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    for (const k of keys.slice(0, 10)) {
      const n = cluster.nodes[await cluster.ownerOf(clusterSlot(Buffer.from(k)))];
      await n.client().set(k, 'old');
    }
    // conflict-policy skip: a first-and-last chunk of each key, through the guard script.
    await submitAll(
      pool,
      keys.map((k, i) => {
        const key = Buffer.from(k);
        return { name: 'EVAL', args: [GUARDED_WRITE_SCRIPT, '2', key, LOAD_GUARD_KEY, 'skip', 'fl', 'SET', key, 'new'], key, pos: snap(i) };
      }),
    );
    await pool.flush();
    for (const [i, k] of keys.entries()) assert.equal(await cluster.nodes[await cluster.ownerOf(clusterSlot(Buffer.from(k)))].client().get(k), i < 10 ? 'old' : 'new', k);
    assert.equal(pool.stats().keysKept, 10);

    const del: RedisCommand = { name: 'EVAL', args: [DELETE_MATCHING_SCRIPT, '0', 'k1*', '', '0'], key: null, barrier: true, pos: snap(100) };
    await submitAll(pool, [del, keyed('SET', 'after', ['1'], snap(101))]);
    await pool.flush();
    const left = (await cluster.keysPerNode()).flat().map(String).sort();
    assert.deepEqual(left, ['after', ...keys.filter((k) => !k.startsWith('k1'))].sort(), 'k1* deleted on every master, then the next command ran');

    await pool.flushTargetDb();
    assert.deepEqual((await cluster.keysPerNode()).flat(), [], 'every master flushed');
  } finally {
    await pool.close();
  }
});

test('cluster: a hash field value and a list element in pieces are built in a staging key of their key\'s slot and moved in, also under the skip guard', async () => {
  await flushAll();
  const pool = await poolFor();
  try {
    const piece = (key: string, type: 'hash' | 'list', seq: number, i: number, v: string): SnapshotRecord => {
      const base = { db: 0, key: Buffer.from(key), expireAtMs: null, first: i === 0, last: i === 2, pos: snap(seq + i), piece: { offset: 2 * i, total: 5 } };
      return type === 'hash' ? { ...base, type, fields: [[Buffer.from('f'), Buffer.from(v)]] } : { ...base, type, elements: [Buffer.from(v)] };
    };
    const records = (type: 'hash' | 'list', keys: string[], seq: number) => keys.flatMap((k, j) => ['aa', 'bb', 'c'].map((v, i) => piece(k, type, seq + 3 * j, i, v)));
    // Keys of many slots, a hash tag among them; under skip, the existing ones are kept as they are.
    const hashes = ['h:1', 'h:2', 'user:{7}:h', 'h:old'];
    const lists = ['l:1', 'l:{x}', 'l:old'];
    await cluster.nodes[await cluster.ownerOf(clusterSlot(Buffer.from('h:old')))].client().hset('h:old', 'kept', '1');
    await cluster.nodes[await cluster.ownerOf(clusterSlot(Buffer.from('l:old')))].client().rpush('l:old', 'kept');
    const conv = new SnapshotRecordConverter({ nowMs: Date.now, conflict: 'skip' });
    await submitAll(pool, [...records('hash', hashes, 0), ...records('list', lists, 100)].flatMap((r) => conv.convert(r)));
    await pool.flush();
    const c = cluster.client();
    for (const k of hashes) assert.deepEqual(await c.hgetall(k), k === 'h:old' ? { kept: '1' } : { f: 'aabbc' }, k);
    for (const k of lists) assert.deepEqual(await c.lrange(k, 0, -1), k === 'l:old' ? ['kept'] : ['aabbc'], k);
    assert.equal(pool.stats().keysKept, 2);
    const left = (await cluster.keysPerNode()).flat().map(String);
    assert.deepEqual(left.filter((k) => k.startsWith('pika-migrate:')), [], 'no staging key, no guard note left');
  } finally {
    await pool.close();
  }
});

test('cluster: a live reshard of slots while commands stream keeps every key exact and in order', async () => {
  await flushAll();
  const pool = await poolFor({ batchSize: 40, maxInFlightBatches: 4 });
  try {
    // Keys of six slots of master 0, so the reshard moves every one of them under load.
    const slots: number[] = [];
    for (let slot = 0; slots.length < 6; slot += 97) if ((await cluster.ownerOf(slot)) === 0) slots.push(slot);
    const keys: string[] = [];
    for (let i = 0; keys.length < 60; i++) if (slots.includes(clusterSlot(Buffer.from(`rs:${i}`)))) keys.push(`rs:${i}`);
    const perKey = new Array<number>(keys.length).fill(0);
    let producing = true;
    const producer = (async () => {
      let round = 0;
      while (producing || round < 200) {
        await submitAll(pool, workload(keys.length, 200, perKey, (k) => keys[k], round * 200));
        round++;
        await sleep(1);
      }
    })();
    await sleep(100);
    const moved = await cluster.moveSlots(0, 1, slots, 5);
    producing = false;
    await producer;
    await pool.flush();
    assert.ok(moved > 0, 'keys were migrated while commands streamed');
    const where = await whereIs();
    for (const [i, k] of keys.entries()) assert.equal(where.get(k), 1, `${k} (${perKey[i]} commands) now lives on master 1`);
    for (const [i, k] of keys.entries()) {
      assert.deepEqual(await cluster.nodes[1].client().lrange(k, 0, -1), Array.from({ length: perKey[i] }, (_, n) => String(n)), `order of ${k}`);
    }
    const st = pool.stats();
    assert.ok(st.redirections > 0, 'MOVED/ASK were followed');
    assert.equal(st.possibleRepeats, 0, 'redirections alone repeat nothing');
    assert.equal(st.total.queued + st.total.inFlight, 0);
  } finally {
    await pool.close();
  }
});

test('cluster: a master restarting under load: commands wait, then everything lands; repeats are counted', async () => {
  await flushAll();
  const pool = await poolFor({ batchSize: 50 });
  try {
    const keys = 200;
    const last = new Array<number>(keys).fill(-1);
    let i = 0;
    const write = async (n: number): Promise<void> => {
      const cmds: RedisCommand[] = [];
      for (const end = i + n; i < end; i++) {
        const k = i % keys;
        last[k] = i;
        cmds.push(keyed('SET', `bounce:${k}`, [String(i)], binlog(2, i)));
      }
      await submitAll(pool, cmds);
    };
    await write(5000);
    const bounced = cluster.nodes[2].bounce(800);
    await write(20_000);
    await bounced;
    await write(5000);
    await pool.flush();
    await cluster.waitOk();
    for (let k = 0; k < keys; k++) {
      const key = `bounce:${k}`;
      const n = cluster.nodes[await cluster.ownerOf(clusterSlot(Buffer.from(key)))];
      assert.equal(await n.client().get(key), String(last[k]), key);
    }
    const st = pool.stats();
    assert.ok(st.total.reconnects >= 1, 'the sender of the restarted master reconnected');
    assert.ok(st.possibleRepeats >= st.total.lostReplies, 'every command whose reply was lost counts as a possible repeat');
    assert.deepEqual(pool.appliedPosition(), binlog(2, i - 1));
  } finally {
    await pool.close();
  }
});

test('cluster: target-max-ops paces the whole cluster target, and a limiter can be shared', async () => {
  await flushAll();
  const limiter = new RateLimiter(2000, 0);
  const pool = await poolFor({ limiter });
  try {
    const t0 = performance.now();
    await submitAll(pool, Array.from({ length: 1000 }, (_, i) => keyed('SET', `paced:${i}`, ['v'], snap(i))));
    await pool.flush();
    const ms = performance.now() - t0;
    // 2000/s with a 100 ms burst: 1000 commands take at least (1000 - 200) / 2000 s.
    assert.ok(ms >= 380, `paced: ${ms.toFixed(0)} ms`);
    assert.deepEqual(pool.rateLimits, { maxOps: 2000, maxBytes: 0 });
    assert.equal((await cluster.keysPerNode()).flat().length, 1000);
  } finally {
    await pool.close();
  }
});

test('cluster: removeOwnKeys (SLAVEOF NO ONE) deletes the load guards on every master and leaves the data', async () => {
  await flushAll();
  const pool = await poolFor();
  try {
    await submitAll(pool, Array.from({ length: 200 }, (_, i) => keyed('SET', `data:${i}`, ['v'], snap(i))));
    await pool.flush();
    // Guards an interrupted skip/fail load left, one slot per master at least; and the master's canary.
    for (const slot of [0, 6000, 12000, 16383]) {
      const key = `${LOAD_GUARD_KEY}{${slotTag(slot)}}`;
      await cluster.nodes[await cluster.ownerOf(slot)].client().hset(key, 'k', '1');
    }
    const canary = 'pika-migrate:canary';
    await cluster.nodes[await cluster.ownerOf(clusterSlot(Buffer.from(canary)))].client().set(canary, '1');
    assert.equal(await pool.removeOwnKeys(), 4);
    const left = (await cluster.keysPerNode()).flat().map((k) => k.toString());
    assert.equal(left.length, 201);
    assert.deepEqual(left.filter((k) => k.startsWith('pika-migrate:')), [canary]);
  } finally {
    await pool.close();
  }
});

test('cluster: a master that restarts empty after acknowledging commands is a loss (TargetLostWritesError naming it); one that kept its data is not', async () => {
  await flushAll();
  const pool = await poolFor({ batchSize: 50 });
  try {
    let i = 0;
    const write = (n: number): Promise<void> => {
      const cmds: RedisCommand[] = [];
      for (const end = i + n; i < end; i++) cmds.push(keyed('SET', `lost:${i % 300}`, [String(i)], binlog(3, i)));
      return submitAll(pool, cmds);
    };
    await write(3000);
    await pool.flush();
    const fatal = new Promise<Error>((resolve) => pool.once('fatal', resolve));
    const crashed = cluster.nodes[1].crash(300);
    const writing = write(20_000).catch(() => {});
    const e = await Promise.race([fatal, sleep(30_000).then(() => new Error('no fatal error within 30 s'))]);
    await crashed;
    await writing;
    assert.ok(e instanceof TargetLostWritesError, String(e));
    assert.match(e.message, new RegExp(`cluster node 127\\.0\\.0\\.1:${cluster.nodes[1].port} lost writes it had acknowledged: it restarted empty`));
  } finally {
    pool.destroy();
    await cluster.waitOk();
  }
});

test('cluster: holds at most its byte budget across the masters, and a command bigger than it goes alone', async () => {
  await flushAll();
  // By count alone, 3 masters × (4 in flight + 1) × 100 commands: 1500 values of 64 KiB.
  const pool = await poolFor({ batchSize: 100, maxInFlightBytes: 256 << 10 });
  try {
    const value = Buffer.alloc(64 << 10, 'v');
    for (const n of cluster.nodes) await n.client().call('CLIENT', 'PAUSE', '300', 'ALL');
    let accepted = 0;
    let wait: void | Promise<void>;
    while ((wait = pool.submit(keyed('SET', `k:${accepted}`, [value], snap(accepted)))) === undefined) accepted++;
    assert.equal(accepted, 3, 'the producer is told to wait once the held commands outweigh the budget');
    await wait;
    await submitAll(pool, [keyed('SET', 'big', [Buffer.alloc(1 << 20, 'b')], snap(10)), keyed('SET', 'after', ['1'], snap(11))]);
    await pool.flush();
    const owner = cluster.nodes[await cluster.ownerOf(clusterSlot(Buffer.from('big')))].client();
    assert.equal(await owner.strlen('big'), 1 << 20);
    assert.equal(pool.stats().total.acked, 6);
  } finally {
    await pool.close();
  }
});
