/**
 * Child process of large-value-memory.test.ts: `read-large-values.ts <db-dir>` scans the default
 * column family, reading each big value as a LargeValue in 1 MiB pieces, and prints as JSON its
 * pairs in the writer's dump form, the keys that came as LargeValues, and its own peak RSS (kB).
 */
import { openRocksDb } from '../../src/snapshot/rocks/db.js';
import { readLargeValue } from '../../src/snapshot/rocks/large-value.js';
import { BigValueDump, dumpValue } from './writer.js';

const db = await openRocksDb(process.argv[2]);
const pairs: Array<[string, string]> = [];
const large: string[] = [];
try {
  for await (const batch of db.scanBatches('default', { makeLarge: (key, value) => ({ key, value: Buffer.alloc(0), large: value }) })) {
    for (const e of batch) {
      let dump = dumpValue(e.value);
      if (e.large !== undefined) {
        large.push(e.key.toString('latin1'));
        const d = new BigValueDump();
        for (let at = 0; at < e.large.length; at += 1 << 20) d.update(await readLargeValue(e.large, at, Math.min(1 << 20, e.large.length - at)));
        dump = d.result();
      }
      pairs.push([e.key.toString('hex'), dump]);
    }
  }
} finally {
  await db.close();
}
process.stdout.write(JSON.stringify({ pairs, large, peakKb: process.resourceUsage().maxRSS }) + '\n');
