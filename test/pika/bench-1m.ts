/**
 * Decode rate of the whole snapshot pipeline (rocks reader + Pika decoding) on the 1M-strings
 * dump: `node --import tsx test/pika/bench-1m.ts`. Bounded: one pass, a few seconds.
 */
import { readSnapshot } from '../../src/snapshot/pika/snapshot.js';
import { FIXTURES } from '../helpers/fixtures.js';

const DIR = `${FIXTURES}/snapshots/3.2.7-1m-strings/dump/db0`;

async function main(): Promise<void> {
  const t0 = performance.now();
  let n = 0;
  let bytes = 0;
  for await (const r of readSnapshot(DIR, { db: 0, nowMs: Date.now(), chunkSize: 512, chunkBytes: 1 << 20 })) {
    n++;
    if (r.type === 'string') bytes += r.key.length + r.value.length;
  }
  const s = (performance.now() - t0) / 1000;
  const rss = Math.round(process.memoryUsage().rss / 1e6);
  console.log(`${n} records, ${bytes} key+value bytes in ${s.toFixed(2)} s = ${Math.round(n / s)} records/s, rss ${rss} MB`);
}

await main();
