/**
 * The verify benchmark's data set, the same on both sides: `n` names, 90 % small strings and the
 * rest hashes, lists, sets and zsets of 10 elements; one in ten expires in an hour.
 */
import type { PikaValue } from '../test/master/pika-keyspace.js';

export function* verifyDataset(n: number, expireAtMs: number): Generator<{ key: string; value: PikaValue; expireAtMs: number | null }> {
  const ten = (i: number, p: string) => Array.from({ length: 10 }, (_, j) => Buffer.from(`${p}${i}-${j}`));
  for (let i = 0; i < n; i++) {
    const key = `v:${String(i).padStart(7, '0')}`;
    const at = i % 10 === 3 ? expireAtMs : null;
    const kind = i % 20;
    let value: PikaValue;
    if (kind === 16) value = { type: 'hash', fields: ten(i, 'f').map((f, j) => [f, Buffer.from(`value-${j}`)]) };
    else if (kind === 17) value = { type: 'list', elements: ten(i, 'e') };
    else if (kind === 18) value = { type: 'set', members: ten(i, 'm') };
    else if (kind === 19) value = { type: 'zset', members: ten(i, 'm').map((m, j) => [m, j * 1.5]) };
    else value = { type: 'string', value: Buffer.from(`value-${i}-${'x'.repeat(20)}`) };
    yield { key, value, expireAtMs: at };
  }
}
