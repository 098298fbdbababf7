/** Shared by the real-master tests: has the daemon caught up with the master, and does Redis match it. */
import { strict as assert } from 'node:assert';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildConfig } from '../../src/config/load.js';
import { verify, verifyOptionsOf } from '../../src/daemon/verify.js';
import { totalDifferences, type VerifySummary } from '../../src/verify/summary.js';
import { after, before } from 'node:test';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startRealPika, type RealPika, type RealPikaVersion } from '../helpers/real-pika.js';
import { tempDir, testLogger } from '../replication/support.js';
import { stopDaemon, type TestDaemon } from '../daemon/support.js';

/** `db0 binlog_offset=F O` (3.2.7) or `db0:binlog_offset=F O` (3.5+, and the daemon's own space form). */
export function binlogOffsetOf(info: string, db = 0): string | null {
  const m = new RegExp(`^db${db}[ :]binlog_offset=(\\d+) (\\d+)`, 'm').exec(info);
  return m === null ? null : `${m[1]} ${m[2]}`;
}

/** Until the daemon reports as applied the master's own binlog offset (the end of its last entry). */
export async function untilCaughtUp(pika: RealPika, d: TestDaemon, timeoutMs: number): Promise<void> {
  const c = pika.client();
  const deadline = Date.now() + timeoutMs;
  let master: string | null = null;
  let ours: string | null = null;
  for (;;) {
    master = binlogOffsetOf((await c.info('replication')) as string);
    ours = binlogOffsetOf((await d.admin.info('replication')) as string);
    if (master !== null && master === ours) return;
    if (Date.now() > deadline) assert.fail(`the daemon did not catch up within ${timeoutMs} ms: master at ${master}, daemon applied ${ours}`);
    await sleep(100);
  }
}

/**
 * Verifies Redis against the master (the daemon's conf: target, slaveof), again until `timeoutMs`
 * while differences remain; fails with the counts, the first differences and `context` (the seed).
 */
export async function assertExact(pika: RealPika, target: RedisServer, dir: string, context: string, timeoutMs = 10_000): Promise<VerifySummary> {
  const conf = buildConfig('real.conf', [
    { key: 'target-redis-port', value: String(target.port), where: 'real.conf:1' },
    { key: 'slaveof', value: `127.0.0.1:${pika.port}`, where: 'real.conf:2' },
  ]);
  const report = join(dir, 'verify-report.jsonl');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // EXPIRE reaches the binlog as whole seconds taken a few ms before the master's own expiry
    // (4.0.1 keeps ms): the copy's expiry may be up to 1 s + those ms early.
    const r = await verify(verifyOptionsOf(conf, { report, maxDiffs: '20', ttlTolerance: '1100' }, testLogger()));
    if (totalDifferences(r) === 0) return r;
    if (Date.now() > deadline) {
      const first = readFileSync(report, 'utf8').split('\n').slice(0, 10).join('\n');
      assert.fail(`${context}: Redis differs from the master: ${JSON.stringify(r.differences)}, compared ${JSON.stringify(r.compared)}\n${first}`);
    }
    await sleep(500);
  }
}

/** What a real-master test runs against: the master, a target Redis, a work dir, and the daemon once started. */
export interface RealRig {
  pika: RealPika;
  target: RedisServer;
  dir: string;
  d: TestDaemon | undefined;
}

/**
 * Registers, in the calling describe (or file), the before/after hooks that start a real Pika
 * `version`, a target Redis and a work dir, then run `prepare` (fill the master, start the daemon
 * into `rig.d`), and stop all of them afterwards; the fields are set once `before` has run.
 */
export function useRealRig(version: RealPikaVersion, prefix: string, prepare: (rig: RealRig) => Promise<void> = async () => {}): RealRig {
  const rig = { d: undefined } as RealRig;
  before(async () => {
    rig.pika = await startRealPika(version);
    rig.target = await startRedis();
    rig.dir = tempDir(prefix);
    await prepare(rig);
  });
  after(async () => {
    if (rig.d) await stopDaemon(rig.d);
    await rig.pika?.destroy();
    await rig.target?.stop();
    if (rig.dir) rmSync(rig.dir, { recursive: true, force: true });
  });
  return rig;
}
