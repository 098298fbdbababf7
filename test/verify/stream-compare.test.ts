/**
 * verify's stream comparison, chunk by chunk: a Redis holding the streams stands in for Pika's
 * side (XLEN and XRANGE are the same commands there; real 3.5.5/4.0.1 builds answer XRANGE with
 * corrupt IDs, see pika-bin's README), a second one is the target.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { compareValue, nextStreamId } from '../../src/verify/compare-value.js';
import type { PikaSource } from '../../src/verify/pika-source.js';
import type { TargetReader } from '../../src/verify/target-reader.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let pika: RedisServer;
let redis: RedisServer;
before(async () => {
  pika = await startRedis();
  redis = await startRedis();
});
after(async () => {
  await pika?.stop();
  await redis?.stop();
});

test('next stream ID: seq + 1, or the next ms after the largest seq', () => {
  assert.equal(nextStreamId('5-0'), '5-1');
  assert.equal(nextStreamId('5-18446744073709551615'), '6-0');
});

test('streams compare entry by entry in chunks: same, a different ID, a different field value, a missing tail, gone', async () => {
  const a = pika.client();
  const b = redis.client();
  const p = { call: (name: string, ...args: Array<Buffer | string>) => a.callBuffer(name, ...args) } as unknown as PikaSource;
  const t = { multiLookups: true, call: (name: string, key: Buffer, ...args: Array<Buffer | string>) => b.callBuffer(name, key, ...args) } as unknown as TargetReader;
  const fill = async (c: ReturnType<RedisServer['client']>, key: string, n: number, change?: (i: number) => [string, string]): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const [id, v] = change?.(i) ?? [`${i + 1}-${i % 3}`, `v${i}`];
      await c.xadd(key, id, 'f', v, 'g', 'x');
    }
  };
  const key = Buffer.from('s');
  await fill(a, 's', 25);
  await fill(b, 's', 25);
  assert.deepEqual(await compareValue(p, t, key, 'stream', 4), { same: true });
  await b.del('s');
  await fill(b, 's', 25, (i) => [i === 13 ? `${i + 1}-7` : `${i + 1}-${i % 3}`, `v${i}`]);
  assert.deepEqual(await compareValue(p, t, key, 'stream', 4), { same: false, detail: 'entry 13: pika id 14-1, redis id 14-7' });
  await b.del('s');
  await fill(b, 's', 25, (i) => [`${i + 1}-${i % 3}`, i === 21 ? 'changed' : `v${i}`]);
  assert.deepEqual(await compareValue(p, t, key, 'stream', 4), { same: false, detail: "entry 22-0 item 1: pika 'v21', redis 'changed'" });
  await b.del('s');
  await fill(b, 's', 24);
  assert.deepEqual(await compareValue(p, t, key, 'stream', 4), { same: false, detail: 'pika 25 entries, redis 24' });
  await a.del('s');
  assert.deepEqual(await compareValue(p, t, key, 'stream', 4), { gone: true });
});
