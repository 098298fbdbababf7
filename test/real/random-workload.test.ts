/**
 * Random writes of every type on each real Pika master, some before the snapshot and more while the
 * daemon streams the binlog; then Redis must equal the master (verify: type, value, expiry). A
 * failure names its seed; `PM_SEED=<seed>` replays it.
 */
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { REAL_PIKA_VERSIONS, startRealPika, type RealPika, type RealPikaVersion } from '../helpers/real-pika.js';
import { tempDir } from '../replication/support.js';
import { rng, startDaemon, stopDaemon, untilIncremental, type TestDaemon } from '../daemon/support.js';
import { collidingNamesExactOn, newStats, RandomWorkload, runWorkload, seedOf, type KeyspaceMode } from './random-workload.js';
import { assertExact, untilCaughtUp } from './support.js';

const BEFORE = 2000;
const LIVE = 8000;

function run(version: RealPikaVersion, mode: KeyspaceMode, names: number): void {
  describe(`real Pika ${version}, random workload, ${mode} names`, () => {
    let pika: RealPika;
    let target: RedisServer;
    let dir: string;
    let d: TestDaemon | undefined;

    before(async () => {
      pika = await startRealPika(version);
      target = await startRedis();
      dir = tempDir(`pm-rw-${version}-`);
    });
    after(async () => {
      if (d) await stopDaemon(d);
      await pika?.destroy();
      await target?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('Redis equals the master after the snapshot and the live binlog', async () => {
      const seed = seedOf();
      const stats = newStats();
      const context = () => `${version} ${mode} seed ${seed} (replay: PM_SEED=${seed}); sent ${JSON.stringify(stats.sent)}; master errors ${JSON.stringify(stats.errors)}`;
      const w = new RandomWorkload(rng(seed), { version, mode, names });
      const c = pika.client();
      await runWorkload(c, w, BEFORE, stats);
      d = await startDaemon(target, dir);
      await d.admin.call('SLAVEOF', '127.0.0.1', String(pika.port), 'force');
      // Half while the snapshot is taken and loaded (spooled), half once it streams live.
      await runWorkload(c, w, LIVE / 2, stats);
      await untilIncremental(d, 60_000);
      await runWorkload(c, w, LIVE / 2, stats);
      await untilCaughtUp(pika, d, 30_000).catch((e: Error) => {
        throw new Error(`${e.message}; ${context()}`);
      });
      await assertExact(pika, target, dir, context());
    });
  });
}

for (const version of REAL_PIKA_VERSIONS) run(version, 'per-type', 8);
for (const version of collidingNamesExactOn()) run(version, 'colliding', 10);
