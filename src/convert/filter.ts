import { globToRegExp } from '../core/glob.js';
import type { DataType } from '../core/record.js';

/**
 * Which keys a migration copies: include and exclude globs (Redis `KEYS`/`SCAN MATCH` syntax:
 * `*`, `?`, `[abc]`, `[^a-z]`, `\x`; binary-safe) and a set of types. The same filter applies to
 * snapshot records and to binlog commands, so what is left out of the load is left out of the
 * stream too. No include glob means every key; an exclude glob always wins.
 */
export class KeyFilter {
  private constructor(
    private readonly include: readonly RegExp[],
    private readonly exclude: readonly RegExp[],
    private readonly types: ReadonlySet<DataType> | null,
  ) {}

  /**
   * Null when nothing would be filtered: callers then skip the checks entirely. Types naming all of
   * string, hash, list, set and zset (the default, and what confs from before streams say) mean
   * every type, streams included; a shorter list copies streams only when it names `stream`.
   */
  static from(spec: { include: readonly string[]; exclude: readonly string[]; types: readonly DataType[] | null }): KeyFilter | null {
    const allTypes = spec.types === null || CLASSIC_TYPES.every((t) => spec.types!.includes(t));
    if (spec.include.length === 0 && spec.exclude.length === 0 && allTypes) return null;
    return new KeyFilter(spec.include.map((g) => globToRegExp(g)), spec.exclude.map((g) => globToRegExp(g)), allTypes ? null : new Set(spec.types));
  }

  acceptsKey(key: Buffer): boolean {
    const k = key.toString('latin1');
    if (this.exclude.some((re) => re.test(k))) return false;
    return this.include.length === 0 || this.include.some((re) => re.test(k));
  }

  /** `null` (a command that works on any type: DEL, EXPIRE, …) always passes. */
  acceptsType(type: DataType | null): boolean {
    return type === null || this.types === null || this.types.has(type);
  }
}

const CLASSIC_TYPES: readonly DataType[] = ['string', 'hash', 'list', 'set', 'zset'];
const LIST_COMMANDS = new Set(['lpush', 'rpush', 'lpushx', 'rpushx', 'lpop', 'rpop', 'linsert', 'lrem', 'lset', 'ltrim', 'rpoplpush', 'blpop', 'brpop', 'brpoplpush', 'lmove', 'blmove']);
const SET_COMMANDS = new Set(['sadd', 'srem', 'spop', 'smove', 'sunionstore', 'sinterstore', 'sdiffstore']);
const STRING_COMMANDS = new Set([
  'set', 'setex', 'psetex', 'setnx', 'setrange', 'setbit', 'append', 'incr', 'incrby', 'incrbyfloat', 'decr', 'decrby',
  'getset', 'mset', 'msetnx', 'bitop', 'pksetexat', 'delvx', 'pfadd', 'pfmerge',
]);

/** The type a binlog command writes, or null for commands on any type (DEL, EXPIRE, FLUSHDB, …). */
export function commandType(name: string): DataType | null {
  if (STRING_COMMANDS.has(name)) return 'string';
  if (LIST_COMMANDS.has(name)) return 'list';
  if (SET_COMMANDS.has(name)) return 'set';
  if (name.startsWith('h')) return 'hash';
  if (name.startsWith('z') || name === 'geoadd') return 'zset';
  if (name === 'xadd' || name === 'xdel' || name === 'xtrim') return 'stream';
  return null;
}
