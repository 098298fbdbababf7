/**
 * `npm run bench`: pika-migrate's throughput beside a reference measured in the same run, on one
 * fresh loopback redis-server.
 *
 * 1. Full sync: `pika-migrate load` of the real 1M-strings 3.2.7 dump (the C++ pika-migrate's
 *    yardstick) as its own process, keys/s and peak RSS (VmHWM), beside `redis-benchmark -P 64 SET`
 *    of as many keys. Target: ≥ 0.5 of redis-benchmark, peak RSS ≤ 100 MB.
 * 2. Incremental: the test master streams small SETs as fast as the daemon acks them; entries/s
 *    applied to Redis and the largest lag seen. Target: ≥ 100k entries/s, lag < 1 s.
 *
 *   npm run bench [-- --entries 200000] [-- --skip-full] [-- --skip-incremental]
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildConfig } from '../src/config/load.js';
import { silentLogger } from '../src/core/log.js';
import { Daemon } from '../src/daemon/daemon.js';
import { FIXTURES } from '../test/helpers/fixtures.js';
import { startRedis, type RedisServer } from '../test/helpers/redis.js';
import { FakeMaster } from '../test/master/fake-master.js';
import { replicaPort, tempDir } from '../test/replication/support.js';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '200000' },
    'skip-full': { type: 'boolean', default: false },
    'skip-incremental': { type: 'boolean', default: false },
  },
});

const root = new URL('..', import.meta.url).pathname;
const DUMP = join(FIXTURES, 'snapshots/3.2.7-1m-strings/dump');
const work = tempDir('pm-bench-');

function redisBenchmark(redis: RedisServer, n: number): number {
  const out = execFileSync('redis-benchmark', ['-q', '-t', 'set', '-n', String(n), '-P', '64', '-r', String(n), '-p', String(redis.port)], { encoding: 'utf8' });
  const m = /SET: ([\d.]+) requests per second/.exec(out.split('\r').pop() ?? out) ?? /SET: ([\d.]+) requests per second/.exec(out);
  return m === null ? NaN : Number(m[1]);
}

/** Runs the built CLI's offline load; peak RSS read from /proc while it runs. */
async function fullSync(redis: RedisServer): Promise<{ keys: number; rate: number; seconds: number; rssMb: number }> {
  const conf = join(work, 'bench.conf');
  writeFileSync(conf, `target-redis-port : ${redis.port}\nlog-path : ${join(work, 'log')}\nlog-format : json\nlog-level : warn\n`);
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(root, 'dist/src/cli.js'), 'load', DUMP, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  let hwmKb = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) hwmKb = Math.max(hwmKb, Number(m[1]));
    } catch {
      // exited between two polls
    }
  }, 50);
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  clearInterval(poll);
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`pika-migrate load exited with ${code}: ${err}`);
  const m = /loaded (\d+) keys .* in ([\d.]+) s, (\d+) keys\/s/.exec(err);
  if (m === null) throw new Error(`no summary from pika-migrate load: ${err}`);
  return { keys: Number(m[1]), rate: Number(m[3]), seconds, rssMb: hwmKb / 1024 };
}

async function incremental(redis: RedisServer, n: number): Promise<{ rate: number; maxLagEntries: number; maxLagSeconds: number; rssGrowthMb: number }> {
  const master = new FakeMaster({ family: 'C', snapshotSource: join(FIXTURES, 'snapshots/3.5.5-base/dump/db0'), keepaliveMs: 500 });
  await master.start();
  const port = await replicaPort();
  const entries = Object.entries({ port: String(port), bind: '127.0.0.1', 'db-sync-path': join(work, 'dbsync'), 'log-path': join(work, 'log-inc'), 'target-redis-port': String(redis.port) }).map(
    ([key, value], i) => ({ key, value, where: `bench.conf:${i + 1}` }),
  );
  const daemon = await Daemon.start(buildConfig('bench.conf', entries), silentLogger(), { bar: null });
  try {
    const { Redis } = await import('ioredis');
    const admin = new Redis({ host: '127.0.0.1', port });
    await admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
    for (;;) {
      const info = (await admin.info('migrate')) as string;
      if (/phase:incremental/.test(info)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const rss0 = process.memoryUsage().rss;
    let maxLagEntries = 0;
    let maxLagSeconds = 0;
    const sampler = setInterval(() => {
      void admin.info('replication').then((t) => {
        maxLagEntries = Math.max(maxLagEntries, Number(/lag_entries:(\d+)/.exec(t as string)?.[1] ?? 0));
        maxLagSeconds = Math.max(maxLagSeconds, Number(/lag_seconds:(\d+)/.exec(t as string)?.[1] ?? 0));
      });
    }, 100);
    const t0 = performance.now();
    let end = master.write(['set', 'inc:0', 'v']);
    // Written in slices so the master's pump (same event loop) streams while we produce.
    for (let i = 1; i < n; i++) {
      end = master.write(['set', `inc:${i % 100000}`, `v${i}`]);
      if (i % 2000 === 0) await new Promise((r) => setImmediate(r));
    }
    for (;;) {
      const st = master.replicaState;
      if (st !== null && st.acked.filenum === end.filenum && st.acked.offset === end.offset) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const rssGrowthMb = (process.memoryUsage().rss - rss0) / 1e6;
    admin.disconnect();
    return { rate: n / seconds, maxLagEntries, maxLagSeconds, rssGrowthMb };
  } finally {
    await daemon.stop('bench done');
    await daemon.exited;
    await master.stop();
  }
}

execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
const redis = await startRedis();
try {
  const admin = redis.client();
  if (!values['skip-full']) {
    const fs = await fullSync(redis);
    const keys = await admin.dbsize();
    if (keys !== 1_000_000) throw new Error(`expected 1000000 keys in Redis, found ${keys}`);
    await admin.flushall();
    const ref = redisBenchmark(redis, 1_000_000);
    await admin.flushall();
    console.log('full sync, real 3.2.7 dump of 1M strings (pika-migrate load, own process)');
    console.log(`  pika-migrate:          ${fs.rate} keys/s (${fs.seconds.toFixed(2)} s with start-up), peak RSS ${fs.rssMb.toFixed(1)} MB`);
    console.log(`  redis-benchmark -P 64: ${Math.round(ref)} SET/s`);
    console.log(`  ratio:                 ${(fs.rate / ref).toFixed(2)} (target ≥ 0.5; the C++ pika-migrate: ~0.15)`);
  }
  if (!values['skip-incremental']) {
    const n = Number(values.entries);
    const inc = await incremental(redis, n);
    console.log(`incremental, ${n} SET entries streamed by the test master (family C)`);
    console.log(`  applied and acked:     ${Math.round(inc.rate)} entries/s (target ≥ 100k)`);
    console.log(`  largest lag seen:      ${inc.maxLagEntries} entries, ${inc.maxLagSeconds} s`);
    console.log(`  RSS growth:            ${inc.rssGrowthMb.toFixed(1)} MB (master, daemon and bench share this process)`);
  }
} finally {
  await redis.stop();
  rmSync(work, { recursive: true, force: true });
}
