/**
 * kill -9 of the daemon (its own process) at seeded random moments during the snapshot load,
 * during the replay of the binlog spooled meanwhile, and while streaming live; after every kill it
 * is started again with `slaveof` in its conf and resumes where it stopped (no second full sync).
 * The snapshot is big enough to be killed in (many keys; hashes, lists, sets and zsets cut into
 * several commands) and the load is slowed by target-max-ops, so that kills land in each phase.
 * At the end Redis must equal a reference Redis that holds the snapshot's keys and ran the
 * original commands (INCR, LPUSH, HINCRBY, RPOPLPUSH, … onto snapshot keys too) once.
 * PM_KILL_SEED=n replays another sequence.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { BinlogPosition } from '../../src/core/binlog.js';
import { PikaLogger } from '../convert/pika-logger.js';
import { assertSameContents } from '../convert/redis-dump.js';
import { MsgType } from '../../src/replication/messages.js';
import { writePikaDump, type KeyDesc } from '../pika/pika-dump-writer.js';
import { replicaPort, waitFor } from '../replication/support.js';
import { ackedUpTo, daemonProcess, dataOf, infoFields, processConf, rng, useKillRig, writeReference } from './support.js';

const SEED = Number(process.env.PM_KILL_SEED ?? 20261202);
const MIN_KILLS = 20;
/** Kills wanted in each phase (at least); the run goes on past MIN_KILLS until live has its share. */
const PER_PHASE = 3;
const MAX_KILLS = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Phase = Awaited<ReturnType<ReturnType<typeof daemonProcess>['stage']>>;

/** The snapshot: every type, big keys in several chunks (sync-batch-num 20), some with an expiry. */
function snapshotKeys(nowMs: number): KeyDesc[] {
  const keys: KeyDesc[] = [];
  const later = Math.floor(nowMs / 1000) * 1000 + 3_600_000;
  for (let i = 0; i < 3000; i++) keys.push({ name: `s:${i}`, type: 'string', value: `v${i}`, ...(i % 10 === 0 ? { expireAt: later } : {}) });
  for (let i = 0; i < 20; i++) keys.push({ name: `ctr:${i}`, type: 'string', value: String(i * 100) });
  for (let i = 0; i < 200; i++) keys.push({ name: `h:${i}`, type: 'hash', value: Object.fromEntries(Array.from({ length: 50 }, (_, f) => [`f${f}`, String(i * 100 + f)])) });
  for (let i = 0; i < 120; i++) keys.push({ name: `l:${i}`, type: 'list', value: Array.from({ length: 90 }, (_, e) => `e${i}.${e}`), ...(i % 7 === 0 ? { expireAt: later } : {}) });
  for (let i = 0; i < 150; i++) keys.push({ name: `set:${i}`, type: 'set', value: Array.from({ length: 30 }, (_, m) => `m${m}`) });
  for (let i = 0; i < 150; i++) keys.push({ name: `z:${i}`, type: 'zset', value: Array.from({ length: 30 }, (_, m) => [`m${m}`, String(m + i / 10)]) });
  return keys;
}

describe(`kill -9 during snapshot load, spool replay and live streaming (≥ ${MIN_KILLS} kills, seed ${SEED})`, () => {
  let keys: KeyDesc[] = [];
  const rig = useKillRig('pm-kill-load-', (dir) => {
    const now = Date.now();
    keys = snapshotKeys(now);
    mkdirSync(join(dir, 'dump'));
    return writePikaDump({ family: 'A-C', keys }, join(dir, 'dump'), now);
  });

  it('ends with Redis equal to the reference, every INCR/LPUSH counted once', async () => {
    const { target, ref, master, dir } = rig;
    const random = rng(SEED);
    const port = await replicaPort();
    const d = daemonProcess(dir, port);
    const conf = processConf(dir, target, master, {
      'redis-sender-num': 4,
      'sync-batch-num': 20,
      // Slow enough that a load of ~5000 commands spans several kills, fast enough to catch up.
      'target-max-ops': 800,
    });
    const admin = d.admin;
    const phase = () => d.stage();
    const kills: Record<Phase, number> = { load: 0, replay: 0, live: 0, other: 0 };
    const log: string[] = [];
    let total = 0;
    try {
      await d.start('first', conf(false));
      await admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
      // The snapshot is fixed once BinlogSync starts after it: from here the writes are binlog only.
      await waitFor('BinlogSync active', () => master.events.some((e) => e.kind === 'activate'), 30_000);
      const a = ref.client();
      await writeReference(a, keys);
      const logger = new PikaLogger(a, 'C', '3.5.5');
      let end: BinlogPosition = master.write(['set', 'kill:start', '1']);
      await a.set('kill:start', '1');
      let written = 0;
      let running = true;
      const commands = (i: number): string[][] => [
        ['INCR', `ctr:${i % 20}`],
        ['LPUSH', `l:${i % 30}`, `v${i}`],
        ['LPUSH', `new:list:${i % 10}`, `v${i}`],
        ['HINCRBY', `h:${i % 40}`, `f${i % 7}`, '1'],
        ['SET', `s:${i % 500}`, `w${i}`],
        ['SADD', `set:${i % 50}`, `n${i % 100}`],
        ['ZINCRBY', `z:${i % 25}`, '1', `m${i % 10}`],
        ['RPOPLPUSH', `l:${i % 30}`, `l:${(i + 3) % 30}`],
      ];
      // Fast while the snapshot loads, so that the spool to replay spans several kills; then about
      // 130 commands a second, well below target-max-ops, so that the replay catches up.
      let loading = true;
      const producing = (async () => {
        for (let i = 0; running; i++) {
          for (const argv of commands(i)) for (const logged of await logger.run(argv)) end = master.write(logged);
          written++;
          await sleep(loading ? 15 : 60);
        }
      })();
      const enough = () => total >= MIN_KILLS && kills.load >= PER_PHASE && kills.replay >= PER_PHASE && kills.live >= PER_PHASE;
      while (!enough() && total < MAX_KILLS) {
        // Loading and replaying: some waits longer than the checkpoint's 1 s period, so that its
        // watermark moves as well as the applied hash (either alone makes progress).
        const before = await phase();
        await sleep(before === 'live' ? 200 + random() * 600 : 300 + random() * 1200);
        const at = await phase();
        loading = at === 'load' || at === 'other';
        await d.kill();
        kills[at]++;
        total++;
        log.push(at);
        await sleep(random() * 150);
        await d.start('resume', conf(true));
      }
      running = false;
      await producing;
      await waitFor('the last entry acked', () => ackedUpTo(master, end)(), 90_000);
      await waitFor('live', async () => (await phase()) === 'live', 30_000);
      const got = await dataOf(target.client());
      const want = await dataOf(a);
      let mismatches = 0;
      for (const [k, w] of want) if (JSON.stringify(got.get(k)?.value) !== JSON.stringify(w.value)) mismatches++;
      const m = infoFields((await admin.info('migrate')) as string);
      const dbSyncs = master.requests.filter((q) => q.type === MsgType.DBSync).length;
      console.log(
        `# ${total} kills (load ${kills.load}, replay ${kills.replay}, live ${kills.live}, other ${kills.other}; sequence ${log.join(',')}), ` +
          `${written * commands(0).length} client commands, ${want.size} keys compared, ${mismatches} mismatches, ${dbSyncs} DBSync, ` +
          `${m.get('sink_skippedAsApplied') ?? '?'} re-sent commands skipped after the last restart`,
      );
      // Both hold the same absolute expiries; the slack covers the seconds between the two dumps.
      assertSameContents(got, want, 10_000, `after ${total} kills (seed ${SEED}, phases ${log.join(',')})`);
      assert.equal(mismatches, 0);
      assert.equal(dbSyncs, 1, 'one full sync: every interrupted load resumed instead of starting over');
      assert.ok(total >= MIN_KILLS);
      for (const p of ['load', 'replay', 'live'] as const) assert.ok(kills[p] >= PER_PHASE, `${kills[p]} kills during ${p} (${log.join(',')})`);
      assert.ok(want.size > 3500);
    } finally {
      admin.disconnect();
      await d.kill().catch(() => {});
    }
  });
});
