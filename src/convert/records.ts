import { createHash, type Hash } from 'node:crypto';
import { printableBytes, type RedisCommand } from '../core/command.js';
import { CorruptionError } from '../core/errors.js';
import { formatPosition } from '../core/position.js';
import type { SnapshotRecord, ValuePiece } from '../core/record.js';
import {
  GUARDED_WRITE_SCRIPT,
  LOAD_GUARD_KEY,
  NOTE_SIDE_SCRIPT,
  SET_WITH_EXPIRY_SCRIPT,
  sideKey,
  stagingKey,
  UNSTAGE_COMMAND,
  UNSTAGE_SCRIPT,
} from '../core/scripts.js';
import type { KeyRenamer } from './rename.js';
import type { ConvertNote } from './types.js';

/** What sizes a big value at its first piece: one byte written at its last offset. */
const ZERO_BYTE = Buffer.alloc(1);

/**
 * What happens to a key that already exists on the target:
 * - `merge`: write into it (fields/members add up; a string is overwritten; another type fails
 *   with WRONGTYPE, which the sink reports);
 * - `replace`: `DEL` it before the first chunk, so the target holds exactly the source's value;
 * - `skip`: leave it as it is; every kept key is reported (error code PMKEYSKIPPED) and counted;
 * - `fail`: stop the load at the first such key, which is left as it is (PMKEYEXISTS).
 * Skip and fail decide at the key's first command, atomically on the target (GUARDED_WRITE_SCRIPT),
 * so a key written by someone else between two chunks cannot be merged into half-way.
 */
export type ConflictPolicy = 'merge' | 'replace' | 'skip' | 'fail';
export const CONFLICT_POLICIES: readonly ConflictPolicy[] = ['merge', 'replace', 'skip', 'fail'];

export interface RecordConvertOptions {
  /** Wall clock: keys whose expiry is at or before it are not written. */
  readonly nowMs: () => number;
  readonly conflict?: ConflictPolicy;
  /** Elements (fields, members) per HSET/RPUSH/SADD/ZADD; default 512. */
  readonly maxItemsPerCommand?: number;
  /** Approximate argument bytes per command (at least one element each); default 1 MiB. */
  readonly maxBytesPerCommand?: number;
  /** Target older than Redis 6.2 (no `SET … PXAT`): expiring strings go through a script. */
  readonly legacyTarget?: boolean;
  /** Receives what cannot be written exactly (e.g. a NaN zset score, which Redis refuses). */
  readonly onNote?: (note: ConvertNote) => void;
  /** Key renames by prefix (key-rename-prefix); the caller filters on the source name first. */
  readonly rename?: KeyRenamer | null;
  /**
   * Target older than Redis 7.0: `XSETID` takes the last ID only, so a stream's entries-added
   * counter and max deleted ID are not copied (noted once, code `stream-counters`).
   */
  readonly noStreamCounters?: boolean;
  /** `type-order`, comma separated, for the side names of `shadowed` records (NOTE_SIDE_SCRIPT). */
  readonly sideOrder?: string;
}

/**
 * Turns snapshot records into Redis commands. Stateful across the chunks of one key (they arrive
 * one after the other): a key skipped at its first chunk because it had expired stays skipped, and
 * a key that expires while its chunks are written gets its past `PEXPIREAT` at the end, which makes
 * Redis drop what was written.
 */
export class SnapshotRecordConverter {
  private readonly conflict: ConflictPolicy;
  private readonly maxItems: number;
  private readonly maxBytes: number;
  /** Whether the key whose chunks are in progress is being written. */
  private writing = false;
  /** Skip/fail: whether the key's first command (the one that decides) is still to come. */
  private undecided = false;
  private counterNoteGiven = false;
  /** The value being built in a staging key (stagedPiece): its key, the next byte expected, its running SHA-1. */
  private staged: { key: Buffer; next: number; sha1: Hash } | null = null;

  constructor(private readonly opts: RecordConvertOptions) {
    this.conflict = opts.conflict ?? 'merge';
    this.maxItems = opts.maxItemsPerCommand ?? 512;
    this.maxBytes = opts.maxBytesPerCommand ?? 1024 * 1024;
  }

  convert(source: SnapshotRecord): RedisCommand[] {
    const rename = this.opts.rename;
    const named = rename ? { ...source, key: rename.apply(source.key) } : source;
    if (named.shadowed === true) return this.sideCommands(named);
    return this.guardedCommands(named);
  }

  /**
   * A losing type of a name held in several types (3.x) goes under its side name (multi-type
   * rule), routed by the name so that it follows the name's own commands on the same sender;
   * after its last chunk the name is entered for the expiry sweep when its value expires.
   */
  private sideCommands(named: SnapshotRecord): RedisCommand[] {
    const out = this.guardedCommands({ ...named, key: sideKey(named.type, named.key) }).map((c) => ({ ...c, key: named.key }));
    if (named.last && this.writing) out.push({ name: 'EVAL', args: [NOTE_SIDE_SCRIPT, '1', named.key, this.opts.sideOrder ?? 'string,hash,list,set,zset'], key: named.key, pos: named.pos });
    return out;
  }

  private guardedCommands(rec: SnapshotRecord): RedisCommand[] {
    if (rec.first) this.undecided = true;
    const out = this.commandsOf(rec);
    if (!this.guarded()) return out;
    if (!this.writing) return out;
    // A script cannot EVAL: UNSTAGE_SCRIPT's step is a command of the guard's own.
    const inner: Array<ReadonlyArray<Buffer | string>> = out.map((c) => (c.name === 'EVAL' && c.args[0] === UNSTAGE_SCRIPT ? [UNSTAGE_COMMAND, ...c.args.slice(3)] : [c.name, ...c.args]));
    // The last chunk may convert to nothing (every score NaN): the guard still needs closing.
    if (rec.last && inner.length === 0 && !this.undecided) inner.push([]);
    return inner.map((argv, i) => {
      const flags = `${this.undecided ? 'f' : ''}${rec.last && i === inner.length - 1 ? 'l' : ''}` || '-';
      this.undecided = false;
      return { name: 'EVAL', args: [GUARDED_WRITE_SCRIPT, '2', rec.key, LOAD_GUARD_KEY, this.conflict, flags, ...argv], key: rec.key, pos: rec.pos };
    });
  }

  /** Skip and fail wrap every command in the guard script. */
  private guarded(): boolean {
    return this.conflict === 'skip' || this.conflict === 'fail';
  }

  private commandsOf(rec: SnapshotRecord): RedisCommand[] {
    const expired = rec.expireAtMs !== null && rec.expireAtMs <= this.opts.nowMs();
    if (rec.first) this.writing = !expired;
    if (!this.writing) return [];
    if (!expired && rec.type === 'string') return this.stringCommands(rec);
    return this.elementCommands(rec, expired);
  }

  /**
   * Apart from commandsOf: the closure below makes V8 allocate a context at function entry, which
   * a string (most keys of most snapshots) then paid for without using it.
   */
  private elementCommands(rec: SnapshotRecord, expired: boolean): RedisCommand[] {
    const out: RedisCommand[] = [];
    const cmd = (name: string, args: ReadonlyArray<Buffer | string>): void => {
      out.push({ name, args, key: rec.key, pos: rec.pos });
    };
    if (expired) {
      // It expired after its first chunk was written: the past expiry deletes it on the target,
      // and what a big element had staged goes too.
      const piece = rec.type === 'hash' || rec.type === 'list' ? rec.piece : undefined;
      if (piece !== undefined && this.staged !== null && this.staged.key.equals(rec.key)) {
        this.staged = null;
        cmd('DEL', [stagingKey(rec.key)]);
      }
      if (rec.last && rec.expireAtMs !== null) cmd('PEXPIREAT', [rec.key, String(rec.expireAtMs)]);
      return out;
    }
    if (rec.first && this.conflict === 'replace') cmd('DEL', [rec.key]);
    switch (rec.type) {
      case 'hash': {
        if (rec.piece !== undefined) {
          out.push(...this.stagedPiece(rec, rec.piece, rec.fields[0][1], ['HSET', rec.fields[0][0]]));
          break;
        }
        const fields = rec.fields;
        this.chunks(fields, (f) => f[0].length + f[1].length, (from, to) => {
          const args = keyThen(rec.key, 2 * (to - from));
          for (let i = from, o = 1; i < to; i++) {
            args[o++] = fields[i][0];
            args[o++] = fields[i][1];
          }
          cmd('HSET', args);
        });
        break;
      }
      case 'list':
        if (rec.piece !== undefined) out.push(...this.stagedPiece(rec, rec.piece, rec.elements[0], ['RPUSH']));
        else this.chunks(rec.elements, (e) => e.length, (from, to) => cmd('RPUSH', keyThenSlice(rec.key, rec.elements, from, to)));
        break;
      case 'set':
        this.chunks(rec.members, (m) => m.length, (from, to) => cmd('SADD', keyThenSlice(rec.key, rec.members, from, to)));
        break;
      case 'zset': {
        const members = this.withoutNaN(rec);
        this.chunks(members, (m) => m[0].length + 24, (from, to) => {
          const args = keyThen(rec.key, 2 * (to - from));
          for (let i = from, o = 1; i < to; i++) {
            args[o++] = formatScore(members[i][1], rec);
            args[o++] = members[i][0];
          }
          cmd('ZADD', args);
        });
        break;
      }
      case 'stream':
        // One entry per XADD (Redis adds one at a time), with Pika's IDs; then the meta's counters.
        for (const e of rec.entries) cmd('XADD', [rec.key, e.id, ...e.fields]);
        if (rec.last) cmd('XSETID', this.xsetid(rec));
        break;
    }
    if (rec.last && rec.expireAtMs !== null) cmd('PEXPIREAT', [rec.key, String(rec.expireAtMs)]);
    return out;
  }

  /**
   * A string record: one command, built without the closure and growable array of the other types
   * (a snapshot of small strings is a million of these, and those objects were a third of what the
   * load allocated per key). SET replaces any value and TTL, so neither policy needs a DEL.
   */
  private stringCommands(rec: Extract<SnapshotRecord, { type: 'string' }>): RedisCommand[] {
    const { key, value, pos } = rec;
    const at = rec.expireAtMs;
    const piece = rec.piece;
    if (piece !== undefined) {
      // A big string in pieces: SET replaces whatever the key held and SETRANGE at the value's last
      // byte sizes it once; each later piece is a SETRANGE into it, the expiry comes after the last
      // one (as a big hash's). APPENDs grew it piece by piece: Redis spent 1.5 s of CPU on a 64 MiB
      // value in 1 MiB APPENDs, 0.24 s this way. A resumed load starts again at SET.
      const out: RedisCommand[] =
        piece.offset === 0 ? [{ name: 'SET', args: [key, value], key, pos }] : [{ name: 'SETRANGE', args: [key, String(piece.offset), value], key, pos }];
      if (piece.offset === 0 && piece.total > value.length) out.push({ name: 'SETRANGE', args: [key, String(piece.total - 1), ZERO_BYTE], key, pos });
      if (rec.last && at !== null) out.push({ name: 'PEXPIREAT', args: [key, String(at)], key, pos });
      return out;
    }
    if (at === null) return [{ name: 'SET', args: [key, value], key, pos }];
    if (this.opts.legacyTarget !== true) return [{ name: 'SET', args: [key, value, 'PXAT', String(at)], key, pos }];
    // The guard script cannot call the expiry script: two guarded commands (same sender, in order).
    if (this.guarded()) return [{ name: 'SET', args: [key, value], key, pos }, { name: 'PEXPIREAT', args: [key, String(at)], key, pos }];
    return [{ name: 'EVAL', args: [SET_WITH_EXPIRY_SCRIPT, '1', key, value, 'PEXPIREAT', String(at)], key, pos }];
  }

  /**
   * One piece of a hash field's value or a list element of several MiB (`piece`): Redis has no
   * command that writes such a value in parts, so it is built in the key's staging key as a big
   * string is (SET sized once by a SETRANGE at its last byte, then SETRANGEs), and its last piece
   * moves it into the key with `finish` (HSET field, RPUSH) in one script, which checks the
   * staged value's SHA-1 first. All on the key's sender, in order; a resumed load reads the key
   * from its start (the sink skips what was applied), so every piece passes here in order.
   */
  private stagedPiece(rec: SnapshotRecord, piece: ValuePiece, value: Buffer, finish: ReadonlyArray<Buffer | string>): RedisCommand[] {
    const { key, pos } = rec;
    const staging = stagingKey(key);
    let st = this.staged;
    if (piece.offset === 0) st = this.staged = { key, next: 0, sha1: createHash('sha1') };
    else if (st === null || !st.key.equals(key) || st.next !== piece.offset) {
      throw new Error(`${formatPosition(pos)} key ${printableBytes(key)}: a piece at byte ${piece.offset} without the bytes before it`);
    }
    st.sha1.update(value);
    st.next += value.length;
    const out: RedisCommand[] =
      piece.offset === 0 ? [{ name: 'SET', args: [staging, value], key, pos }] : [{ name: 'SETRANGE', args: [staging, String(piece.offset), value], key, pos }];
    if (piece.offset === 0 && piece.total > value.length) out.push({ name: 'SETRANGE', args: [staging, String(piece.total - 1), ZERO_BYTE], key, pos });
    if (st.next >= piece.total) {
      out.push({ name: 'EVAL', args: [UNSTAGE_SCRIPT, '2', key, staging, st.sha1.digest('hex'), ...finish], key, pos });
      this.staged = null;
    }
    return out;
  }

  /** `XSETID key last-id ENTRIESADDED n MAXDELETEDID id` (Redis 7), or the last ID alone before 7.0. */
  private xsetid(rec: Extract<SnapshotRecord, { type: 'stream' }>): Array<Buffer | string> {
    const s = rec.state;
    if (this.opts.noStreamCounters !== true) return [rec.key, s.lastId, 'ENTRIESADDED', s.entriesAdded, 'MAXDELETEDID', s.maxDeletedId];
    if (!this.counterNoteGiven) {
      this.counterNoteGiven = true;
      this.opts.onNote?.({
        level: 'warn',
        code: 'stream-counters',
        message: `${formatPosition(rec.pos)} target Redis is older than 7.0: streams get their last ID (XSETID) but not Pika's entries-added counter and max deleted ID (said once)`,
      });
    }
    return [rec.key, s.lastId];
  }

  /** Pika keeps NaN scores (a ZUNIONSTORE of inf and -inf makes one); Redis refuses them: skip, report. */
  private withoutNaN(rec: Extract<SnapshotRecord, { type: 'zset' }>): ReadonlyArray<readonly [Buffer, number]> {
    if (!rec.members.some(([, score]) => Number.isNaN(score))) return rec.members;
    const kept = rec.members.filter(([member, score]) => {
      if (!Number.isNaN(score)) return true;
      this.opts.onNote?.({
        level: 'warn',
        code: 'zset-nan-score',
        message: `${formatPosition(rec.pos)} zset '${printableBytes(rec.key, 60)}' member '${printableBytes(member, 60)}' has score NaN, which Redis cannot store; member skipped`,
      });
      return false;
    });
    return kept;
  }

  /**
   * Cuts `items` into runs of at most maxItems elements and about maxBytes (at least one element
   * each) and emits each as index range [from, to): the emitter lays its command's arguments out
   * in one array, where a run array per command and its spread made two more.
   */
  private chunks<T>(items: ReadonlyArray<T>, size: (t: T) => number, emit: (from: number, to: number) => void): void {
    let from = 0;
    let bytes = 0;
    for (let i = 0; i < items.length; i++) {
      const n = size(items[i]);
      if (i > from && (i - from >= this.maxItems || bytes + n > this.maxBytes)) {
        emit(from, i);
        from = i;
        bytes = 0;
      }
      bytes += n;
    }
    if (items.length > from) emit(from, items.length);
  }
}

/** An argument array of `key` and `n` slots after it, for the caller to fill. */
function keyThen(key: Buffer, n: number): Array<Buffer | string> {
  const args = new Array<Buffer | string>(n + 1);
  args[0] = key;
  return args;
}

/** `key`, then items[from, to). */
function keyThenSlice(key: Buffer, items: ReadonlyArray<Buffer>, from: number, to: number): Array<Buffer | string> {
  const args = keyThen(key, to - from);
  for (let i = from; i < to; i++) args[i - from + 1] = items[i];
  return args;
}

/** A zset score as text Redis parses back to the same double: shortest round-trip form, `inf`/`-inf`. */
export function formatScore(score: number, rec?: SnapshotRecord): string {
  if (score === Infinity) return 'inf';
  if (score === -Infinity) return '-inf';
  if (Number.isNaN(score)) {
    throw new CorruptionError('zset score is NaN', rec === undefined ? 'zset' : `${formatPosition(rec.pos)} key ${rec.key.toString('hex')}`);
  }
  if (Object.is(score, -0)) return '-0';
  return String(score);
}
