/**
 * One big value through the binlog: the master sends an entry in one message and Redis takes a
 * value in one command, so the daemon holds it once while it passes (never twice: README,
 * Memory). A real 3.2.7 master, the daemon streaming; a 48 MiB SET, then a 24 MiB HSET.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RedisServer } from '../test/helpers/redis.js';
import { startRealPika } from '../test/helpers/real-pika.js';
import { cliArgs, shippedEnv } from '../test/helpers/shipped-cli.js';
import { replicaPort } from '../test/replication/support.js';
import { peakRss, slaveofForce } from './real-master.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha1 = (b: Buffer | null) => (b === null ? '' : createHash('sha1').update(b).digest('hex'));

export interface BigEntryFigure {
  readonly valueMb: number;
  /** VmHWM once streaming, before the big entries. */
  readonly beforeMb: number;
  readonly peakMb: number;
  readonly seconds: number;
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`big binlog entries: ${what} not seen within ${timeoutMs} ms`);
    await sleep(50);
  }
}

function hwmMb(pid: number): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

export async function daemonBigEntries(redis: RedisServer, work: string): Promise<BigEntryFigure> {
  const master = await startRealPika('3.2.7');
  const port = await replicaPort();
  const conf = join(work, 'daemon-big-entry.conf');
  writeFileSync(conf, [`port : ${port}`, 'bind : 127.0.0.1', `db-sync-path : ${join(work, 'dbsync-big-entry')}`, `log-path : ${join(work, 'log-big-entry')}`, 'log-level : warn', `target-redis-port : ${redis.port}`, ''].join('\n'));
  const daemon = spawn(process.execPath, cliArgs('-c', conf), { stdio: ['ignore', 'ignore', 'inherit'], env: shippedEnv() });
  const rss = peakRss(daemon.pid!);
  const m = new Redis({ host: '127.0.0.1', port: master.port });
  const t = new Redis({ host: '127.0.0.1', port: redis.port });
  try {
    await m.set('first', '1');
    await slaveofForce(port, master);
    await until('the snapshot', async () => (await t.get('first')) === '1', 60_000);
    await m.set('live', '1');
    await until('a live entry', async () => (await t.get('live')) === '1', 60_000);
    await sleep(500);
    const beforeMb = hwmMb(daemon.pid!);
    const value = randomBytes(48 << 20);
    const field = value.subarray(0, 24 << 20);
    const t0 = performance.now();
    await m.set('big', value);
    await m.hset('h', 'big', field);
    await until('both values', async () => (await t.strlen('big')) === value.length && (await t.hstrlen('h', 'big')) === field.length, 120_000);
    const seconds = (performance.now() - t0) / 1000;
    if (sha1(await t.getBuffer('big')) !== sha1(value) || sha1(await t.hgetBuffer('h', 'big')) !== sha1(field)) throw new Error('big binlog entries: a value in Redis differs from the master');
    return { valueMb: (value.length + field.length) / 1048576, beforeMb, peakMb: rss.stop(), seconds };
  } finally {
    rss.stop();
    m.disconnect();
    t.disconnect();
    daemon.kill('SIGTERM');
    await once(daemon, 'exit');
    await master.destroy();
  }
}
