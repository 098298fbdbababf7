/**
 * Family D: a dump whose last instance directories are missing (`0/ 1/` of a master with
 * `db-instance-num 3`) looks complete, since nothing in it records N. Pika places every key in
 * instance `(crc32(hash tag) % default-slot-num) % N` (pika_codis_slot.cc, storage.cc
 * `GetDBInstance`), so the keys of the instances that are there tell N: when a sample of them fits
 * one larger N and not the number of directories, the missing ones are named and the dump refused.
 * Any other pattern (another `default-slot-num`, an N changed across restarts, too few keys) proves
 * nothing and is let through.
 */
import { crc32 } from 'node:zlib';
import { CorruptionError } from '../../core/errors.js';
import { largeKeyValue, type RocksDb } from '../rocks/db.js';
import { decodeUserKey4, KEY4_PREFIX, metaKey4Shape } from './format4.js';

const SLOTS = 1024; // default-slot-num of every shipped pika.conf
const SAMPLE_PER_INSTANCE = 256;
/** Below this many keys, or this many distinct slots, a fit could be chance (one hash tag, say). */
const MIN_KEYS = 24;
const MIN_SLOTS = 8;
const MAX_INSTANCES = 64;

/** The codis slot of a key: CRC32 of the text between the first `{` and the next `}`, else of the key. */
export function slotOf(key: Buffer): number {
  const open = key.indexOf(0x7b);
  const close = open < 0 ? -1 : key.indexOf(0x7d, open + 1);
  const tag = close < 0 ? key : key.subarray(open + 1, close);
  return crc32(tag) % SLOTS;
}


/** Refuses instance directories `0 … n-1` whose keys say Pika had more instances. */
export async function checkInstanceCount(dbs: readonly RocksDb[], dumpDir: string): Promise<void> {
  const samples: Array<{ instance: number; slot: number }> = [];
  for (let i = 0; i < dbs.length; i++) {
    let taken = 0;
    for await (const batch of dbs[i].scanBatches('default', { batchSize: SAMPLE_PER_INSTANCE, makeLarge: largeKeyValue /* only keys are sampled: a string of many MiB is not read */ })) {
      for (const { key } of batch) {
        const { encEnd, wellFormed } = metaKey4Shape(key);
        const name = wellFormed ? decodeUserKey4(key, KEY4_PREFIX, encEnd) : null;
        if (name !== null) samples.push({ instance: i, slot: slotOf(name) });
        if (++taken >= SAMPLE_PER_INSTANCE) break;
      }
      if (taken >= SAMPLE_PER_INSTANCE) break;
    }
  }
  if (samples.length < MIN_KEYS || new Set(samples.map((s) => s.slot)).size < MIN_SLOTS) return;
  const fits = (n: number) => samples.every((s) => s.slot % n === s.instance);
  // (every key fits one instance: only a larger count can show that some are missing)
  if (dbs.length > 1 && fits(dbs.length)) return;
  for (let n = dbs.length + 1; n <= MAX_INSTANCES; n++) {
    if (!fits(n)) continue;
    const missing = n - dbs.length === 1 ? `${dbs.length}/ is` : `${dbs.length}/ … ${n - 1}/ are`;
    throw new CorruptionError(
      `the keys of instance directories 0 … ${dbs.length - 1} are placed for ${n} instances (db-instance-num ${n}): ${missing} missing`,
      dumpDir,
    );
  }
}
