import type { DataType } from '../core/record.js';
import { HLL_REGISTERS, looksLikeHll3x } from '../snapshot/pika/special-keys.js';
import type { PikaSource } from '../verify/pika-source.js';
import type { CheckItem } from './verdict.js';

const TYPES: readonly DataType[] = ['string', 'hash', 'list', 'set', 'zset'];
/** Members of a sampled zset read to look for NaN scores. */
const ZSET_PEEK = 128;

/**
 * A bounded sample of names, up to `perType` per type by SCANX: names that Pika 3.x holds in
 * several types (only `type-order`'s first is copied), HyperLogLogs (3.x keeps them as 131072-byte
 * strings; not copied) and zsets holding NaN scores (Redis has none; the member is not copied).
 * Counts are of the sample; the share is what to expect across the DB.
 */
export async function checkTypes(pika: PikaSource, typeOrder: readonly DataType[], perType: number): Promise<CheckItem[]> {
  const sampled: Record<DataType, number> = { string: 0, hash: 0, list: 0, set: 0, zset: 0, stream: 0 };
  const multi = new Map<string, DataType[]>();
  let hll = 0;
  let nan = 0;
  const examples: string[] = [];
  for (const type of TYPES) {
    for await (const batch of pika.scanType(type, Math.min(512, perType))) {
      for (const key of batch) {
        if (sampled[type] >= perType) break;
        sampled[type]++;
        if (pika.multiType && !multi.has(key.toString('latin1'))) {
          const held: DataType[] = [];
          for (const t of TYPES) if (t === type || (await pika.holds(key, t))) held.push(t);
          if (held.length > 1) {
            multi.set(key.toString('latin1'), held);
            if (examples.length < 5) examples.push(key.toString());
          }
        }
        if (type === 'string' && ((await pika.call('STRLEN', key)) as number) === HLL_REGISTERS) {
          const v = (await pika.call('GET', key)) as Buffer;
          if (looksLikeHll3x(v, 0, v.length)) hll++;
        }
        if (type === 'zset') {
          const [, flat] = (await pika.call('ZSCAN', key, '0', 'COUNT', String(ZSET_PEEK))) as [Buffer, Buffer[]];
          for (let i = 1; i < flat.length; i += 2) if (/nan/i.test(flat[i].toString())) {
            nan++;
            break;
          }
        }
      }
      if (sampled[type] >= perType) break;
    }
  }
  const total = Object.values(sampled).reduce((a, b) => a + b, 0);
  const scope = `in a sample of ${total} names (up to ${perType} per type)`;
  const items: CheckItem[] = [];
  if (!pika.multiType) {
    items.push({ group: 'types', id: 'types.multi-type', verdict: 'ok', detail: `Pika ${pika.version} holds one type per name`, data: { sampled } });
  } else if (multi.size === 0) {
    items.push({ group: 'types', id: 'types.multi-type', verdict: 'ok', detail: `no name held in several types ${scope}`, data: { sampled } });
  } else {
    const first = [...multi.values()][0];
    const copied = typeOrder.find((t) => first.includes(t));
    items.push({
      group: 'types',
      id: 'types.multi-type',
      verdict: 'warn',
      detail: `${multi.size} names held in several types ${scope} (e.g. ${examples.join(', ')}: ${first.join('+')}); type-order (${typeOrder.join(', ')}) copies the first, e.g. the ${copied}, the others are logged and not copied`,
      fix: 'decide which type each such name keeps (type-order), or rename them on Pika before the migration',
      data: { sampled, names: multi.size, examples },
    });
  }
  const inexact: string[] = [];
  if (hll > 0) inexact.push(`${hll} HyperLogLogs (Pika's register format; not copied)`);
  if (nan > 0) inexact.push(`${nan} zsets with a NaN score (not copied: Redis has no NaN score)`);
  items.push(
    inexact.length === 0
      ? { group: 'types', id: 'types.inexact', verdict: 'ok', detail: `no HyperLogLog, no NaN zset score ${scope}`, data: { hll, nan } }
      : { group: 'types', id: 'types.inexact', verdict: 'warn', detail: `${inexact.join('; ')} ${scope}`, fix: 'rebuild those keys in Redis after the cut-over (PFADD from the source data), or accept their loss', data: { hll, nan } },
  );
  return items;
}

