/**
 * Random writes of every type on each real Pika master, some before the snapshot and more while the
 * daemon streams the binlog; then Redis must equal the master (verify: type, value, expiry). A
 * failure names its seed; `PM_SEED=<seed>` replays it.
 */
import { describe, it } from 'node:test';
import { REAL_PIKA_VERSIONS, type RealPikaVersion } from '../helpers/real-pika.js';
import { rng, startDaemon, untilIncremental } from '../daemon/support.js';
import { collidingNamesExactOn, newStats, RandomWorkload, runWorkload, seedOf, type KeyspaceMode } from './random-workload.js';
import { assertExact, untilCaughtUp, useRealRig } from './support.js';

const BEFORE = 2000;
const LIVE = 8000;

function run(version: RealPikaVersion, mode: KeyspaceMode, names: number): void {
  describe(`real Pika ${version}, random workload, ${mode} names`, () => {
    const rig = useRealRig(version, `pm-rw-${version}-`);

    it('Redis equals the master after the snapshot and the live binlog', async (t) => {
      const { pika, target, dir } = rig;
      const seed = seedOf();
      const stats = newStats();
      const context = () => `${version} ${mode} seed ${seed} (replay: PM_SEED=${seed}); sent ${JSON.stringify(stats.sent)}; master errors ${JSON.stringify(stats.errors)}`;
      const w = new RandomWorkload(rng(seed), { version, mode, names });
      const c = pika.client();
      await runWorkload(c, w, BEFORE, stats);
      const d = (rig.d = await startDaemon(target, dir));
      await d.admin.call('SLAVEOF', '127.0.0.1', String(pika.port), 'force');
      // Half while the snapshot is taken and loaded (spooled), half once it streams live.
      await runWorkload(c, w, LIVE / 2, stats);
      await untilIncremental(d, 60_000);
      await runWorkload(c, w, LIVE / 2, stats);
      await untilCaughtUp(pika, d, 30_000).catch((e: Error) => {
        throw new Error(`${e.message}; ${context()}`);
      });
      const r = await assertExact(pika, target, dir, context());
      // The seed and what it sent, for the record of a passing run too.
      t.diagnostic(`${context()}; compared ${JSON.stringify(r.compared)}`);
    });
  });
}

for (const version of REAL_PIKA_VERSIONS) run(version, 'per-type', 8);
for (const version of collidingNamesExactOn()) run(version, 'colliding', 10);
