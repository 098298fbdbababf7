/**
 * kill -9 of the daemon (its own process, as run in production) at seeded random moments while
 * the test master streams non-idempotent writes (INCR, LPUSH, HINCRBY, ZINCRBY, …). After every
 * kill it is started again with `slaveof` in its conf and resumes from its checkpoint; at the end
 * Redis must equal a reference Redis that ran the original commands once. PM_KILL_SEED=n replays
 * another sequence.
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { BinlogPosition } from '../../src/core/binlog.js';
import { PikaLogger } from '../convert/pika-logger.js';
import { assertSameReads } from '../convert/redis-dump.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { replicaPort, waitFor } from '../replication/support.js';
import { ackedUpTo, copyData, daemonProcess, dataOf, processConf, rng, useKillRig } from './support.js';

const SEED = Number(process.env.PM_KILL_SEED ?? 20261201);
const KILLS = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`kill -9 while streaming (${KILLS} kills, seed ${SEED})`, () => {
  const rig = useKillRig('pm-kill-', () => join(FIXTURES, 'snapshots/3.5.5-base/dump/db0'));

  it('ends with Redis equal to a reference that ran every command once', async () => {
    const { target, ref, master, dir } = rig;
    const random = rng(SEED);
    const port = await replicaPort();
    const d = daemonProcess(dir, port);
    const admin = d.admin;
    const conf = processConf(dir, target, master, {
      'redis-sender-num': 4,
      'sync-batch-num': 20,
    });
    try {
      await d.start('first', conf(false));
      await admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
      await waitFor('incremental', async () => /phase:incremental/.test((await admin.info('migrate')) as string), 30_000);
      // The reference starts from the snapshot as loaded, then runs every client command once.
      const a = ref.client();
      const b = target.client();
      await copyData(b, a);
      const logger = new PikaLogger(a, 'C', '3.5.5');
      let end: BinlogPosition = master.write(['set', 'kill:start', '1']);
      await a.set('kill:start', '1');
      let written = 0;
      let running = true;
      const commands = (i: number): string[][] => [
        ['INCR', `ctr:${i % 20}`],
        ['LPUSH', `list:${i % 10}`, `v${i}`],
        ['HINCRBY', `hash:${i % 5}`, `f${i % 7}`, '1'],
        ['SET', `str:${i % 50}`, `v${i}`],
        ['SADD', 'set', `m${i % 100}`],
        ['ZINCRBY', 'zset', '1', `m${i % 10}`],
        ['RPOPLPUSH', `list:${i % 10}`, `list:${(i + 3) % 10}`],
      ];
      const producing = (async () => {
        for (let i = 0; running; i++) {
          for (const argv of commands(i)) for (const logged of await logger.run(argv)) end = master.write(logged);
          written++;
          if (i % 20 === 0) await sleep(5);
        }
      })();
      for (let k = 0; k < KILLS; k++) {
        await sleep(150 + random() * 700);
        await d.kill();
        await sleep(random() * 200);
        await d.start('resume', conf(true));
      }
      running = false;
      await producing;
      await waitFor('the last entry acked', () => ackedUpTo(master, end)(), 60_000);
      const { expected: want } = await assertSameReads(() => dataOf(b), () => dataOf(a), 2000, `after ${KILLS} kills (seed ${SEED})`);
      const info = (await admin.info('migrate')) as string;
      console.log(`# ${KILLS} kills survived, ${written * 7} commands, ${want.size} keys compared, 0 mismatches; ${/sink_skippedAsApplied:(\d+)/.exec(info)?.[1] ?? '?'} re-sent commands skipped after the last restart`);
      assert.ok(want.size > 100);
    } finally {
      admin.disconnect();
      await d.kill().catch(() => {});
    }
  });
});
