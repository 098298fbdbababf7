/** Shared by the verify tests: a Redis loaded from a real dump by the migration's own loader, and a test master serving what that Pika held. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildConfig, type Config } from '../../src/config/load.js';
import { offlineLoad } from '../../src/daemon/offline-load.js';
import { verify, verifyOptionsOf, type VerifyFlags } from '../../src/daemon/verify.js';
import type { VerifySummary } from '../../src/verify/summary.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { FakeMaster, type MasterFamily } from '../master/fake-master.js';
import { PikaKeyspace } from '../master/pika-keyspace.js';
import { loadExpected } from '../pika/expected.js';
import { tempDir, testLogger } from '../replication/support.js';

export function confOf(entries: Record<string, string>): Config {
  return buildConfig('verify.conf', Object.entries(entries).map(([key, value], i) => ({ key, value, where: `verify.conf:${i + 1}` })));
}

export interface Setup {
  readonly target: RedisServer;
  readonly master: FakeMaster;
  readonly keyspace: PikaKeyspace;
  readonly dir: string;
  /** Conf entries pointing at both (plus the `extra` given to `setup`). */
  readonly conf: Record<string, string>;
  run(flags?: VerifyFlags, extra?: Record<string, string>): Promise<VerifySummary>;
  done(): Promise<void>;
}

/**
 * `version`'s real dump loaded into a fresh Redis by `pika-migrate load` (with `extra` conf: type
 * order, filters), and a test master whose client port serves the same data as that Pika answered
 * it (expected.json).
 */
export async function setup(family: MasterFamily, version: string, extra: Record<string, string> = {}, masterOpts: { requirepass?: string } = {}): Promise<Setup> {
  const target = await startRedis();
  const dir = tempDir('pm-verify-');
  const base = { 'target-redis-port': String(target.port), 'log-path': join(dir, 'log'), ...extra };
  const snapshot = join(FIXTURES, `snapshots/${version}-base/dump/db0`);
  await offlineLoad(snapshot, confOf(base), testLogger(), new AbortController().signal);
  const keyspace = PikaKeyspace.fromExpected(loadExpected(join(FIXTURES, `snapshots/${version}-base/expected.json`)), family);
  const master = new FakeMaster({ family, version, snapshotSource: snapshot, keyspace, ...masterOpts });
  await master.start();
  const conf = { ...base, slaveof: `127.0.0.1:${master.port}` };
  return {
    target,
    master,
    keyspace,
    dir,
    conf,
    run: (flags = {}, more = {}) => verify(verifyOptionsOf(confOf({ ...conf, ...more }), flags, testLogger())),
    async done() {
      await master.stop();
      await target.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Names of expected.json that are live now, and how many (name, type) pairs they hold. */
export function liveNames(version: string, nowMs = Date.now()): { names: number; pairs: number; multi: number } {
  const exp = loadExpected(join(FIXTURES, `snapshots/${version}-base/expected.json`));
  const live = Object.values(exp.keys).filter((k) => k.expireAt === null || k.expireAt > nowMs);
  return { names: live.length, pairs: live.reduce((n, k) => n + Object.keys(k.types).length, 0), multi: live.filter((k) => Object.keys(k.types).length > 1).length };
}
