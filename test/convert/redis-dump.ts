import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import type { RedisCommand } from '../../src/core/command.js';

export interface DumpedKey {
  readonly type: string;
  readonly value: unknown;
  /** Remaining TTL in ms, -1 when persistent. */
  readonly pttl: number;
}

const text = (b: Buffer) => b.toString('latin1');

/** Every key of the current DB with its type, full value (binary-safe text) and TTL. */
export async function dumpRedis(c: Redis): Promise<Map<string, DumpedKey>> {
  const out = new Map<string, DumpedKey>();
  let cursor = '0';
  const keys: Buffer[] = [];
  do {
    const [next, batch] = await c.scanBuffer(cursor, 'COUNT', 1000);
    cursor = next.toString();
    keys.push(...batch);
  } while (cursor !== '0');
  for (const key of keys) {
    const type = await c.type(key);
    let value: unknown;
    switch (type) {
      case 'string':
        value = text((await c.getBuffer(key))!);
        break;
      case 'hash': {
        const flat = (await c.callBuffer('HGETALL', key)) as Buffer[];
        const pairs: string[][] = [];
        for (let i = 0; i < flat.length; i += 2) pairs.push([text(flat[i]), text(flat[i + 1])]);
        value = pairs.sort((a, b) => (a[0] < b[0] ? -1 : 1));
        break;
      }
      case 'list':
        value = ((await c.callBuffer('LRANGE', key, '0', '-1')) as Buffer[]).map(text);
        break;
      case 'set':
        value = ((await c.callBuffer('SMEMBERS', key)) as Buffer[]).map(text).sort();
        break;
      case 'zset': {
        const flat = (await c.callBuffer('ZRANGE', key, '0', '-1', 'WITHSCORES')) as Buffer[];
        const pairs: Array<[string, number]> = [];
        for (let i = 0; i < flat.length; i += 2) {
          const s = flat[i + 1].toString();
          pairs.push([text(flat[i]), s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s)]);
        }
        value = pairs;
        break;
      }
      case 'stream':
        value = await c.call('XRANGE', key, '-', '+');
        break;
      default:
        value = `(type ${type})`;
    }
    out.set(text(key), { type, value, pttl: await c.pttl(key) });
  }
  return out;
}

/** Asserts both dumps hold the same keys, types and values, and TTLs within `ttlToleranceMs`. */
export function assertSameContents(actual: Map<string, DumpedKey>, expected: Map<string, DumpedKey>, ttlToleranceMs: number, label = ''): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${label}: key sets differ`);
  for (const [k, e] of expected) {
    const a = actual.get(k)!;
    assert.equal(a.type, e.type, `${label}: type of ${k}`);
    assert.deepEqual(a.value, e.value, `${label}: value of ${k}`);
    if (e.pttl < 0 || a.pttl < 0) assert.equal(a.pttl, e.pttl, `${label}: ${k} persistent on one side only`);
    else assert.ok(Math.abs(a.pttl - e.pttl) <= ttlToleranceMs, `${label}: TTL of ${k}: ${a.pttl} vs ${e.pttl} ms`);
  }
}

/**
 * Reads `actual`, then `expected`, and compares them. The two are read one after the other, so
 * every TTL also shows the time between the reads, which grows on a loaded machine (2.1 s once in
 * CI): TTLs may differ by `ttlToleranceMs` plus that time.
 */
export async function assertSameReads(
  readActual: () => Promise<Map<string, DumpedKey>>,
  readExpected: () => Promise<Map<string, DumpedKey>>,
  ttlToleranceMs: number,
  label = '',
): Promise<{ actual: Map<string, DumpedKey>; expected: Map<string, DumpedKey> }> {
  const start = Date.now();
  const actual = await readActual();
  const expected = await readExpected();
  assertSameContents(actual, expected, ttlToleranceMs + (Date.now() - start), label);
  return { actual, expected };
}

/** Sends converted commands in order on one connection (pipelined); every reply must be a success. */
export async function applyCommands(c: Redis, cmds: ReadonlyArray<RedisCommand>): Promise<void> {
  for (let i = 0; i < cmds.length; i += 500) {
    const batch = cmds.slice(i, i + 500);
    const p = c.pipeline();
    for (const cmd of batch) p.call(cmd.name, ...cmd.args);
    const replies = (await p.exec()) ?? [];
    replies.forEach(([err], j) => {
      if (err !== null) throw new Error(`${batch[j].name} ${batch[j].args.map(String).join(' ').slice(0, 200)} failed: ${err.message}`);
    });
  }
}
