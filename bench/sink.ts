/**
 * Sink throughput: 1M small `SET k:%07d val-%d` through the SenderPool into a fresh redis-server,
 * beside `redis-benchmark -P 64` on the same server, plus this process's peak RSS.
 *
 *   node --import tsx bench/sink.ts [--n 1000000] [--senders 10] [--batch 100] [--inflight 4]
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import type { RedisCommand } from '../src/core/command.js';
import { silentLogger } from '../src/core/log.js';
import { SenderPool, SINK_DEFAULTS } from '../src/sink/pool.js';
import { startRedis } from '../test/helpers/redis.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000000' },
    senders: { type: 'string', default: String(SINK_DEFAULTS.senders) },
    batch: { type: 'string', default: String(SINK_DEFAULTS.batchSize) },
    inflight: { type: 'string', default: String(SINK_DEFAULTS.maxInFlightBatches) },
  },
});
const n = Number(values.n);
const senders = Number(values.senders);
const batchSize = Number(values.batch);
const maxInFlightBatches = Number(values.inflight);

const redis = await startRedis();
try {
  const admin = redis.client();
  const pool = await SenderPool.connect({ host: redis.host, port: redis.port, db: 0, senders, batchSize, maxInFlightBatches, logger: silentLogger() });
  const redisCpu = async (): Promise<number> => {
    const info = await admin.info('cpu');
    return Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
  };
  const rc0 = await redisCpu();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const key = Buffer.from(`k:${String(i).padStart(7, '0')}`);
    const cmd: RedisCommand = { name: 'SET', args: [key, Buffer.from(`val-${i}`)], key, pos: { kind: 'snapshot', db: 0, seq: i } };
    const p = pool.submit(cmd);
    if (p !== undefined) await p;
  }
  await pool.flush();
  const secs = (performance.now() - t0) / 1000;
  const rssMb = process.resourceUsage().maxRSS / 1024;
  const cpu = process.cpuUsage(cpu0);
  const nodeCpu = (cpu.user + cpu.system) / 1e6;
  const rCpu = (await redisCpu()) - rc0;
  const st = pool.stats();
  await pool.close();
  // The pool's own keys (the applied-positions hash) are not the benchmark's.
  const keys = (await admin.dbsize()) - (await admin.keys('pika-migrate:*')).length;
  if (keys !== n) throw new Error(`expected ${n} keys in Redis, found ${keys}`);
  if (st.total.acked !== n) throw new Error(`acked ${st.total.acked} of ${n}`);

  await admin.flushall();
  const out = execFileSync('redis-benchmark', ['-q', '-t', 'set', '-n', String(n), '-P', '64', '-r', '1000000', '-p', String(redis.port)], { encoding: 'utf8' });
  const m = /SET: ([\d.]+) requests per second/.exec(out.split('\r').pop() ?? out) ?? /SET: ([\d.]+) requests per second/.exec(out);
  const bench = m === null ? NaN : Number(m[1]);

  const rate = n / secs;
  console.log(`senders ${senders}, batch ${batchSize}, in flight ${maxInFlightBatches}, ${n} SETs`);
  console.log(`sink:            ${Math.round(rate)} keys/s (${secs.toFixed(2)} s)`);
  console.log(`redis-benchmark: ${Math.round(bench)} SET/s (-P 64)`);
  console.log(`ratio:           ${((100 * rate) / bench).toFixed(1)} %`);
  console.log(`cpu:             node ${nodeCpu.toFixed(2)} s, redis-server ${rCpu.toFixed(2)} s`);
  console.log(`peak RSS:        ${rssMb.toFixed(1)} MB`);
} finally {
  await redis.stop();
}
