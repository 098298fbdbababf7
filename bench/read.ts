/**
 * The snapshot reader alone (RocksDB files → Pika records), one process, one core: prints one JSON
 * line with records, elements, seconds and peak RSS. Run by bench/run.ts as its own process.
 *
 *   node --import tsx bench/read.ts <db-dir>
 */
import { readFileSync } from 'node:fs';
import { readSnapshotBatches } from '../src/snapshot/pika/snapshot.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: read.ts <db-dir>');
const t0 = performance.now();
let records = 0;
let elements = 0;
for await (const batch of readSnapshotBatches(dir, { db: 0, nowMs: Date.now(), chunkSize: 512, chunkBytes: 1 << 20 })) {
  records += batch.length;
  for (const r of batch) elements += r.type === 'string' ? 1 : r.type === 'hash' ? r.fields.length : r.type === 'list' ? r.elements.length : r.type === 'stream' ? r.entries.length : r.members.length;
}
const seconds = (performance.now() - t0) / 1000;
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
process.stdout.write(JSON.stringify({ records, elements, seconds, rssMb: hwm === null ? NaN : Number(hwm[1]) / 1024 }) + '\n');
