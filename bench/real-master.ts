/**
 * The main job measured end to end against real Pika masters (../shared/pika-bin): from
 * `SLAVEOF <master> force` to the last of 1M keys in Redis, for the daemon (its own process), the
 * C++ pika-migrate 3.2.7 on the same master, and `pika-migrate load` of the same dump, beside two
 * references taken on the same redis-server in the same run: `redis-benchmark -P 64 SET` and
 * `redis-cli --pipe` of MSETs of 200 keys (the ceiling for small strings). Peak RSS (VmHWM) of each.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import type { RedisServer } from '../test/helpers/redis.js';
import { startRealPika, type RealPika, type RealPikaVersion } from '../test/helpers/real-pika.js';
import { cliArgsWith, shippedEnv } from '../test/helpers/shipped-cli.js';
import { replicaPort } from '../test/replication/support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SyncFigure {
  readonly keys: number;
  readonly seconds: number;
  readonly rate: number;
  readonly rssMb: number;
}

/** The 1M-strings fixture's keys and values (its README), as `redis-cli --pipe` input: MSETs of `per` keys. */
export async function writeMsetPipe(file: string, n: number, per = 200): Promise<void> {
  const out = createWriteStream(file);
  const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  for (let i = 0; i < n; i += per) {
    const m = Math.min(per, n - i);
    let cmd = `*${1 + 2 * m}\r\n${bulk('MSET')}`;
    for (let j = i; j < i + m; j++) cmd += bulk(`k:${String(j).padStart(7, '0')}`) + bulk(`val-${String((j * 7919) % 1e11).padStart(11, '0')}`);
    if (!out.write(cmd)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** `redis-cli --pipe < file` into `port`: seconds taken. */
export function pipeInto(port: number, file: string): number {
  const t0 = performance.now();
  execFileSync('sh', ['-c', `redis-cli -p ${port} --pipe < '${file}'`], { stdio: ['ignore', 'ignore', 'inherit'] });
  return (performance.now() - t0) / 1000;
}

/** Polls VmHWM of `pid` until stopped; returns the peak in MB. */
export function peakRss(pid: number): { stop(): number } {
  let hwmKb = 0;
  const poll = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) hwmKb = Math.max(hwmKb, Number(m[1]));
    } catch {
      // exited between two polls
    }
  };
  const t = setInterval(poll, 50);
  return {
    stop() {
      poll();
      clearInterval(t);
      return hwmKb / 1024;
    },
  };
}

/**
 * When Redis first held `n` keys besides pika-migrate's own (`pika-migrate:*`), as a
 * performance.now() time; fails after `timeoutMs`. DBSIZE is polled, which costs Redis nothing;
 * the own keys are counted with KEYS (O(n), ~0.15 s on 1M keys, stalling Redis) only once the
 * count has stopped moving, and the time is that of the first poll that saw the final count.
 */
async function untilLoaded(target: Redis, n: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let size = -1;
  let since = 0;
  for (;;) {
    const now = performance.now();
    const s = await target.dbsize();
    if (s !== size) {
      size = s;
      since = now;
    } else if (s >= n) {
      const own = (await target.keys('pika-migrate:*')).length;
      if (s - own >= n) return since;
    }
    if (Date.now() > deadline) throw new Error(`only ${size} keys in Redis after ${timeoutMs} ms`);
    await sleep(20);
  }
}

export async function slaveofForce(port: number, master: RealPika): Promise<void> {
  await waitListening(port);
  const admin = new Redis({ host: '127.0.0.1', port, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  admin.on('error', () => {});
  try {
    const r = await admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
    if (r !== 'OK') throw new Error(`SLAVEOF answered ${String(r)}`);
  } finally {
    admin.disconnect();
  }
}

/** pika-migrate's daemon (built CLI, own process) follows `master` into `redis` until `n` keys are there. */
export async function daemonFullSync(master: RealPika, redis: RedisServer, n: number, work: string): Promise<SyncFigure> {
  const port = await replicaPort();
  const conf = join(work, `daemon-${master.version}.conf`);
  writeFileSync(conf, [`port : ${port}`, 'bind : 127.0.0.1', `db-sync-path : ${join(work, `dbsync-${master.version}`)}`, `log-path : ${join(work, 'log-daemon')}`, 'log-format : json', 'log-level : warn', `target-redis-port : ${redis.port}`, ''].join('\n'));
  const prof = process.env.PM_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PM_BENCH_PROF}`] : [];
  const daemon = spawn(process.execPath, cliArgsWith(prof, '-c', conf), { stdio: ['ignore', 'ignore', 'inherit'], env: shippedEnv() });
  const rss = peakRss(daemon.pid!);
  const target = new Redis({ host: '127.0.0.1', port: redis.port });
  try {
    await waitListening(port);
    const t0 = performance.now();
    await slaveofForce(port, master);
    const seconds = ((await untilLoaded(target, n, 600_000)) - t0) / 1000;
    return { keys: n, seconds, rate: n / seconds, rssMb: rss.stop() };
  } finally {
    rss.stop();
    target.disconnect();
    daemon.kill('SIGTERM');
    await once(daemon, 'exit');
  }
}

/** The C++ pika-migrate 3.2.7 (a modified Pika) follows `master` into `redis` with its defaults. */
export async function cppFullSync(master: RealPika, redis: RedisServer, n: number): Promise<SyncFigure> {
  const tool = await startRealPika('3.2.7', { binary: 'pika-migrate-3.2.7', conf: { 'target-redis-host': '127.0.0.1', 'target-redis-port': redis.port } });
  const rss = peakRss(tool.pid);
  const target = new Redis({ host: '127.0.0.1', port: redis.port });
  try {
    const t0 = performance.now();
    await slaveofForce(tool.port, master);
    const seconds = ((await untilLoaded(target, n, 600_000)) - t0) / 1000;
    return { keys: n, seconds, rate: n / seconds, rssMb: rss.stop() };
  } finally {
    rss.stop();
    target.disconnect();
    await tool.destroy();
  }
}

async function waitListening(port: number): Promise<void> {
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  c.on('error', () => {});
  try {
    for (let i = 0; i < 400; i++) {
      if (await c.connect().then(() => true, () => false)) return;
      await sleep(50);
    }
    throw new Error(`nothing listens on ${port}`);
  } finally {
    c.disconnect();
  }
}

/** A real master of `version` holding the 1M keys: 3.2.7 from the fixture dump itself, the others filled by `redis-cli --pipe`. */
export async function masterWith1m(version: RealPikaVersion, dump: string, pipeFile: string): Promise<RealPika> {
  if (version === '3.2.7') return startRealPika(version, { seedDb0: dump });
  const master = await startRealPika(version);
  pipeInto(master.port, pipeFile);
  return master;
}
