/**
 * `npm run bench`: pika-migrate's throughput beside a reference measured in the same run
 * (`redis-benchmark -P 64 SET` of 1M keys), on one fresh loopback redis-server.
 *
 * 1. Reader: the snapshot reader alone on a generated ~1 GB 3.x dump (bench/datasets.ts, written
 *    through real RocksDB and cached in bench/.work/), MB/s of SST on one core. Target ≥ 100 MB/s.
 * 2. Full sync: `pika-migrate load` as its own process, keys/s, elements/s and peak RSS (VmHWM):
 *    the real 1M-strings 3.2.7 dump (the C++ pika-migrate's yardstick; target ≥ 0.5 of
 *    redis-benchmark, peak RSS ≤ 100 MB), a hash of 1M fields, and a mixed set.
 * 2a. The main job against real Pika masters (bench/real-master.ts): from `SLAVEOF … force` on the
 *    daemon's admin port to the last of 1M keys in Redis, a real 3.2.7 master serving the 1M-strings
 *    dump; the C++ pika-migrate 3.2.7 on the same master; `load` of the same dump; beside
 *    redis-benchmark -P 64 SET and a `redis-cli --pipe` MSET ceiling. Then 3.5.5 and 4.0.1 masters
 *    filled with the same keys. Targets (issue 15): daemon ≥ 0.6 of redis-benchmark, ≥ 4× the C++
 *    tool, peak RSS ≤ 100 MB.
 * 2b. Cluster: the same 1M-strings full sync into a 3-master loopback Redis Cluster
 *    (`target-redis-cluster : yes`), beside the standalone figure of the same run.
 * 2c. Big binlog entries (bench/big-entry.ts): a 48 MiB SET and a 24 MiB HSET written on a real
 *    3.2.7 master while the daemon streams; both exact, and the daemon's peak RSS beside its RSS
 *    before them.
 * 3. Incremental: the test master (own process) streams small SETs from its binlog as fast as the
 *    daemon (own process) acks them; entries/s, the largest lag, the daemon's RSS over the run; then
 *    the master writes steadily while streaming, and lag_seconds is watched. Target: ≥ 100k
 *    entries/s, lag < 1 s, memory flat.
 * 4. Verify: `pika-migrate verify` (own process) of --verify-keys names (bench/verify-data.ts)
 *    between the test master's client port (own process) and Redis holding the same; keys/s beside
 *    `redis-benchmark GET` without pipelining (50 clients): verify is bound by round trips too.
 *
 *   npm run bench [-- --real-versions 3.2.7,3.5.5,4.0.1] [-- --repeat 3] [-- --skip-real] [-- --skip-cpp] [-- --entries 500000] [-- --verify-keys 200000] [-- --skip-reader] [-- --skip-full] [-- --skip-cluster] [-- --skip-big-entry] [-- --skip-incremental] [-- --skip-verify]
 *   PM_BENCH_SENDERS=n (redis-sender-num of the incremental case), PM_BENCH_PROF=dir (CPU profile)
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FIXTURES } from '../test/helpers/fixtures.js';
import { dataset, HUGE_STRING_BYTES, sstBytes } from './datasets.js';
import { startCluster } from '../test/helpers/cluster.js';
import { startRedis, type RedisServer } from '../test/helpers/redis.js';
import { verifyDataset } from './verify-data.js';
import { cppFullSync, daemonFullSync, masterWith1m, pipeInto, writeMsetPipe, type SyncFigure } from './real-master.js';
import { daemonBigEntries } from './big-entry.js';
import type { RealPikaVersion } from '../test/helpers/real-pika.js';
import { replicaPort, tempDir } from '../test/replication/support.js';
import { cliArgs, cliArgsWith, shippedEnv, shippedNodeFlags } from '../test/helpers/shipped-cli.js';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '500000' },
    'skip-full': { type: 'boolean', default: false },
    'skip-incremental': { type: 'boolean', default: false },
    'skip-cluster': { type: 'boolean', default: false },
    'skip-reader': { type: 'boolean', default: false },
    'skip-verify': { type: 'boolean', default: false },
    'skip-real': { type: 'boolean', default: false },
    'skip-big-entry': { type: 'boolean', default: false },
    'skip-cpp': { type: 'boolean', default: false },
    'real-versions': { type: 'string', default: '3.2.7,3.5.5,4.0.1' },
    'verify-keys': { type: 'string', default: '200000' },
    repeat: { type: 'string', default: '3' },
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
async function fullSync(redis: RedisServer, dir: string, extraConf = ''): Promise<{ keys: number; rate: number; seconds: number; loadSeconds: number; rssMb: number }> {
  const conf = join(work, 'bench.conf');
  writeFileSync(conf, `target-redis-port : ${redis.port}\nlog-path : ${join(work, 'log')}\nlog-format : json\nlog-level : warn\n${extraConf}`);
  const t0 = performance.now();
  const child = spawn(process.execPath, cliArgs('load', dir, '-c', conf), { stdio: ['ignore', 'ignore', 'pipe'], env: shippedEnv() });
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
  return { keys: Number(m[1]), rate: Number(m[3]), seconds, loadSeconds: Number(m[2]), rssMb: hwmKb / 1024 };
}

/** Peak (VmHWM) and current (VmRSS) resident size of a process, in MB. */
function rssOf(pid: number): { hwm: number; rss: number } {
  const t = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(t)?.[1] ?? NaN);
  return { hwm: kb('VmHWM') / 1024, rss: kb('VmRSS') / 1024 };
}

/** The steady write rate of the live phase: what this test double can produce beside the daemon. */
const LIVE_RATE = 40_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The test master and the daemon in processes of their own (as against a real Pika): the master
 * streams small SETs as fast as the daemon acks them.
 */
async function incremental(redis: RedisServer, n: number): Promise<{ rate: number; burstLag: number; liveEntries: number; liveLagEntries: number; maxLagSeconds: number; rssStartMb: number; rssEndMb: number; hwmMb: number; commands: number; batches: number }> {
  const master = fork(join(root, 'bench/master-proc.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const masterPort = await new Promise<number>((resolve, reject) => {
    master.once('message', (m: { port: number }) => resolve(m.port));
    master.once('exit', (code) => reject(new Error(`bench master exited with ${code}`)));
  });
  const port = await replicaPort();
  const conf = join(work, 'inc.conf');
  const senders = process.env.PM_BENCH_SENDERS ?? '10';
  writeFileSync(conf, `port : ${port}\nbind : 127.0.0.1\ndb-sync-path : ${join(work, 'dbsync')}\nlog-path : ${join(work, 'log-inc')}\nlog-format : json\nlog-level : warn\ntarget-redis-port : ${redis.port}\nredis-sender-num : ${senders}\n`);
  // PM_BENCH_PROF=dir writes the daemon's CPU profile there (node --cpu-prof).
  const prof = process.env.PM_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PM_BENCH_PROF}`] : [];
  const daemon = spawn(process.execPath, cliArgsWith(prof, '-c', conf), { stdio: ['ignore', 'ignore', 'inherit'], env: shippedEnv() });
  const { Redis } = await import('ioredis');
  const admin = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  admin.on('error', () => {}); // refused until the daemon listens; the connect loop below retries
  try {
    for (let i = 0; ; i++) {
      try {
        await admin.connect();
        break;
      } catch (e) {
        if (i > 100) throw e;
        await sleep(50);
      }
    }
    await admin.call('SLAVEOF', '127.0.0.1', String(masterPort), 'force');
    while (!/phase:incremental/.test((await admin.info('migrate')) as string)) await sleep(50);
    const rssStart = rssOf(daemon.pid!).rss;
    let maxLagEntries = 0;
    let maxLagSeconds = 0;
    const sampler = setInterval(() => {
      void admin.info('replication').then((t) => {
        maxLagEntries = Math.max(maxLagEntries, Number(/lag_entries:(\d+)/.exec(t as string)?.[1] ?? 0));
        maxLagSeconds = Math.max(maxLagSeconds, Number(/lag_seconds:(\d+)/.exec(t as string)?.[1] ?? 0));
      });
    }, 100);
    const finished = () => new Promise<{ seconds: number; n: number }>((resolve) => master.once('message', (m: { done: { seconds: number; n: number } }) => resolve(m.done)));
    let done = finished();
    master.send({ go: n });
    const { seconds } = await done;
    const burstLag = maxLagEntries;
    // Then a master writing steadily while it streams: lag_seconds (from exec_time) is meaningful.
    maxLagEntries = 0;
    maxLagSeconds = 0;
    done = finished();
    master.send({ live: { rate: LIVE_RATE, seconds: 5 } });
    const liveRun = await done;
    clearInterval(sampler);
    const mem = rssOf(daemon.pid!);
    const info = (await admin.info('migrate')) as string;
    const num = (k: string) => Number(new RegExp(`^${k}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
    return { rate: n / seconds, burstLag, liveEntries: liveRun.n, liveLagEntries: maxLagEntries, maxLagSeconds, rssStartMb: rssStart, rssEndMb: mem.rss, hwmMb: mem.hwm, commands: num('sink_total_sent'), batches: num('sink_total_batches') };
  } finally {
    admin.disconnect();
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    master.send({ stop: true });
    await new Promise((r) => master.once('exit', r));
  }
}

function redisBenchmarkGet(redis: RedisServer, n: number): number {
  const out = execFileSync('redis-benchmark', ['-q', '-t', 'get', '-n', String(n), '-c', '50', '-p', String(redis.port)], { encoding: 'utf8' });
  const m = /GET: ([\d.]+) requests per second/.exec(out.split('\r').pop() ?? out) ?? /GET: ([\d.]+) requests per second/.exec(out);
  return m === null ? NaN : Number(m[1]);
}

/** verify of `n` names: the test master's client port (own process) against Redis holding the same data. */
async function verifyRun(redis: RedisServer, n: number): Promise<{ seconds: number; keysPerSec: number; summary: string }> {
  const at = Date.now() + 3_600_000;
  const admin = redis.client();
  let pipe = admin.pipeline();
  for (const e of verifyDataset(n, at)) {
    const v = e.value;
    if (v.type === 'string') pipe.set(e.key, v.value);
    else if (v.type === 'hash') pipe.hset(e.key, ...v.fields.flat());
    else if (v.type === 'list') pipe.rpush(e.key, ...v.elements);
    else if (v.type === 'set') pipe.sadd(e.key, ...v.members);
    else if (v.type === 'zset') pipe.zadd(e.key, ...v.members.flatMap(([m, sc]) => [sc, m]));
    // The test master keeps 3.x's whole seconds; so does the copy.
    if (e.expireAtMs !== null) pipe.pexpireat(e.key, Math.floor(e.expireAtMs / 1000) * 1000);
    if (pipe.length >= 2000) {
      await pipe.exec();
      pipe = admin.pipeline();
    }
  }
  await pipe.exec();
  const master = fork(join(root, 'bench/verify-master-proc.ts'), [String(n), String(at)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      master.once('message', (m: { port: number }) => resolve(m.port));
      master.once('exit', (code) => reject(new Error(`verify bench master exited with ${code}`)));
    });
    const conf = join(work, 'verify.conf');
    writeFileSync(conf, `slaveof : 127.0.0.1:${port}\ntarget-redis-port : ${redis.port}\nlog-path : ${join(work, 'log-verify')}\nlog-format : json\nlog-level : warn\n`);
    const t0 = performance.now();
    const out = execFileSync(process.execPath, cliArgs('verify', '-c', conf), { encoding: 'utf8', env: shippedEnv() });
    const seconds = (performance.now() - t0) / 1000;
    if (!/^result: MATCH$/m.test(out)) throw new Error(`verify did not match:\n${out}`);
    const m = /\((\d+) keys\/s\)/.exec(out);
    return { seconds, keysPerSec: Number(m?.[1] ?? NaN), summary: out };
  } finally {
    master.send({ stop: true });
    await new Promise((r) => master.once('exit', r));
  }
}

/**
 * The reader alone on one dataset, as its own process (one core) with the CLI's V8 and malloc
 * settings: MB/s of SST, records, peak RSS.
 */
function readerRun(dir: string): { mbPerSec: number; sstMb: number; seconds: number; elements: number; rssMb: number } {
  const out = execFileSync(process.execPath, [...shippedNodeFlags(), join(root, 'dist/bench/read.js'), dir], { encoding: 'utf8', env: shippedEnv() });
  const r = JSON.parse(out) as { records: number; elements: number; seconds: number; rssMb: number };
  const sstMb = sstBytes(dir) / 1e6;
  return { mbPerSec: sstMb / r.seconds, sstMb, seconds: r.seconds, elements: r.elements, rssMb: r.rssMb };
}

const fmtRate = (n: number) => `${Math.round(n).toLocaleString('en-US')}`;

execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
const redis = await startRedis();
let standalone1m: number | null = null;
try {
  const admin = redis.client();
  const ref = redisBenchmark(redis, 1_000_000);
  await admin.flushall();
  console.log(`reference: redis-benchmark -P 64 SET, 1M keys: ${fmtRate(ref)} SET/s`);
  if (!values['skip-reader']) {
    const big = dataset('strings-1g');
    const r = readerRun(big.dir);
    console.log(`reader alone (own process, one core), generated 3.x dump of 1M × 1 KB strings, ${r.sstMb.toFixed(0)} MB of SST`);
    console.log(`  ${r.mbPerSec.toFixed(0)} MB/s (target ≥ 100), ${fmtRate(r.elements / r.seconds)} records/s, peak RSS ${r.rssMb.toFixed(0)} MB`);
  }
  if (!values['skip-real']) {
    const n = 1_000_000;
    const pipeFile = join(work, 'mset-1m.resp');
    await writeMsetPipe(pipeFile, n);
    await admin.flushall();
    const ceiling = n / pipeInto(redis.port, pipeFile);
    await admin.flushall();
    console.log(`full sync of 1M small strings, SLAVEOF … force → last key in Redis, real masters (../shared/pika-bin)`);
    console.log(`  references, same redis-server: redis-benchmark -P 64 SET ${fmtRate(ref)}/s; redis-cli --pipe MSET×200 ${fmtRate(ceiling)} keys/s (${(ceiling / ref).toFixed(2)})`);
    const line = (who: string, f: SyncFigure, extra = '') =>
      console.log(`  ${who.padEnd(36)} ${fmtRate(f.rate).padStart(9)} keys/s = ${(f.rate / ref).toFixed(2)} of redis-benchmark, ${f.seconds.toFixed(1)} s, peak RSS ${f.rssMb.toFixed(0)} MB${extra}`);
    type Paired = { f: SyncFigure; ref: number };
    /** The median run by its ratio to the redis-benchmark taken just before it, with every run's ratio; returns that run. */
    const pairedLine = (who: string, runs: Paired[]): SyncFigure => {
      const byRatio = [...runs].sort((a, b) => a.f.rate / a.ref - b.f.rate / b.ref);
      const mid = byRatio[(byRatio.length - 1) >> 1];
      const all = runs.map((r) => (r.f.rate / r.ref).toFixed(2)).join(', ');
      const peak = Math.max(...runs.map((r) => r.f.rssMb));
      console.log(
        `  ${who.padEnd(36)} ${fmtRate(mid.f.rate).padStart(9)} keys/s = ${(mid.f.rate / mid.ref).toFixed(2)} of redis-benchmark (median of ${runs.length}: ${all}; each beside its own redis-benchmark), ${mid.f.seconds.toFixed(1)} s, peak RSS ${peak.toFixed(0)} MB`,
      );
      return mid.f;
    };
    const repeat = Math.max(1, Number(values.repeat));
    for (const version of values['real-versions'].split(',') as RealPikaVersion[]) {
      const master = await masterWith1m(version, join(DUMP, 'db0'), pipeFile);
      try {
        let ours: SyncFigure;
        if (version === '3.2.7') {
          // The goals' yardstick, on a VM where one run can be 20 % off the next: each run of the
          // daemon and of load gets a redis-benchmark just before it, and the median ratio counts.
          const daemonRuns: Paired[] = [];
          const loadRuns: Paired[] = [];
          for (let i = 0; i < repeat; i++) {
            await admin.flushall();
            const refD = redisBenchmark(redis, n);
            await admin.flushall();
            daemonRuns.push({ f: await daemonFullSync(master, redis, n, work), ref: refD });
            await admin.flushall();
            const refL = redisBenchmark(redis, n);
            await admin.flushall();
            const load = await fullSync(redis, DUMP);
            loadRuns.push({ f: { keys: n, seconds: load.seconds, rate: n / load.seconds, rssMb: load.rssMb }, ref: refL });
          }
          ours = pairedLine(`${version} master, pika-migrate daemon:`, daemonRuns);
          pairedLine(`${version} dump, pika-migrate load (process):`, loadRuns);
          await admin.flushall();
        } else {
          await admin.flushall();
          ours = await daemonFullSync(master, redis, n, work);
          line(`${version} master, pika-migrate daemon:`, ours);
        }
        if (version === '3.2.7') {
          if (!values['skip-cpp']) {
            await admin.flushall();
            const cpp = await cppFullSync(master, redis, n);
            line(`${version} master, C++ pika-migrate:`, cpp, `; daemon/C++ = ${(ours.rate / cpp.rate).toFixed(1)}×`);
          }
        }
      } finally {
        await master.destroy();
      }
    }
    console.log('  targets (issue 15): daemon ≥ 0.6 of redis-benchmark (stretch ≥ 1.0), load ≥ 0.8, ≥ 4× the C++ tool, peak RSS ≤ 100 MB');
    await admin.flushall();
  }
  if (!values['skip-full']) {
    /** `oneValue`: the case is one value of that many bytes, a string's or a hash field's (MiB/s, not elements/s). */
    const cases: Array<{ label: string; dir: string; keys: number; elements: number; oneValue?: { bytes: number; what: string } }> = [
      { label: 'real 3.2.7 dump, 1M small strings', dir: DUMP, keys: 1_000_000, elements: 1_000_000 },
      ...['hash-1m-fields', 'mixed', 'big-values', 'strings-1g', 'huge-string', 'huge-text', 'huge-field'].map((name) => {
        const d = dataset(name);
        const oneValue = name.startsWith('huge-') ? { oneValue: { bytes: HUGE_STRING_BYTES, what: name === 'huge-field' ? 'hash field value' : 'string' } } : {};
        return { label: `generated 3.x dump "${name}"`, dir: d.dir, keys: d.keys, elements: d.elements, ...oneValue };
      }),
    ];
    console.log('full sync (pika-migrate load, own process) into the same redis-server');
    for (const c of cases) {
      await admin.flushall();
      const fs = await fullSync(redis, c.dir);
      if (c.dir === DUMP) standalone1m = fs.rate;
      const keys = await admin.dbsize();
      if (keys < c.keys) throw new Error(`${c.label}: expected at least ${c.keys} keys in Redis, found ${keys}`);
      const perSec = c.elements / fs.loadSeconds;
      const one = c.oneValue;
      if (one !== undefined) console.log(`  ${c.label}: ${(one.bytes / 1048576 / fs.loadSeconds).toFixed(0)} MiB/s (one ${one.what} of ${one.bytes >> 20} MiB); peak RSS ${fs.rssMb.toFixed(0)} MB`);
      else console.log(`  ${c.label}: ${fmtRate(fs.rate)} keys/s, ${fmtRate(perSec)} elements/s = ${(perSec / ref).toFixed(2)} of redis-benchmark; peak RSS ${fs.rssMb.toFixed(0)} MB`);
    }
    console.log('  targets: 1M small strings ≥ 0.5 of redis-benchmark (the C++ pika-migrate: ~0.15); peak RSS ≤ 100 MB (brief) / < 300 MB (issue 4)');
    await admin.flushall();
  }
  if (!values['skip-cluster']) {
    if (standalone1m === null) {
      await admin.flushall();
      standalone1m = (await fullSync(redis, DUMP)).rate;
      await admin.flushall();
    }
    const cluster = await startCluster(3);
    try {
      const fs = await fullSync(cluster.nodes[0], DUMP, 'target-redis-cluster : yes\n');
      let keys = 0;
      for (const n of cluster.nodes) keys += await n.client().dbsize();
      if (keys < 1_000_000) throw new Error(`cluster: expected at least 1000000 keys over the masters, found ${keys}`);
      console.log('full sync of the real 3.2.7 1M-strings dump into a 3-master loopback Redis Cluster (target-redis-cluster : yes)');
      console.log(`  cluster: ${fmtRate(fs.rate)} keys/s = ${(fs.rate / ref).toFixed(2)} of redis-benchmark (one server); standalone, same run: ${fmtRate(standalone1m)} keys/s; peak RSS ${fs.rssMb.toFixed(0)} MB`);
    } finally {
      await cluster.stop();
    }
  }
  if (!values['skip-big-entry']) {
    await admin.flushall();
    const b = await daemonBigEntries(redis, work);
    console.log('big binlog entries: a 48 MiB SET then a 24 MiB HSET on a real 3.2.7 master, daemon streaming (own process)');
    console.log(`  both exact in ${b.seconds.toFixed(1)} s; peak RSS ${b.peakMb.toFixed(0)} MB, ${b.beforeMb.toFixed(0)} MB before them (each value is held once while it passes)`);
  }
  if (!values['skip-incremental']) {
    const n = Number(values.entries);
    const inc = await incremental(redis, n);
    console.log(`incremental: ${n} SET entries streamed by the test master (family C), master and daemon in processes of their own`);
    console.log(`  applied and acked:     ${fmtRate(inc.rate)} entries/s = ${(inc.rate / ref).toFixed(2)} of redis-benchmark (target ≥ 100k entries/s)`);
    console.log(`  largest lag seen:      ${inc.burstLag} entries (${((1000 * inc.burstLag) / inc.rate).toFixed(0)} ms at that rate; the master's ack window bounds it)`);
    console.log(`  live, master writing ${fmtRate(LIVE_RATE)}/s for 5 s: ${inc.liveEntries} entries, largest lag ${inc.liveLagEntries} entries, lag_seconds ≤ ${inc.maxLagSeconds} (target < 1 s)`);
    console.log(`  daemon RSS:            ${inc.rssStartMb.toFixed(0)} MB at the start, ${inc.rssEndMb.toFixed(0)} MB at the end, peak ${inc.hwmMb.toFixed(0)} MB`);
    console.log(`  sink:                  ${inc.commands} commands in ${inc.batches} batches`);
  }
  if (!values['skip-verify']) {
    const n = Number(values['verify-keys']);
    await admin.flushall();
    const get = redisBenchmarkGet(redis, n);
    await admin.flushall();
    const v = await verifyRun(redis, n);
    console.log(`verify: ${n} names (90 % strings, the rest 10-element hashes, lists, sets, zsets; 10 % expiring), test master (3.2.7) and verify in processes of their own`);
    console.log(`  ${fmtRate(v.keysPerSec)} keys/s (Pika and Redis sides together), ${v.seconds.toFixed(1)} s in all; redis-benchmark GET (50 clients, no pipeline): ${fmtRate(get)} GET/s`);
  }
} finally {
  await redis.stop();
  rmSync(work, { recursive: true, force: true });
}
