import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import type { DataType } from '../../src/core/record.js';
import { sideKey } from '../../src/core/scripts.js';
import { DEFAULT_TYPE_ORDER } from '../../src/snapshot/pika/snapshot.js';
import { bytesOf, type ExpectedFile } from '../pika/expected.js';

const parseScore = (s: string): number => (s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s));

/**
 * Checks that Redis holds exactly what a master's expected.json says, as pika-migrate must write
 * it: a name held by several types as the first of them in the type order (default: Pika's) and the
 * others under their side names (pika-migrate:t:<type>:<name>), keys that
 * have expired by `nowMs` absent, NaN zset members (which Redis cannot store) absent, expiries
 * within `expirySlackMs` (3.x keeps whole seconds); `types`: the types copied (filter-types), when
 * not all; `sideNames: false`: a target without them (a cluster), the first type only. Returns the
 * number of keys compared.
 */
export async function assertRedisHoldsExpected(c: Redis, exp: ExpectedFile, opts: { nowMs: number; expirySlackMs: number; ignore?: (name: string) => boolean; typeOrder?: readonly DataType[]; types?: readonly DataType[]; sideNames?: boolean }): Promise<number> {
  const live = Object.entries(exp.keys).filter(([name, k]) => !(opts.ignore?.(name) ?? false) && (k.expireAt === null || k.expireAt > opts.nowMs + opts.expirySlackMs));
  const checks = live.flatMap(([name, k]) => {
    const order = opts.typeOrder ?? DEFAULT_TYPE_ORDER;
    const held = order.filter((t) => k.types[t] !== undefined);
    const types = opts.sideNames === false ? held.slice(0, 1) : held;
    // The multi-type rule: the first type in the order under the name, the others under side names
    // (expected.json has one expiry per name: Pika's PTTL, which answers for the first type).
    return types.map((type, i) => (opts.types !== undefined && !opts.types.includes(type) ? Promise.resolve() : checkType(c, name, i === 0 ? bytesOf(name) : sideKey(type, bytesOf(name)), type, k.types[type]!.v, i === 0 ? k.expireAt : undefined, opts.expirySlackMs)));
  });
  await Promise.all(checks);
  return live.length;
}

async function checkType(c: Redis, name: string, key: Buffer, type: DataType, v: unknown, expireAt: number | null | undefined, expirySlackMs: number): Promise<void> {
  assert.equal(await c.type(key), type, name);
  if (type === 'string') assert.deepEqual(await c.getBuffer(key), bytesOf(v as string), name);
  else if (type === 'list') assert.deepEqual(await c.lrangeBuffer(key, 0, -1), (v as string[]).map(bytesOf), name);
  else if (type === 'set') {
    const got = (await c.smembersBuffer(key)).map((b) => b.toString('hex')).sort();
    assert.deepEqual(got, (v as string[]).map((s) => bytesOf(s).toString('hex')).sort(), name);
  } else if (type === 'hash') {
    const flat = (await c.callBuffer('HGETALL', key)) as Buffer[];
    const got: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) got[flat[i].toString('hex')] = flat[i + 1].toString('hex');
    const want = Object.fromEntries(Object.entries(v as Record<string, string>).map(([f, x]) => [bytesOf(f).toString('hex'), bytesOf(x).toString('hex')]));
    assert.deepEqual(got, want, name);
  } else {
    const members = (v as Array<[string, string]>).filter(([, s]) => s !== 'NaN');
    for (const [m, s] of members) assert.equal(parseScore((await c.zscore(key, bytesOf(m)))!), parseScore(s), `${name} ${m}`);
    assert.equal(await c.zcard(key), members.length, `${name} zcard`);
  }
  if (expireAt === undefined) return;
  const at = Number(await c.call('PEXPIRETIME', key));
  if (expireAt === null) assert.equal(at, -1, `${name} persistent`);
  else assert.ok(Math.abs(at - expireAt) <= expirySlackMs, `${name} expiry ${at} vs ${expireAt}`);
}
