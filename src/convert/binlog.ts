import type { BinlogEntry } from '../core/binlog.js';
import { printableBytes, type RedisCommand } from '../core/command.js';
import { formatPosition, type SourcePosition } from '../core/position.js';
import type { DataType } from '../core/record.js';
import { DELETE_IF_VALUE_SCRIPT, DELETE_MATCHING_SCRIPT, LIST_ROTATE_COMMAND, LIST_ROTATE_SCRIPT, SET_IF_VALUE_SCRIPT, SET_KEEP_TTL_SCRIPT, SET_WITH_EXPIRY_SCRIPT, STREAM_SHRINK_SCRIPT, TYPED_WRITE_SCRIPT } from '../core/scripts.js';
import { commandType, type KeyFilter } from './filter.js';
import type { KeyRenamer } from './rename.js';
import type { ConvertNote, ConvertResult, PikaFamily } from './types.js';

export type { ConvertNote, ConvertResult, PikaFamily } from './types.js';

export interface BinlogConvertContext {
  readonly family: PikaFamily;
  /** Wall clock used to decide whether an absolute expiry has already passed. */
  readonly nowMs: number;
  /** The master's `pika_version` (e.g. `3.5.5`), for rules that changed inside a family. */
  readonly version?: string;
  /** Target older than Redis 6.2 (no `SET … EXAT/PXAT`): absolute expiries go through a script. */
  readonly legacyTarget?: boolean;
  /** Keys and types to copy (filter-keys, filter-exclude-keys, filter-types); absent: all. */
  readonly filter?: KeyFilter | null;
  /** Key renames by prefix (key-rename-prefix), applied after the filter; absent: none. */
  readonly rename?: KeyRenamer | null;
  /**
   * A 3.x master (one value per type under one name): `type-order`, and every typed write and every
   * DEL, EXPIRE… and PERSIST go through TYPED_WRITE_SCRIPT (the multi-type rule). Absent or null: a
   * 4.0 master, commands as they are.
   */
  readonly multiType?: MultiTypeRule | null;
}

/** The multi-type rule's settings, made once (multiTypeRule) rather than per entry. */
export interface MultiTypeRule {
  readonly typeOrder: readonly DataType[];
  /** `typeOrder` as TYPED_WRITE_SCRIPT takes it. */
  readonly order: string;
}

export function multiTypeRule(typeOrder: readonly DataType[]): MultiTypeRule {
  return { typeOrder, order: typeOrder.join(',') };
}

/** Commands that act on every type of a name in Pika 3.x (checked on 3.2.7 and 3.5.5). */
const ALL_TYPES = new Set(['del', 'unlink', 'expire', 'pexpire', 'expireat', 'pexpireat', 'persist']);
/** Multi-key writes whose second key is the one written (created); the first is only read or emptied. */
const DEST_SECOND = new Set(['rpoplpush', 'smove']);

/** Last second a 32-bit `time_t` holds: Pika ≤ 3.5 deletes keys given an expiry past it. */
const INT32_MAX = 2147483647;
/** 4.0.1 writes PSETEX's `pksetexat` timestamp in milliseconds; seconds never reach this (year 5138). */
const MS_TIMESTAMP_THRESHOLD = 1e11;

/** Commands whose binlog form is the Redis command itself, on the key `argv[1]`, with their minimum argc. */
const FORWARD: ReadonlyMap<string, number> = new Map([
  ['append', 3], ['decr', 2], ['decrby', 3], ['getset', 3], ['incr', 2], ['incrby', 3], ['incrbyfloat', 3],
  ['setnx', 3], ['setex', 4], ['psetex', 4], ['setrange', 4], ['setbit', 4],
  ['expire', 3], ['pexpire', 3], ['persist', 2],
  ['hset', 4], ['hsetnx', 4], ['hmset', 4], ['hdel', 3], ['hincrby', 4], ['hincrbyfloat', 4],
  ['lpush', 3], ['rpush', 3], ['lpushx', 3], ['rpushx', 3], ['lpop', 2], ['rpop', 2],
  ['linsert', 5], ['lrem', 4], ['lset', 4], ['ltrim', 4],
  ['sadd', 3], ['srem', 3],
  ['zadd', 4], ['zincrby', 4], ['zrem', 3], ['zremrangebylex', 4], ['zremrangebyrank', 4], ['zremrangebyscore', 4],
  ['zpopmax', 2], ['zpopmin', 2], ['geoadd', 5],
  ['xadd', 5], ['xdel', 3], ['xtrim', 4],
]);

/** Multi-key writes whose result depends on several keys: one command behind a barrier. Value: index of the routing key, min argc. */
const BARRIER: ReadonlyMap<string, readonly [number, number]> = new Map([
  ['rpoplpush', [1, 3]], ['smove', [1, 4]], ['msetnx', [1, 3]],
  ['sunionstore', [1, 3]], ['sinterstore', [1, 3]], ['sdiffstore', [1, 3]],
  ['zunionstore', [1, 4]], ['zinterstore', [1, 4]],
  ['bitop', [2, 4]], ['pfmerge', [1, 2]], ['rename', [1, 3]], ['renamenx', [1, 3]],
]);

/** Logged because Pika flags them as writes, but they change no data (§5.3/§5.4). */
const DROPPED_INTERNAL = new Set(['padding', 'clearcache', 'clearreplicationid', 'slotsmgrt-exec-wrapper', 'sdiff', 'sinter', 'sunion', 'multi', 'exec']);

/** Pika's type names in `flushdb <type>` / `pkpatternmatchdel … <type>` and Redis's TYPE names. */
const PIKA_TYPES: ReadonlyMap<string, string> = new Map([
  ['string', 'string'], ['hash', 'hash'], ['list', 'list'], ['set', 'set'], ['zset', 'zset'], ['stream', 'stream'],
]);

/**
 * Converts one binlog entry into Redis commands (replication.md §5.3–5.5, observed.md). Every
 * command carries the entry's end position; anything dropped, emulated or not reproducible
 * exactly comes back as a note, never silently.
 */
export function convertEntry(entry: BinlogEntry, ctx: BinlogConvertContext): ConvertResult {
  const c = new Conversion(entry, ctx);
  c.run();
  return { commands: c.commands, notes: c.notes };
}

const lowerName = (argv: readonly Buffer[]): string => (argv.length > 0 ? argv[0].toString('latin1').toLowerCase() : '');

/**
 * C/D masters log RPOPLPUSH k k as `RPOP k` + `LPUSH k v`, and C logs SMOVE k k m as `srem k m`
 * + `sadd k m` (replication.md §5.3). Replayed one by one, a key of one element is emptied in
 * between: Redis deletes it and its TTL, and the second command makes a new key without one,
 * where the master's key never stopped existing (seen on real 3.5.5 and 4.0.1; 4.0.1's own
 * SMOVE k k m drops the set's TTL, so there its two entries are right as they are). The binlog
 * applier holds an entry this accepts (the pair's first half) until the next one, and converts
 * the two with convertSelfMove.
 */
export function startsSelfMove(entry: BinlogEntry, family: PikaFamily): boolean {
  // Asked of every entry: the tests that allocate nothing come first.
  const a = entry.argv;
  if (a.length < 2 || a.length > 3 || a[0].length !== 4 || (family !== 'C' && family !== 'D')) return false;
  const name = lowerName(a);
  return (name === 'rpop' && a.length === 2) || (name === 'srem' && a.length === 3 && family === 'C');
}

/**
 * The pair `first`, `second` as one step, or null when `second` is not `first`'s second half.
 * `RPOP k` + `LPUSH k v`: LIST_ROTATE_SCRIPT (RPOPLPUSH k k when k's last element is v).
 * `srem k m` + `sadd k m`: the SADD alone, which leaves the set as SMOVE k k m did. A client's own
 * SREM and SADD of the same member, next to each other in the binlog, cannot be told apart from
 * it: when m was the set's only member, the master dropped the set's TTL and the copy keeps it.
 * The commands carry `second`'s position.
 */
export function convertSelfMove(first: BinlogEntry, second: BinlogEntry, ctx: BinlogConvertContext): ConvertResult | null {
  const f = first.argv;
  const s = second.argv;
  if (first.db !== second.db || s.length !== 3 || !s[1].equals(f[1])) return null;
  const pair = `${lowerName(f)} ${lowerName(s)}`;
  let r: ConvertResult;
  if (pair === 'rpop lpush') {
    const c = new Conversion(second, ctx);
    c.listRotation();
    r = { commands: c.commands, notes: c.notes };
  } else if (pair === 'srem sadd' && ctx.family === 'C' && f.length === 3 && s[2].equals(f[2])) {
    r = convertEntry(second, ctx);
  } else {
    return null;
  }
  const what = `${formatPosition({ kind: 'binlog', db: second.db, ...first.end })} '${printableBytes(f[0], 10)} ${printableBytes(f[1], 60)}' and the entry after it`;
  const note: ConvertNote = { level: 'debug', code: 'self-move', message: `${what}: the master's form of ${pair === 'rpop lpush' ? 'RPOPLPUSH k k' : 'SMOVE k k m'}, applied as one step` };
  return { commands: r.commands, notes: [...r.notes, note] };
}

/** The notes of an entry that has none (nearly all): one shared, frozen array instead of one each. */
const NO_NOTES: readonly ConvertNote[] = Object.freeze([]);

class Conversion {
  /**
   * Most entries become one command: the first is stored as a one-element array, since a push
   * onto an empty one makes room for 17.
   */
  commands: RedisCommand[] = [];
  notes: readonly ConvertNote[] = NO_NOTES;
  private readonly pos: SourcePosition;
  private readonly argv: Buffer[];
  private readonly name: string;
  /** The arguments of the entry that are keys (the very Buffers of argv), for the renames. */
  private readonly keyArgs: readonly Buffer[] | null;

  constructor(
    entry: BinlogEntry,
    private readonly ctx: BinlogConvertContext,
  ) {
    this.pos = { kind: 'binlog', db: entry.db, filenum: entry.end.filenum, offset: entry.end.offset };
    this.argv = entry.argv;
    this.name = lowerName(entry.argv);
    this.keyArgs = ctx.rename || ctx.multiType ? keyArgsOf(this.name, this.argv) : null;
  }

  run(): void {
    const { name, argv } = this;
    const filter = this.ctx.filter;
    if (filter && !filter.acceptsType(commandType(name))) {
      this.note('debug', 'filtered', 'a type left out by filter-types; not copied');
      return;
    }
    if (DROPPED_INTERNAL.has(name)) {
      this.note('info', 'dropped-internal', 'changes no data (Pika internal or read-only command logged as a write); dropped');
      return;
    }
    const min = FORWARD.get(name);
    if (min !== undefined) {
      if (!this.arity(min)) return;
      if (name === 'zadd') return this.zadd();
      if (name === 'xadd' || name === 'xdel' || name === 'xtrim') return this.streamWrite();
      this.emit(name.toUpperCase(), argv.slice(1), argv[1]);
      return;
    }
    const barrier = BARRIER.get(name);
    if (barrier !== undefined) {
      const [keyIndex, minArgc] = barrier;
      if (!this.arity(minArgc)) return;
      if (name === 'pfmerge') this.hllNote();
      if ((name === 'zunionstore' || name === 'zinterstore') && this.ctx.family === 'A') {
        // Seen on the real 3.2.7: its Z*STORE does not see the sources' -inf members and stores NaN
        // for inf + -inf or 0 × inf where Redis stores 0. The binlog holds the command, not the result.
        this.note('info', 'zstore-inf-arithmetic', 'Pika 3.2 computes ZUNIONSTORE/ZINTERSTORE over ±inf scores unlike Redis; if a source held ±inf, the result differs from the master\'s');
      }
      const keys = keyIndices(name, argv).map((i) => argv[i]);
      if (filter) {
        const passing = keys.filter((k) => filter.acceptsKey(k)).length;
        if (passing === 0) return this.note('debug', 'filtered', 'keys left out by the key filter; not copied');
        if (passing < keys.length) {
          return this.note('warn', 'filter-mixed', 'reads or writes keys on both sides of the key filter; not copied, so the copied keys among them may differ from the master');
        }
      }
      const single = keys.every((k) => k.equals(keys[0]));
      this.emit(name.toUpperCase(), argv.slice(1), argv[keyIndex], !single);
      return;
    }
    switch (name) {
      case 'set':
        return this.set();
      case 'pksetexat':
        return this.pksetexat();
      case 'expireat':
        return this.expireAt(1);
      case 'pexpireat':
        return this.expireAt(1000);
      case 'del':
      case 'unlink':
        if (!this.arity(2)) return;
        for (const k of argv.slice(1)) this.emit(name.toUpperCase(), [k], k);
        return;
      case 'mset':
        if (argv.length < 3 || (argv.length - 1) % 2 !== 0) return this.badArity();
        for (let i = 1; i < argv.length; i += 2) this.emit('SET', [argv[i], argv[i + 1]], argv[i]);
        return;
      case 'delvx':
        if (!this.arity(3)) return;
        this.emit('EVAL', [DELETE_IF_VALUE_SCRIPT, '1', argv[1], argv[2]], argv[1]);
        return;
      case 'pfadd':
        if (!this.arity(2)) return;
        this.hllNote();
        this.emit('PFADD', argv.slice(1), argv[1]);
        return;
      case 'spop':
        if (!this.arity(2)) return;
        this.spopNote();
        this.emit('SPOP', argv.slice(1), argv[1]);
        return;
      case 'blpop':
      case 'brpop':
        return this.blockingPop();
      case 'flushdb':
        return this.flushdb();
      case 'flushall':
        this.note('warn', 'flushall', 'FLUSHALL empties every DB of the target, as it emptied every DB of the master');
        this.emit('FLUSHALL', [], null, true);
        return;
      case 'pkpatternmatchdel':
        return this.patternMatchDel();
      default:
        this.note('warn', 'unknown-command', 'not a write command this converter knows; dropped');
    }
  }

  /** `LPUSH k v` that follows `RPOP k` (convertSelfMove). */
  listRotation(): void {
    const filter = this.ctx.filter;
    if (filter && !filter.acceptsType('list')) return this.note('debug', 'filtered', 'a type left out by filter-types; not copied');
    const [, k, v] = this.argv;
    if (this.ctx.multiType) this.emit(LIST_ROTATE_COMMAND, [k, v], k);
    else this.emit('EVAL', [LIST_ROTATE_SCRIPT, '1', k, v], k);
  }

  /**
   * C/D log a ZUNIONSTORE/ZINTERSTORE result as `zadd` with `%.17g` scores; Pika keeps a NaN score
   * (inf + -inf), printed `nan`/`-nan`, which Redis refuses: those members are left out, reported.
   * A member named twice keeps its first score on Pika (3.2.7–4.0.1), its last on Redis: only
   * the first is sent.
   */
  private zadd(): void {
    const a = this.argv;
    const isNaNText = (b: Buffer) => /^[+-]?nan$/i.test(b.toString('latin1'));
    const plainPairs = (a.length - 2) % 2 === 0 && !a.slice(2).some((b, i) => i % 2 === 0 && /^(nx|xx|ch|incr|gt|lt)$/i.test(b.toString('latin1')));
    if (!plainPairs) {
      this.emit('ZADD', a.slice(1), a[1]);
      return;
    }
    const kept: Buffer[] = [];
    const seen = new Set<string>();
    for (let i = 2; i < a.length; i += 2) {
      const member = a[i + 1].toString('latin1');
      if (seen.has(member)) continue;
      seen.add(member);
      if (isNaNText(a[i])) {
        this.note('warn', 'zset-nan-score', `member '${printableBytes(a[i + 1], 60)}' has score NaN, which Redis cannot store; member skipped`);
      } else {
        kept.push(a[i], a[i + 1]);
      }
    }
    if (kept.length > 0) this.emit('ZADD', [a[1], ...kept], a[1]);
  }

  private set(): void {
    const a = this.argv;
    if (!this.arity(3)) return;
    let target: Buffer | null = null;
    const ttl: Buffer[] = [];
    for (let i = 3; i < a.length; i++) {
      const opt = a[i].toString('latin1').toLowerCase();
      if ((opt === 'ex' || opt === 'px') && i + 1 < a.length) {
        ttl.push(Buffer.from(opt.toUpperCase()), a[++i]);
      } else if (opt === 'vx' && i + 1 < a.length) {
        target = a[++i];
      } else if (opt !== 'nx' && opt !== 'xx') {
        this.note('warn', 'unknown-option', `SET option '${printableBytes(a[i], 40)}' passed through as logged`);
      }
    }
    if (target === null) {
      // Relative EX/PX here (only with NX/XX) drifts by the replication delay, as on a Pika replica.
      this.emit('SET', a.slice(1), a[1]);
      return;
    }
    this.emit('EVAL', [SET_IF_VALUE_SCRIPT, '1', a[1], target, a[2], ...ttl], a[1]);
  }

  /** `pksetexat k ts v`: SET with an absolute expiry; never a relative SETEX (it fails once ts has passed). */
  private pksetexat(): void {
    const a = this.argv;
    if (a.length !== 4) return this.badArity();
    const ts = this.integer(a[2]);
    if (ts === null) return;
    if (ts <= 0) {
      // 0: the INCR family's new value. 4.0.1 writes 0 only for a key without TTL; 3.5.5 always,
      // though its INCR/APPEND kept the key's TTL: the target keeps its own, which is that TTL.
      if (a[3].length === 0) {
        // INCR never makes '': an APPEND to a missing key, which 3.5.5 and 4.0.1 log without the
        // appended value (Pika's own replicas get '' too). Written as logged; the master differs.
        this.note('warn', 'append-value-lost', 'pksetexat with timestamp 0 and an empty value: Pika logged an APPEND to a missing key without its value; the target gets an empty string');
      }
      if (this.ctx.family !== 'C') this.emit('SET', [a[1], a[3]], a[1]);
      else if (this.ctx.legacyTarget === true) this.emit('EVAL', [SET_KEEP_TTL_SCRIPT, '1', a[1], a[3]], a[1]);
      else this.emit('SET', [a[1], a[3], 'KEEPTTL'], a[1]);
      return;
    }
    const isMs = this.ctx.family === 'D' && ts >= MS_TIMESTAMP_THRESHOLD;
    const atMs = isMs ? ts : ts * 1000;
    if (atMs <= this.ctx.nowMs) {
      this.note('info', 'expired-on-arrival', 'expiry already passed: the key is deleted instead of written');
      this.emit('DEL', [a[1]], a[1]);
      return;
    }
    if (!isMs && ts > INT32_MAX && this.ctx.family !== 'D') {
      this.note('warn', 'ttl-past-2038', 'expiry past 2038 from a 32-bit Pika: the master may hold a different expiry');
    }
    if (this.ctx.legacyTarget === true) {
      this.emit('EVAL', [SET_WITH_EXPIRY_SCRIPT, '1', a[1], a[3], isMs ? 'PEXPIREAT' : 'EXPIREAT', a[2]], a[1]);
      return;
    }
    this.emit('SET', [a[1], a[3], isMs ? 'PXAT' : 'EXAT', a[2]], a[1]);
  }

  /** EXPIREAT (unit 1) / PEXPIREAT (unit 1000). A–C store expiry in 32-bit seconds: past 2038 the key is gone at once. */
  private expireAt(unit: 1 | 1000): void {
    const a = this.argv;
    if (!this.arity(3)) return;
    const ts = this.integer(a[2]);
    if (ts === null) return;
    if (this.ctx.family !== 'D' && Math.floor(ts / unit) > INT32_MAX) {
      this.note('warn', 'expireat-past-2038', 'expiry past 2038: Pika ≤ 3.5 deleted the key at once (32-bit time), so it is deleted here too');
      this.emit('DEL', [a[1]], a[1]);
      return;
    }
    this.emit(unit === 1 ? 'EXPIREAT' : 'PEXPIREAT', a.slice(1), a[1]);
  }

  private blockingPop(): void {
    const a = this.argv;
    if (!this.arity(3)) return;
    const pop = this.name === 'blpop' ? 'LPOP' : 'RPOP';
    if (a.length === 3) {
      // Never forward a blocking pop: it could stall the sender. The one key it names is the key served.
      this.emit(pop, [a[1]], a[1]);
      return;
    }
    this.note('warn', 'unconvertible', 'blocking pop over several keys: the key served is not logged; dropped');
  }

  private flushdb(): void {
    const a = this.argv;
    if (a.length === 1) {
      this.emit('FLUSHDB', [], null, true);
      return;
    }
    if (a.length !== 2) return this.badArity();
    const type = PIKA_TYPES.get(a[1].toString('latin1').toLowerCase());
    if (type === undefined) {
      this.note('warn', 'unconvertible', 'flushdb with an unknown type; dropped');
      return;
    }
    this.note('warn', 'emulated', `flushdb ${type}: emulated by a script that SCANs the target for keys of TYPE ${type} and deletes them`);
    this.emit('EVAL', [DELETE_MATCHING_SCRIPT, '0', '*', type, '0'], null, true);
  }

  /**
   * `pkpatternmatchdel pattern type` (A/B), `pattern type [max]` (C; 3.5.5 caps at 100 without max),
   * `pattern [max]` over all types (D 4.0.x; 4.0.1 itself logs one `del` per key instead).
   */
  private patternMatchDel(): void {
    const a = this.argv;
    if (!this.arity(2)) return;
    const d = this.ctx.family === 'D';
    let type = '';
    if (!d) {
      if (a.length < 3) return this.badArity();
      const t = PIKA_TYPES.get(a[2].toString('latin1').toLowerCase());
      if (t === undefined) {
        this.note('warn', 'unconvertible', 'pkpatternmatchdel with an unknown type; dropped');
        return;
      }
      type = t;
    }
    const maxArg = d ? a[2] : a[3];
    let limit = 0;
    if (maxArg !== undefined) {
      const n = this.integer(maxArg);
      if (n === null) return;
      limit = n;
    } else if (this.versionAtLeast('3.5.5') && this.ctx.family === 'C') {
      limit = 100;
    }
    const what = `${type === '' ? 'keys of any type' : `keys of TYPE ${type}`} matching '${printableBytes(a[1], 80)}'${limit > 0 ? `, at most ${limit} in key order` : ''}`;
    this.note('warn', 'emulated', `pkpatternmatchdel: emulated by a script that SCANs the target and deletes ${what}; exact only while the target matches the master`);
    if (this.ctx.rename) this.note('warn', 'rename-pattern', 'key-rename-prefix does not apply to the pattern (a glob cannot be renamed in general): it matches target names as they are');
    this.emit('EVAL', [DELETE_MATCHING_SCRIPT, '0', a[1], type, String(limit)], null, true);
  }

  private hllNote(): void {
    this.note('warn', 'hll-not-portable', 'HyperLogLog write: Pika and Redis encode HLLs differently; the Redis result is Redis\'s own estimate and fails on a key holding Pika HLL bytes');
  }

  private spopNote(): void {
    this.note('warn', 'spop-nondeterministic', 'SPOP logged without the popped member (Pika < 3.5.4): the target removes a random member, maybe another one');
  }

  private integer(b: Buffer): number | null {
    const s = b.toString('latin1');
    if (/^-?\d{1,16}$/.test(s)) return Number(s);
    this.note('warn', 'unconvertible', `'${printableBytes(b, 40)}' is not an integer; dropped`);
    return null;
  }

  private versionAtLeast(v: string): boolean {
    if (this.ctx.version === undefined) return false;
    const parse = (s: string) => s.split(/[.-]/).slice(0, 3).map((x) => Number.parseInt(x, 10) || 0);
    const [a, b] = [parse(this.ctx.version), parse(v)];
    for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
    return true;
  }

  /**
   * XADD (its `*` already replaced by the generated ID in the binlog), XDEL, XTRIM. Pika always
   * trims exactly (`~` is accepted and ignored: pika_stream.cc ParseAddOrTrimArgsOrReply), while
   * Redis's `~` trims less: made `=`. A write that can empty the stream runs in
   * STREAM_SHRINK_SCRIPT, which deletes an emptied stream as Pika forgets it.
   */
  private streamWrite(): void {
    const { name, argv } = this;
    const args = argv.slice(1);
    let trims = name !== 'xadd';
    for (let i = 1; i < args.length; i++) {
      const opt = args[i].toString('latin1').toLowerCase();
      if (opt === 'maxlen' || opt === 'minid') {
        trims = true;
        if (args[i + 1]?.toString('latin1') === '~') args[i + 1] = Buffer.from('=');
        i += args[i + 1]?.length === 1 && '~='.includes(args[i + 1].toString('latin1')) ? 2 : 1;
      } else if (name === 'xadd' && opt !== 'nomkstream') break; // the ID: fields follow
    }
    if (!trims) return this.emit('XADD', args, argv[1]);
    this.emit('EVAL', [STREAM_SHRINK_SCRIPT, '1', argv[1], name.toUpperCase(), ...args.slice(1)], argv[1]);
  }

  private arity(min: number): boolean {
    if (this.argv.length >= min) return true;
    this.badArity();
    return false;
  }

  private badArity(): void {
    this.note('warn', 'bad-arity', `wrong number of arguments (${this.argv.length - 1}); dropped`);
  }

  private emit(name: string, args: ReadonlyArray<Buffer | string>, key: Buffer | null, barrier = false): void {
    if (key !== null && this.ctx.filter && !this.ctx.filter.acceptsKey(key)) {
      this.note('debug', 'filtered', 'a key left out by the key filter; not copied');
      return;
    }
    const rename = this.ctx.rename;
    const keyArgs = this.keyArgs;
    const typed = this.ctx.multiType && keyArgs !== null && name !== 'EVAL' ? this.typedForm(name, args, keyArgs) : null;
    if (rename && keyArgs !== null) {
      // Every argument that is one of the entry's keys (incl. an EVAL's KEYS), and the routing key.
      args = args.map((a) => (typeof a !== 'string' && keyArgs.includes(a) ? rename.apply(a) : a));
      if (key !== null) key = rename.apply(key);
    }
    if (typed !== null) {
      args = typedArgs(name, args, typed, this.ctx.multiType!.order);
      name = 'EVAL';
    }
    const cmd: RedisCommand = barrier ? { name, args, key, barrier: true, pos: this.pos } : { name, args, key, pos: this.pos };
    if (this.commands.length === 0) this.commands = [cmd];
    else this.commands.push(cmd);
  }

  /**
   * The multi-type rule's form of a command (see TYPED_WRITE_SCRIPT): its type, one role per key
   * and the keys' positions in `[name, ...args]`; null for a command it does not apply to.
   */
  private typedForm(name: string, args: ReadonlyArray<Buffer | string>, keyArgs: readonly Buffer[]): TypedForm | null {
    const all = ALL_TYPES.has(this.name);
    const type = all ? '*' : commandType(this.name);
    if (type === null) return null;
    let n = 0;
    for (let i = 0; i < args.length; i++) if (isKeyArg(args[i], keyArgs)) n++;
    if (n === 0) return null;
    // Sized up front: an array grown by push got room for 17 positions, for nearly always one.
    const positions = new Array<number>(n);
    n = 0;
    for (let i = 0; i < args.length; i++) if (isKeyArg(args[i], keyArgs)) positions[n++] = i + 2;
    let roles: string;
    if (all) roles = 'a';
    else if (DEST_SECOND.has(this.name) && n === 2) roles = 'rw';
    else roles = 'w' + 'r'.repeat(n - 1);
    if (this.name === 'msetnx') roles = 'w'.repeat(n);
    return { type, roles, positions };
  }

  private note(level: ConvertNote['level'], code: string, text: string): void {
    const what = this.argv.slice(0, 2).map((b) => printableBytes(b, 60)).join(' ');
    this.notes = [...this.notes, { level, code, message: `${formatPosition(this.pos)} '${what}': ${text}` }];
  }
}

/** The multi-type rule's form of one command (Conversion.typedForm). */
interface TypedForm {
  readonly type: string;
  readonly roles: string;
  /** Where the keys are in `[name, ...args]`, 1-based as the script's ARGV (the name is at 1). */
  readonly positions: readonly number[];
}

function isKeyArg(a: Buffer | string, keyArgs: readonly Buffer[]): a is Buffer {
  return typeof a !== 'string' && keyArgs.includes(a);
}

/**
 * `EVAL TYPED_WRITE_SCRIPT n key… order type roles positions name args…`, laid out in one array
 * of its final size: the spread form copied every streamed entry's arguments through iterators.
 */
function typedArgs(name: string, args: ReadonlyArray<Buffer | string>, typed: TypedForm, order: string): Array<Buffer | string> {
  const p = typed.positions;
  const out = new Array<Buffer | string>(7 + p.length + args.length);
  let o = 0;
  out[o++] = TYPED_WRITE_SCRIPT;
  out[o++] = String(p.length);
  for (let i = 0; i < p.length; i++) out[o++] = args[p[i] - 2];
  out[o++] = order;
  out[o++] = typed.type;
  out[o++] = typed.roles;
  out[o++] = p.join(',');
  out[o++] = name;
  for (let i = 0; i < args.length; i++) out[o++] = args[i];
  return out;
}

/** The entry's arguments that are keys, the very Buffers of argv (see keyIndices). */
function keyArgsOf(name: string, argv: readonly Buffer[]): Buffer[] {
  const at = keyIndices(name, argv);
  const out = new Array<Buffer>(at.length);
  for (let i = 0; i < at.length; i++) out[i] = argv[at[i]];
  return out;
}

function range(from: number, to: number, step = 1): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i += step) out.push(i);
  return out;
}

/**
 * Where the keys are in a binlog command's argv (indices; argv[0] is the name): the one table of
 * key positions, used by the key filter's mixed-keys check and by the renames. Commands not listed
 * (FLUSHDB, FLUSHALL, pkpatternmatchdel's pattern, unknown ones) have none.
 */
export function keyIndices(name: string, argv: readonly Buffer[]): number[] {
  const n = argv.length;
  if (n < 2) return [];
  if (FORWARD.has(name)) return [1];
  switch (name) {
    case 'set':
    case 'pksetexat':
    case 'expireat':
    case 'pexpireat':
    case 'delvx':
    case 'pfadd':
    case 'spop':
      return [1];
    case 'rpoplpush':
    case 'smove':
    case 'rename':
    case 'renamenx':
      return n >= 3 ? [1, 2] : [1];
    case 'mset':
    case 'msetnx':
      return range(1, n, 2);
    case 'bitop':
      return range(2, n);
    case 'zunionstore':
    case 'zinterstore': {
      const k = n > 2 ? Number(argv[2].toString('latin1')) : NaN;
      return Number.isInteger(k) && k > 0 ? [1, ...range(3, Math.min(n, 3 + k))] : [1];
    }
    case 'blpop':
    case 'brpop':
      return range(1, n - 1);
    case 'del':
    case 'unlink':
    case 'sunionstore':
    case 'sinterstore':
    case 'sdiffstore':
    case 'pfmerge':
      return range(1, n);
    default:
      return [];
  }
}
