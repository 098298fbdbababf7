/**
 * A load stopped half-way on a family D (4.0) master resumes at its watermark key (the reader seeks
 * the instances' meta CFs) and ends with Redis holding exactly the dump.
 *
 * A load resumed after kill -9 under `conflict-policy : skip`: keys the target held before the
 * load (a string, a big list, a hash, a zset of the dump's names) must stay exactly as they were,
 * and every other key must arrive exactly once, although kills land while keys are half written
 * and the guard notes (pika-migrate:load-guard) are in flight. PM_KILL_SEED=n replays another
 * sequence.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import type { Checkpoint } from '../../src/ops/checkpoint.js';
import { MsgType } from '../../src/replication/messages.js';
import { assertRedisHoldsExpected } from '../helpers/expected-redis.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { loadExpected } from '../pika/expected.js';
import { assertSameContents } from '../convert/redis-dump.js';
import { writePikaDump, type KeyDesc } from '../pika/pika-dump-writer.js';
import { replicaPort, waitFor } from '../replication/support.js';
import { daemonProcess, dataOf, processConf, rng, startAll, startDaemon, stopDaemon, type TestDaemon, untilIncremental, useKillRig } from './support.js';

const SEED = Number(process.env.PM_KILL_SEED ?? 20261203);
const KILLS = 6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function dumpKeys(): KeyDesc[] {
  const keys: KeyDesc[] = [];
  // Few single-command keys: most kills must land while a key's several commands are under way.
  for (let i = 0; i < 200; i++) keys.push({ name: `s:${i}`, type: 'string', value: `v${i}` });
  for (let i = 0; i < 150; i++) keys.push({ name: `h:${i}`, type: 'hash', value: Object.fromEntries(Array.from({ length: 50 }, (_, f) => [`f${f}`, `${i}.${f}`])) });
  for (let i = 0; i < 150; i++) keys.push({ name: `l:${i}`, type: 'list', value: Array.from({ length: 90 }, (_, e) => `e${i}.${e}`) });
  for (let i = 0; i < 60; i++) keys.push({ name: `z:${i}`, type: 'zset', value: Array.from({ length: 30 }, (_, m) => [`m${m}`, String(m)]) });
  return keys;
}

describe(`conflict-policy skip across kill -9 during the load (${KILLS} kills, seed ${SEED})`, () => {
  const rig = useKillRig('pm-resume-load-', (dir) => {
    mkdirSync(join(dir, 'dump'));
    return writePikaDump({ family: 'A-C', keys: dumpKeys() }, join(dir, 'dump'));
  });

  it('keeps what the target held, and loads every other key exactly once', async () => {
    const { target, ref, master, dir } = rig;
    const random = rng(SEED);
    const t = target.client();
    const a = ref.client();
    // The target's own keys, spread over the load's order (strings, hashes, lists, zsets).
    for (const c of [t, a]) {
      await c.set('s:70', 'mine');
      await c.hset('h:60', 'mine', '1');
      await c.rpush('l:40', 'mine');
      await c.rpush('l:99', 'mine', 'too');
      await c.zadd('z:30', '5', 'mine');
    }
    const kept = new Set(['s:70', 'h:60', 'l:40', 'l:99', 'z:30']);
    const p = a.pipeline();
    for (const k of dumpKeys()) {
      if (kept.has(k.name)) continue;
      if (k.type === 'string') p.set(k.name, k.value as string);
      else if (k.type === 'hash') p.hset(k.name, k.value as Record<string, string>);
      else if (k.type === 'list') p.rpush(k.name, ...(k.value as string[]));
      else p.zadd(k.name, ...(k.value as Array<[string, string]>).flatMap(([m, s]) => [s, m]));
    }
    await p.exec();
    const d = daemonProcess(dir, await replicaPort());
    const conf = processConf(dir, target, master, {
      'redis-sender-num': 3,
      'sync-batch-num': 20,
      'conflict-policy': 'skip',
      'target-max-ops': 300,
    });
    const stages: string[] = [];
    try {
      await d.start('first', conf(false));
      await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
      await waitFor('loading', async () => (await d.stage()) === 'load', 30_000);
      for (let k = 0; k < KILLS; k++) {
        await sleep(400 + random() * 1000);
        stages.push(await d.stage());
        await d.kill();
        await d.start('resume', conf(true));
      }
      await waitFor('live', async () => (await d.stage()) === 'live', 60_000);
      const got = await dataOf(t);
      const want = await dataOf(a);
      const guard = await t.hlen('pika-migrate:load-guard');
      console.log(`# ${KILLS} kills (${stages.join(',')}), ${want.size} keys compared, ${kept.size} kept as the target had them, guard notes left ${guard}`);
      assertSameContents(got, want, 0, `after ${KILLS} kills (seed ${SEED}, ${stages.join(',')})`);
      assert.equal(guard, 0, 'every guard note was closed by its key\'s last command');
      assert.ok(stages.filter((s) => s === 'load').length >= 3, `kills during the load: ${stages.join(',')}`);
      assert.equal(master.requests.filter((q) => q.type === MsgType.DBSync).length, 1, 'no second full sync');
    } finally {
      d.admin.disconnect();
      await d.kill().catch(() => {});
    }
  });
});

describe('a stopped load of a family D (4.0.1) master resumes at its watermark', () => {
  it('stops half-way, resumes without a second snapshot, and Redis holds exactly the dump', async () => {
    const { target, master, dir, d, done } = await startAll('D', '4.0.1', { 'target-max-ops': '1500', 'sync-batch-num': '5' });
    let d2: TestDaemon | null = null;
    try {
      await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
      await waitFor('loading', async () => Number((await d.info('migrate')).get('load_keys') ?? 0) > 100, 30_000);
      d.admin.disconnect();
      await d.daemon.stop('test');
      assert.equal(await d.daemon.exited, 0);
      const cp = JSON.parse(readFileSync(join(dir, 'dbsync', 'pika-migrate-db0.checkpoint.json'), 'utf8')) as Checkpoint;
      assert.equal(cp.load?.done, false, 'stopped during the load');
      assert.ok((cp.load?.from?.seq ?? 0) > 0, 'the watermark moved');
      // A target that lost what the load wrote (flushed, replaced) is not resumed into.
      const c = target.client();
      const hash = await c.hgetall('pika-migrate:applied');
      await c.del('pika-migrate:applied');
      await assert.rejects(
        startDaemon(target, dir, { slaveof: `127.0.0.1:${master.port}`, 'target-max-ops': '1500', 'sync-batch-num': '5' }),
        /cannot be resumed: the target 127\.0\.0\.1:\d+\/0 no longer holds pika-migrate:applied .* force loads a new snapshot/,
      );
      await c.hset('pika-migrate:applied', hash);
      d2 = await startDaemon(target, dir, { slaveof: `127.0.0.1:${master.port}`, 'target-max-ops': '1500', 'sync-batch-num': '5' });
      await untilIncremental(d2);
      const n = await assertRedisHoldsExpected(c, loadExpected(join(FIXTURES, 'snapshots/4.0.1-base/expected.json')), { nowMs: Date.now(), expirySlackMs: 50 });
      const keys = (await c.keys('*')).filter((k) => !k.startsWith('pika-migrate:'));
      assert.equal(keys.length, n, 'no key beyond expected.json');
      assert.equal(master.requests.filter((q) => q.type === MsgType.DBSync).length, 1, 'no second snapshot');
      console.log(`# resumed at record ${cp.load?.from?.seq} (${cp.load?.from?.type} key ${Buffer.from(cp.load?.from?.keyHex ?? '', 'hex').toString()}); ${n} keys compared`);
    } finally {
      if (d2 !== null) await stopDaemon(d2);
      await done();
    }
  });
});
