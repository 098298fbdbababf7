/**
 * kill -9 of the daemon (its own process, as run in production) against a real Pika master:
 * during the snapshot transfer (3.2–3.4: the master pushes into our rsync daemon, which must die
 * with us and be bindable again), during the load, and while streaming with a writer running
 * against the master. After each kill the daemon is started again with `slaveof` in its conf and
 * must end with Redis equal to the master (`verify`: 0 differences, non-idempotent writes counted
 * once). Every real master by default; PM_KILL_VERSIONS=3.2.7 (a comma list) runs fewer.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { buildConfig } from '../../src/config/load.js';
import { verify, verifyOptionsOf } from '../../src/daemon/verify.js';
import { staleProcesses } from '../../src/replication/tied-process.js';
import { totalDifferences } from '../../src/verify/summary.js';
import { daemonProcess, infoFields, rng } from '../daemon/support.js';
import { startRedis } from '../helpers/redis.js';
import { REAL_PIKA_VERSIONS, startRealPika, type RealPika, type RealPikaVersion } from '../helpers/real-pika.js';
import { replicaPort, tempDir, testLogger, waitFor } from '../replication/support.js';

const VERSIONS = (process.env.PM_KILL_VERSIONS ?? REAL_PIKA_VERSIONS.join(',')).split(',') as RealPikaVersion[];
const SEED = Number(process.env.PM_KILL_SEED ?? 20261206);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ~30k keys of every type, by pipelines: a transfer and a load that take a second or two. */
async function fill(c: Redis): Promise<void> {
  for (let base = 0; base < 25_000; base += 1000) {
    const p = c.pipeline();
    for (let i = base; i < base + 1000; i++) p.set(`s:${i}`, `value-${i}-${'x'.repeat(40)}`);
    await p.exec();
  }
  for (let base = 0; base < 1000; base += 200) {
    const p = c.pipeline();
    for (let i = base; i < base + 200; i++) {
      p.hset(`h:${i}`, Object.fromEntries(Array.from({ length: 10 }, (_, f) => [`f${f}`, `${i}.${f}`])));
      p.rpush(`l:${i}`, ...Array.from({ length: 10 }, (_, e) => `e${e}`));
      p.sadd(`set:${i}`, ...Array.from({ length: 10 }, (_, m) => `m${m}`));
      p.zadd(`z:${i}`, ...Array.from({ length: 10 }, (_, m) => [String(m), `m${m}`]).flat());
    }
    await p.exec();
  }
  await c.expire('s:1', 3600);
}

/** Non-idempotent writes onto old and new keys, until `running()` says stop. */
async function write(c: Redis, running: () => boolean): Promise<number> {
  let n = 0;
  for (let i = 0; running(); i++) {
    const p = c.pipeline();
    p.incr(`w:ctr:${i % 50}`);
    p.lpush(`l:${i % 1000}`, `w${i}`);
    p.hincrby(`h:${i % 1000}`, 'n', 1);
    p.sadd(`set:${i % 1000}`, `w${i}`);
    p.zincrby(`z:${i % 1000}`, 1, 'm1');
    p.set(`s:${(i * 7) % 25_000}`, `w${i}`);
    if (i % 10 === 0) p.del(`s:${(i * 13) % 25_000}`);
    await p.exec();
    n++;
    await sleep(3);
  }
  return n;
}

for (const version of VERSIONS) {
  describe(`kill -9 of the daemon against a real Pika ${version}`, () => {
    let pika: RealPika;
    const random = rng(SEED);
    /** 3.2–3.4 push into our rsync daemon; 3.5+ serve a pull. */
    const pushed = version.startsWith('3.2');

    before(async () => {
      // Slow transfers, long enough to be killed in: 3.2 pushes at db-sync-speed MB/s, 3.5+ serve at throttle-bytes-per-second.
      pika = await startRealPika(version, { conf: pushed ? { 'db-sync-speed': 1 } : { 'throttle-bytes-per-second': 1_048_576 } });
      await fill(pika.client());
    });
    after(async () => {
      await pika?.destroy();
    });

    /** A target, a work dir and a daemon process following the master from its conf; `done` undoes them. */
    async function rig(extra: Record<string, string | number> = {}) {
      const target = await startRedis();
      const work = tempDir(`pm-kill-${version}-`);
      const port = await replicaPort();
      const d = daemonProcess(work, port);
      const conf = {
        'db-sync-path': join(work, 'dbsync'),
        'log-path': join(work, 'log'),
        'log-format': 'json',
        'log-level': 'warn',
        'target-redis-port': target.port,
        'redis-sender-num': 4,
        'sync-batch-num': 50,
        slaveof: `127.0.0.1:${pika.port}`,
        ...extra,
      };
      const info = async (section: string) => infoFields(((await d.admin.info(section).catch(() => '')) as string) ?? '');
      const live = () =>
        waitFor('incremental with the link up', async () => (await d.stage()) === 'live' && (await info('replication')).get('master_link_status') === 'up', 90_000);
      const matches = async () => {
        const vc = buildConfig('kill.conf', [
          { key: 'target-redis-port', value: String(target.port), where: 'kill.conf:1' },
          { key: 'slaveof', value: `127.0.0.1:${pika.port}`, where: 'kill.conf:2' },
        ]);
        let last = '';
        await waitFor(
          'Redis equal to the master',
          async () => {
            const r = await verify(verifyOptionsOf(vc, {}, testLogger()));
            last = JSON.stringify({ differences: r.differences, compared: r.compared });
            return totalDifferences(r) === 0 && r.compared.string > 20_000;
          },
          60_000,
        ).catch((e: Error) => assert.fail(`${e.message}: ${last}`));
      };
      const done = async () => {
        d.admin.disconnect();
        await d.kill().catch(() => {});
        await target.stop();
        rmSync(work, { recursive: true, force: true });
      };
      return { target, work, d, conf, info, live, matches, done };
    }

    it('during the snapshot transfer: the restart gets a whole snapshot', async () => {
      // 3.2 loads type dirs while it pushes: a kill after the first one is complete leaves a load
      // without its offset, which a restart takes over only when the target is flushed first.
      const r = await rig(pushed ? { 'target-flush-on-full-sync': 'yes' } : {});
      try {
        await r.d.start('first', r.conf);
        const db0 = join(r.work, 'dbsync', 'db0');
        const arrived = () => {
          try {
            return readdirSync(db0).some((t) => statSync(join(db0, t)).isDirectory() && readdirSync(join(db0, t)).length > 0);
          } catch {
            return false;
          }
        };
        // A pushes `info` last; C/D pull it in any order but keep DUMP_META_DATA until done.
        const unfinished = () => (pushed ? !existsSync(join(db0, 'info')) : existsSync(join(db0, 'DUMP_META_DATA')));
        await waitFor('the first snapshot files', arrived, 60_000);
        await r.d.kill();
        assert.ok(unfinished(), 'the kill landed after the transfer');
        if (pushed) {
          // Our rsync daemon went with us (setpriv --pdeathsig), before any restart could clean up.
          const rsync = join(r.work, 'dbsync/rsync');
          const left = () => staleProcesses(join(rsync, 'slash_rsync.pid'), 'rsync', `--config=${join(rsync, 'slash_rsync.conf')}`);
          await waitFor('no rsync daemon of the killed process', () => left().length === 0, 2000);
        }
        await r.d.start('restart', r.conf);
        await r.live();
        await r.matches();
        if (pushed) {
          // The daemon the real master pushed into: confined as README's Security notes say.
          const conf = readFileSync(join(r.work, 'dbsync/rsync/slash_rsync.conf'), 'utf8');
          for (const line of ['hosts allow = 127.0.0.1', 'write only = yes', 'munge symlinks = yes', 'filter = + /db[0-9]*/*** - *']) {
            assert.ok(conf.split('\n').includes(line), `${line} in\n${conf}`);
          }
          if (process.getuid?.() === 0) {
            assert.match(conf, /^use chroot = yes$/m);
            assert.doesNotMatch(conf, /^uid = 0$/m, 'the transfer ran as root');
          }
        }
      } finally {
        await r.done();
      }
    });

    it('during the load: the restart resumes it', async () => {
      // ~30k commands at 10k/s: a load of about three seconds; 3.2 loads while it pushes (its
      // offset comes last, and a load is resumable only once it has it): 3k/s outlasts the push.
      const r = await rig({ 'target-max-ops': pushed ? 3_000 : 10_000 });
      try {
        await r.d.start('first', r.conf);
        await waitFor(
          'the load under way, with its binlog offset',
          async () => {
            const m = await r.info('migrate');
            return Number(m.get('load_keys') ?? 0) > 3000 && m.has('spool_stage');
          },
          60_000,
        );
        await r.d.kill();
        await r.d.start('restart', r.conf);
        await r.live();
        await r.matches();
      } finally {
        await r.done();
      }
    });

    it('while streaming with a writer on the master: every write lands once', async () => {
      const r = await rig();
      try {
        await r.d.start('first', r.conf);
        await r.live();
        let running = true;
        const writing = write(pika.client(), () => running);
        try {
          for (let k = 0; k < 3; k++) {
            await sleep(300 + random() * 700);
            await r.d.kill();
            await sleep(random() * 300);
            await r.d.start(`restart${k}`, r.conf);
            await r.live();
          }
        } finally {
          running = false;
        }
        const batches = await writing;
        assert.ok(batches > 50, `only ${batches} write batches`);
        await r.matches();
      } finally {
        await r.done();
      }
    });
  });
}
