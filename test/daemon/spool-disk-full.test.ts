/**
 * The binlog spool on a disk that fills up while a snapshot load is held: the spool stops taking
 * entries with a warning that names its path and the free bytes, acks stop (the master keeps the
 * binlog), and once the load is done nothing is lost. The disk is a real small filesystem (tmpfs
 * with a size limit, mounted as root); without the privilege to mount, the ENOSPC case uses a
 * spool file that is a symlink to /dev/full, whose writes fail with ENOSPC.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, statSync, symlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import pino from 'pino';
import { assertRedisHoldsExpected } from '../helpers/expected-redis.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { compareBinlogPositions } from '../../src/core/binlog.js';
import type { FakeMaster } from '../master/fake-master.js';
import { loadExpected } from '../pika/expected.js';
import { tempDir, waitFor } from '../replication/support.js';
import { ackedUpTo, startDaemon, startMaster, stopDaemon, untilIncremental, type TestDaemon } from './support.js';

const BASE = join(FIXTURES, 'snapshots/3.5.5-base');
const VALUE = 'v'.repeat(1024);
const PAGE = 4096;

/** Bytes the snapshot takes on a tmpfs (whole pages per file). */
function pagesOf(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? pagesOf(p) + PAGE : Math.ceil(statSync(p).size / PAGE) * PAGE;
  }
  return n;
}

/** Mounts a tmpfs of `bytes` at `dir`; false when this process may not mount (no root / CAP_SYS_ADMIN). */
function mountTmpfs(dir: string, bytes: number): boolean {
  if (process.env.PM_TEST_NO_MOUNT) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** Writes to `path` until the filesystem refuses with ENOSPC. */
function fillDisk(path: string): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(PAGE, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
}

interface Setup {
  readonly target: RedisServer;
  readonly master: FakeMaster;
  readonly d: TestDaemon;
  readonly dbsync: string;
  /** Warnings and errors the daemon logged (JSON lines). */
  readonly logs: Array<{ level: number; msg: string; spool?: string; freeBytes?: number; code?: string | null }>;
  readonly done: () => Promise<void>;
}

/** A test master, a target, and a daemon whose db-sync-path is prepared by `prepare` before it starts. */
async function setup(prepare: (dbsync: string) => void | boolean): Promise<Setup | null> {
  const dir = tempDir('pm-spool-full-');
  const dbsync = join(dir, 'dbsync');
  mkdirSync(dbsync);
  const mounted = prepare(dbsync);
  if (mounted === false) {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  const target = await startRedis();
  const master = await startMaster('C', '3.5.5');
  const logs: Setup['logs'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Setup['logs'][number]);
      cb();
    },
  });
  const d = await startDaemon(target, dir, {}, pino({ level: 'warn' }, sink));
  const done = async () => {
    await stopDaemon(d);
    await master.stop();
    await target.stop();
    if (mounted === true) execFileSync('umount', [dbsync]);
    rmSync(dir, { recursive: true, force: true });
  };
  return { target, master, d, dbsync, logs, done };
}

/** SLAVEOF force with the load held (Redis refuses writes for `ms`), until BinlogSync streams. */
async function startHeldLoad(s: Setup, ms: number): Promise<void> {
  assert.equal(await s.d.admin.call('SLAVEOF', '127.0.0.1', String(s.master.port), 'force'), 'OK');
  await s.target.client().call('CLIENT', 'PAUSE', String(ms), 'WRITE');
  await waitFor('BinlogSync active', () => s.master.events.some((e) => e.kind === 'activate'), 20_000);
}

/** After the load: Redis holds the snapshot and every live write, and the master is acked up to the last. */
async function assertNothingLost(s: Setup, written: number, end: ReturnType<FakeMaster['write']>): Promise<void> {
  await untilIncremental(s.d, 60_000);
  await waitFor('acked up to the last write', ackedUpTo(s.master, end), 20_000);
  const c = s.target.client();
  const n = await assertRedisHoldsExpected(c, loadExpected(join(BASE, 'expected.json')), { nowMs: Date.now(), expirySlackMs: 1000 });
  for (let i = 0; i < written; i++) assert.equal(await c.get(`df:${i}`), `${VALUE}${i}`, `df:${i}`);
  const keys = (await c.keys('*')).filter((k) => !k.startsWith('pika-migrate:'));
  assert.equal(keys.length, n + written, 'the snapshot and the live writes, nothing else');
  assert.equal((await s.d.info('migrate')).get('phase'), 'incremental');
}

describe('binlog spool on a disk that fills up', () => {
  it('stops taking entries before ENOSPC, names the path and the free bytes; acks stop; nothing is lost', async (t: TestContext) => {
    // The snapshot, plus room for some 300 spooled entries of 1 KiB.
    const size = pagesOf(join(BASE, 'dump')) + 96 * PAGE;
    const s = await setup((dbsync) => mountTmpfs(dbsync, size));
    if (s === null) {
      t.skip('mount -t tmpfs is not permitted here (no root / CAP_SYS_ADMIN); the ENOSPC test below covers a full disk');
      return;
    }
    t.diagnostic(`disk: tmpfs of ${size} bytes at db-sync-path`);
    try {
      await startHeldLoad(s, 12_000);
      let written = 0;
      let end = s.master.write(['set', `df:${written}`, `${VALUE}${written}`]);
      written++;
      let m = await s.d.info('migrate');
      while (m.get('spool_acks_stopped') !== 'disk') {
        assert.ok(written < 2000, 'the spool never stopped although the tmpfs is smaller than what was written');
        for (let i = 0; i < 10; i++, written++) end = s.master.write(['set', `df:${written}`, `${VALUE}${written}`]);
        await new Promise((r) => setTimeout(r, 30));
        m = await s.d.info('migrate');
      }
      assert.equal(m.get('phase'), 'full_sync', 'the load is still held');
      const free = Number(m.get('spool_disk_free_bytes'));
      assert.ok(free > 0, `stopped with ${free} bytes still free: before the disk refused a write`);
      const warn = s.logs.find((l) => l.spool !== undefined && l.freeBytes !== undefined);
      assert.ok(warn, `a warning naming the spool: ${JSON.stringify(s.logs)}`);
      assert.equal(warn.spool, join(s.dbsync, 'spool-db0.bin'));
      assert.equal(warn.code, null, 'our own check, not ENOSPC');
      assert.match(warn.msg, new RegExp(`${join(s.dbsync, 'spool-db0.bin')}: only \\d+ bytes free`));
      assert.ok(!s.logs.some((l) => l.level >= 50), `no error: ${JSON.stringify(s.logs.filter((l) => l.level >= 50))}`);
      // Acks stop at what is spooled: the master keeps the rest of its binlog.
      const [file, off] = m.get('spool_durable_offset')!.split(' ').map(Number);
      await new Promise((r) => setTimeout(r, 300));
      const acked = s.master.replicaState!.acked;
      assert.ok(compareBinlogPositions(acked, { filenum: file, offset: off }) <= 0, `acked ${acked.filenum} ${acked.offset}: not beyond the spool (${file} ${off})`);
      assert.ok(!ackedUpTo(s.master, end)(), 'the last writes are not acked while the load is held');
      await assertNothingLost(s, written, end);
      assert.equal(s.d.daemon.failure, null);
    } finally {
      await s.done();
    }
  });

  it('a write the disk refuses (ENOSPC) stops the spool the same way, and nothing is lost', async (t: TestContext) => {
    const size = pagesOf(join(BASE, 'dump')) + 96 * PAGE;
    let source = 'tmpfs';
    let s = await setup((dbsync) => mountTmpfs(dbsync, size));
    if (s === null) {
      source = '/dev/full';
      s = await setup((dbsync) => symlinkSync('/dev/full', join(dbsync, 'spool-db0.bin')));
    }
    assert.ok(s !== null);
    t.diagnostic(`ENOSPC source: ${source}`);
    const filler = join(s.dbsync, 'filler');
    try {
      await startHeldLoad(s, 10_000);
      let written = 0;
      let end = s.master.write(['set', `df:${written}`, `${VALUE}${written}`]);
      written++;
      if (source === 'tmpfs') {
        // A first entry is spooled (and free space checked), then something else fills the disk.
        await waitFor('first entry acked', ackedUpTo(s.master, end), 10_000);
        fillDisk(filler);
      }
      for (let i = 0; i < 20; i++, written++) end = s.master.write(['set', `df:${written}`, `${VALUE}${written}`]);
      await waitFor('the spool stopped', async () => (await s.d.info('migrate')).get('spool_acks_stopped') === 'disk', 10_000);
      const warn = s.logs.find((l) => l.code === 'ENOSPC');
      assert.ok(warn, `a warning with ENOSPC: ${JSON.stringify(s.logs)}`);
      assert.equal(warn.spool, join(s.dbsync, 'spool-db0.bin'));
      assert.match(warn.msg, /ENOSPC: no space left, \d+ bytes free; acks stop until the load is done/);
      assert.ok(!ackedUpTo(s.master, end)(), 'the refused entry and those after it are not acked');
      assert.equal((await s.d.info('migrate')).get('phase'), 'full_sync', 'no crash: the load goes on');
      // The checkpoint needs room too once the load is done.
      rmSync(filler, { force: true });
      await assertNothingLost(s, written, end);
      assert.equal(s.d.daemon.failure, null);
    } finally {
      await s.done();
    }
  });
});
