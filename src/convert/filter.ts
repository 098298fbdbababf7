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

  /** Null when nothing would be filtered: callers then skip the checks entirely. */
  static from(spec: { include: readonly string[]; exclude: readonly string[]; types: readonly DataType[] | null }): KeyFilter | null {
    const allTypes = spec.types === null || spec.types.length === 5;
    if (spec.include.length === 0 && spec.exclude.length === 0 && allTypes) return null;
    return new KeyFilter(spec.include.map(globToRegExp), spec.exclude.map(globToRegExp), allTypes ? null : new Set(spec.types));
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

/** A Redis glob as an anchored RegExp over the key's latin1 text (one char per byte). */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\' && i + 1 < glob.length) re += escapeRe(glob[++i]);
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, close);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      let cls = '';
      for (let j = 0; j < body.length; j++) {
        if (body[j] === '\\' && j + 1 < body.length) cls += escapeRe(body[++j]);
        else if (body[j + 1] === '-' && j + 2 < body.length) {
          // Redis accepts reversed ranges ([z-a]); a RegExp does not.
          const [lo, hi] = [body[j], body[j + 2]].sort();
          cls += `${escapeRe(lo)}-${escapeRe(hi)}`;
          j += 2;
        } else cls += escapeRe(body[j]);
      }
      re += `[${negate ? '^' : ''}${cls}]`;
      i = close;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}

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
  return null;
}
