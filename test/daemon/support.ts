/** Shared by the daemon tests: a daemon started in-process from conf entries, with an admin client. */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import type { BinlogPosition } from '../../src/core/binlog.js';
import { buildConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon/daemon.js';
import type { Logger } from '../../src/core/log.js';
import { dumpRedis, type DumpedKey } from '../convert/redis-dump.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { FakeMaster, type FakeMasterOptions, type MasterFamily } from '../master/fake-master.js';
import type { KeyDesc } from '../pika/pika-dump-writer.js';
import { replicaPort, tempDir, testLogger, waitFor } from '../replication/support.js';
import { cliArgs, shippedEnv } from '../helpers/shipped-cli.js';

/** `key:value` lines; Pika's `db0:<state>` lines keep `db0` as the key, `db0 binlog_offset=…` lines `db0 binlog_offset`. */
export function infoFields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const m = /^(db\d+ binlog_offset)=(.*)$/.exec(line) ?? /^([^#:][^:]*):(.*)$/.exec(line);
    if (m !== null) out.set(m[1], m[2]);
  }
  return out;
}

export async function startDaemon(target: RedisServer, dir: string, extra: Record<string, string> = {}, logger: Logger = testLogger()) {
  const port = await replicaPort();
  const entries = Object.entries({
    port: String(port),
    bind: '127.0.0.1',
    'db-sync-path': join(dir, 'dbsync'),
    'log-path': join(dir, 'log'),
    'target-redis-port': String(target.port),
    'redis-sender-num': '4',
    'sync-batch-num': '50',
    ...extra,
  }).map(([key, value], i) => ({ key, value, where: `test.conf:${i + 1}` }));
  const daemon = await Daemon.start(buildConfig('test.conf', entries), logger, {
    bar: null,
    replicaTimeouts: { reconnectDelayMs: 100, rsyncMetaRetryMs: 100, rsyncRequestMs: 2000 },
  });
  const admin = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  admin.on('error', () => {}); // a daemon that exited refuses the reconnects; calls still reject
  const info = async (section: string) => infoFields((await admin.info(section)) as string);
  return { daemon, admin, port, info };
}


export type TestDaemon = Awaited<ReturnType<typeof startDaemon>>;

/**
 * A target, a test master serving `version`'s real dump, and a daemon (with `extra` conf) pointed at
 * the target; `done` undoes all three. `opts.target` starts another kind of target (TLS, ACL);
 * `opts.master` sets the master's passwords and client-port users.
 */
export async function startAll(
  family: MasterFamily = 'C',
  version = '3.5.5',
  extra: Record<string, string> = {},
  opts: { target?: () => Promise<RedisServer>; master?: Pick<FakeMasterOptions, 'requirepass' | 'clientUsers'> } = {},
) {
  const target = await (opts.target ?? startRedis)();
  const master = await startMaster(family, version, opts.master);
  const dir = tempDir(`pm-daemon-${family}-`);
  const d = await startDaemon(target, dir, extra);
  const done = async () => {
    await stopDaemon(d);
    await master.stop();
    await target.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { target, master, dir, d, done };
}

/** A started test master serving `version`'s real dump (`opts`: its passwords and client-port users). */
export async function startMaster(family: MasterFamily = 'C', version = '3.5.5', opts: Pick<FakeMasterOptions, 'requirepass' | 'clientUsers'> = {}): Promise<FakeMaster> {
  const master = new FakeMaster({ family, version, snapshotSource: join(FIXTURES, `snapshots/${version}-base/dump/db0`), keepaliveMs: 500, ...opts });
  await master.start();
  return master;
}

/** Stops the daemon (it may have exited already) and waits for its exit. */
export async function stopDaemon(d: TestDaemon): Promise<void> {
  d.admin.disconnect();
  await d.daemon.stop('test done').catch(() => {});
  await d.daemon.exited;
}

/** The master has been acked exactly up to `end`. */
export function ackedUpTo(master: FakeMaster, end: BinlogPosition): () => boolean {
  return () => {
    const st = master.replicaState;
    return st !== null && st.acked.filenum === end.filenum && st.acked.offset === end.offset;
  };
}

/** Until the daemon follows the binlog live (snapshot loaded, spool replayed) with the link up. */
export function untilIncremental(d: TestDaemon, timeoutMs = 30_000): Promise<void> {
  return waitFor(
    'incremental with the link up',
    async () => (await d.info('migrate')).get('phase') === 'incremental' && (await d.info('replication')).get('master_link_status') === 'up',
    timeoutMs,
  );
}

/** Copies every key (value and TTL) of `from` into `to`: a reference that starts where the target is. */
export async function copyData(from: Redis, to: Redis): Promise<void> {
  for (const key of await from.keysBuffer('*')) {
    if (key.toString().startsWith('pika-migrate:')) continue;
    // The absolute expiry (Redis 7's PEXPIRETIME, RESTORE … ABSTTL): a relative TTL would drift by
    // however long the machine stalls between reading it and the RESTORE.
    const at = (await from.call('PEXPIRETIME', key)) as number;
    await to.callBuffer('RESTORE', key, String(at > 0 ? at : 0), (await from.dumpBuffer(key))!, 'REPLACE', ...(at > 0 ? ['ABSTTL'] : []));
  }
}

/** The data of a target, without pika-migrate's own bookkeeping keys. */
export async function dataOf(c: Redis): Promise<Map<string, DumpedKey>> {
  const out = await dumpRedis(c);
  for (const k of out.keys()) if (k.startsWith('pika-migrate:')) out.delete(k);
  return out;
}

/** mulberry32: a small seeded PRNG, so that a failing kill sequence can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The daemon as its own process (as run in production), for kill -9: `start` writes a conf of
 * `entries` into `dir` and waits for the admin port; `kill` sends SIGKILL and waits for the exit,
 * and fails when the daemon had already exited on its own.
 */
/**
 * The conf entries of a daemon process (daemonProcess) that works under `dir` and writes into
 * `target`, with `extra`; `slaveof` (a restart) follows `master` from the conf.
 */
export function processConf(dir: string, target: RedisServer, master: FakeMaster, extra: Record<string, string | number>): (slaveof: boolean) => Record<string, string | number> {
  return (slaveof) => ({
    'db-sync-path': join(dir, 'dbsync'),
    'log-path': join(dir, 'log'),
    'log-format': 'json',
    'log-level': 'warn',
    'target-redis-port': target.port,
    ...extra,
    ...(slaveof ? { slaveof: `127.0.0.1:${master.port}` } : {}),
  });
}

/** What the kill tests run against: the target, a reference Redis fed the original commands, a test master, a work dir. */
export interface KillRig {
  target: RedisServer;
  ref: RedisServer;
  master: FakeMaster;
  dir: string;
}

/**
 * Registers, in the calling describe, the before/after hooks that start a KillRig (the master
 * serving, family C, the dump `snapshot` returns for the work dir) and stop it; its fields are
 * set once `before` has run.
 */
export function useKillRig(prefix: string, snapshot: (dir: string) => string): KillRig {
  const rig = {} as KillRig;
  before(async () => {
    rig.target = await startRedis();
    rig.ref = await startRedis();
    rig.dir = tempDir(prefix);
    rig.master = new FakeMaster({ family: 'C', snapshotSource: snapshot(rig.dir), keepaliveMs: 500 });
    await rig.master.start();
  });
  after(async () => {
    await rig.master?.stop();
    await rig.target?.stop();
    await rig.ref?.stop();
    if (rig.dir) rmSync(rig.dir, { recursive: true, force: true });
  });
  return rig;
}

export function daemonProcess(dir: string, port: number) {
  let child: ChildProcess | null = null;
  const admin = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
  admin.on('error', () => {});
  void admin.connect().catch(() => {});
  return {
    admin,
    async start(name: string, entries: Record<string, string | number>): Promise<void> {
      const f = join(dir, `${name}.conf`);
      writeFileSync(f, Object.entries({ port, bind: '127.0.0.1', ...entries }).map(([k, v]) => `${k} : ${v}`).join('\n') + '\n');
      child = spawn(process.execPath, cliArgs('-c', f), { stdio: ['ignore', 'ignore', 'inherit'], env: shippedEnv() });
      await waitFor('admin port', async () => (await admin.ping().catch(() => '')) === 'PONG', 20_000);
    },
    async kill(): Promise<void> {
      const c = child;
      if (c === null) return;
      child = null;
      if (c.exitCode !== null) throw new Error(`the daemon exited on its own with code ${c.exitCode} (log in ${join(dir, 'log')})`);
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
    /** load, replay or live from `INFO migrate`; other before a migration runs. */
    async stage(): Promise<'load' | 'replay' | 'live' | 'other'> {
      const m = infoFields(((await admin.info('migrate').catch(() => '')) as string) ?? '');
      if (m.get('phase') === 'incremental') return 'live';
      // A load under way before the master sent its offset (A/B push) has no spool yet and cannot be resumed.
      if (m.get('phase') !== 'full_sync' || !m.has('spool_stage')) return 'other';
      return m.get('spool_stage') === 'replaying' ? 'replay' : 'load';
    },
  };
}

/** The same keys written into the reference Redis. */
export async function writeReference(c: Redis, keys: readonly KeyDesc[]): Promise<void> {
  const p = c.pipeline();
  for (const k of keys) {
    if (k.type === 'string') p.set(k.name, k.value as string);
    else if (k.type === 'hash') p.hset(k.name, k.value as Record<string, string>);
    else if (k.type === 'list') p.rpush(k.name, ...(k.value as string[]));
    else if (k.type === 'set') p.sadd(k.name, ...(k.value as string[]));
    else p.zadd(k.name, ...(k.value as Array<[string, string]>).flatMap(([m, s]) => [s, m]));
    if (k.expireAt) p.pexpireat(k.name, k.expireAt);
  }
  await p.exec();
}
