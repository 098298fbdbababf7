import { createHash } from 'node:crypto';
import type { RedisCommand } from '../core/command.js';
import type { SourcePosition } from '../core/position.js';
import { INLINE_SCRIPTS, MULTI_TYPE_LUA, TYPED_WRITE_SCRIPT } from '../core/scripts.js';
import { BY_REFERENCE, SplitArg, type WireArg } from './resp.js';

/**
 * A batch is applied by one EVALSHA of this script, which makes it exact:
 *
 * - Atomic: Redis runs a script without interleaving, so a batch is applied entirely or not at all.
 * - Known: the script writes the batch's sequence number to a marker key of its sender, so after a
 *   connection drop that lost replies, one GET of the marker tells which batches were applied.
 * - Ordered: a batch only runs if the marker still holds the sequence number of the batch before it
 *   (ARGV[1]); otherwise it does nothing and answers {-1, marker}. A batch refused by a transient
 *   error (OOM, LOADING, BUSY, …) therefore cannot be overtaken by the batches pipelined behind it,
 *   and a batch still sitting in a dead connection's buffer cannot run twice.
 * - Not torn by OOM: the marker SET is the script's first write. Redis checks `maxmemory` only
 *   before a script's first write, so either that SET fails (the whole batch is refused) or every
 *   command of the batch is allowed to run.
 *
 * Data commands run under `redis.pcall`, so a command's own error (WRONGTYPE, syntax) does not
 * stop the batch; the script returns {index, message} pairs for those. ARGV[4] = '1' writes the
 * marker again at the end, for batches that may delete it themselves (FLUSHDB, FLUSHALL).
 *
 * Redis refuses EVAL inside a script, so an `EVAL script numkeys …` of the batch runs the same
 * script as a function inlined here (`INLINE_SCRIPTS`), called as `@index numkeys …`; an error it
 * raises or returns counts as that command's error. The batch asks for effects replication first
 * (a no-op from Redis 5), so an inlined SCAN may be followed by writes on older targets too.
 * The multi-type rule's scripts (3.x masters) share one library, `MT`, defined once per batch that
 * holds inlined scripts; TYPED_WRITE_SCRIPT runs as `MT.run` on the unpacked command, and a run of
 * typed `SET k v` is packed as one `@TSET order k v …` (one MSET for the names on its fast path).
 *
 * Exactly once across restarts: the script also records, in the same atomic step, the source
 * position of the batch's last command in the applied hash (KEYS[2], field = sender index, plus
 * the sender count), binlog and snapshot positions alike. A restart that resumes from an older
 * checkpoint, or resumes an interrupted snapshot load, skips what that hash says each sender
 * already applied (SenderPool.resumeAfter).
 *
 * Layout: KEYS[1] marker; KEYS[2] applied hash; ARGV[1] expected marker ('-' = must not exist);
 * ARGV[2] this batch's sequence; ARGV[3] marker TTL in ms; ARGV[4] re-mark flag; ARGV[6] sender
 * field ('' = record nothing); ARGV[7] the position (appliedValue); ARGV[8] sender count; ARGV[9] '1' when
 * the batch holds inlined scripts (only then are their functions built, and effects replication
 * asked for: most batches hold none); ARGV[5] the commands, packed: per
 * command a big-endian u32 argument count (name included), then per argument a u32 length and the
 * bytes. Lua's `struct` library unpacks them. One packed argument instead of hundreds of RESP bulk
 * strings halves the cost on both sides: ioredis encodes one Buffer instead of building a
 * multi-part buffer per argument, and Redis parses one bulk instead of creating a Lua string for
 * every ARGV entry before the script even starts.
 */
const TYPED_NAME = `@${INLINE_SCRIPTS.findIndex(([script]) => script === TYPED_WRITE_SCRIPT)}`;
/** A run of typed `SET k v` (multi-type rule): `@TSET order k v …`, one MSET for the names on the fast path. */
const TYPED_SETS = '@TSET';
const INLINE_TABLE = INLINE_SCRIPTS.map(([, body], i) => `  ['@${i}'] = function(KEYS, ARGV)\n${body}\nend,`).join('\n');

export const BATCH_SCRIPT = `
local inline, MT = nil, nil
if ARGV[9] == '1' then
  if redis.replicate_commands then redis.replicate_commands() end
  MT = (function()
${MULTI_TYPE_LUA}
    return MT
  end)()
  inline = {
${INLINE_TABLE}
  }
end
-- TYPED_WRITE_SCRIPT, the command most batches of a 3.x master hold: run as MT.run(t, c) directly.
local typed = inline and inline['${TYPED_NAME}']
local function run_inline(fn, t, c)
  local nk = tonumber(t[2])
  local keys, argv = {}, {}
  for i = 1, nk do keys[i] = t[2 + i] end
  for i = 3 + nk, c do argv[#argv + 1] = t[i] end
  local ok, r = pcall(fn, keys, argv)
  if not ok then
    if type(r) == 'table' and r.err then return r end
    return {err = tostring(r)}
  end
  return r
end
local cur = redis.call('GET', KEYS[1])
local exp = ARGV[1]
if exp == '-' then
  if cur then return {-1, cur} end
elseif cur ~= exp then
  return {-1, cur or ''}
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
local blob = ARGV[5]
local len = #blob
local pos = 1
local fmts = {}
local errs = {}
local idx = 0
while pos <= len do
  local c
  c, pos = struct.unpack('>I4', blob, pos)
  local f = fmts[c]
  if not f then
    f = '>' .. string.rep('I4c0', c)
    fmts[c] = f
  end
  local t = {struct.unpack(f, blob, pos)}
  pos = t[c + 1]
  t[c + 1] = nil
  local r
  local fn = inline and inline[t[1]]
  if t[1] == '${TYPED_SETS}' then
    local ok, x = pcall(MT.sets, t, c)
    if ok then r = x elseif type(x) == 'table' and x.err then r = x else r = {err = tostring(x)} end
  elseif fn ~= nil and fn == typed then
    local ok, x = pcall(MT.run, t, c)
    if ok then r = x elseif type(x) == 'table' and x.err then r = x else r = {err = tostring(x)} end
  elseif fn then r = run_inline(fn, t, c) else r = redis.pcall(unpack(t)) end
  if type(r) == 'table' and r.err then
    errs[#errs + 1] = idx
    errs[#errs + 1] = r.err
  end
  idx = idx + 1
end
if ARGV[4] == '1' then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[2], ARGV[6], ARGV[7], 'senders', ARGV[8]) end
return errs
`;

export const BATCH_SCRIPT_SHA = createHash('sha1').update(BATCH_SCRIPT).digest('hex');

/**
 * Lua 5.1 in Redis cannot unpack more than ~8000 values onto its stack, so one command inside a
 * batch is limited to this many arguments (name included). Producers chunk big keys well below
 * it; a longer command is refused (counted and logged), never half-applied.
 */
export const MAX_COMMAND_ARGS = 7000;

/** Merged plain SETs stay far below the unpack limit. */
export const MAX_MSET_PAIRS = 1000;

export interface EncodedBatch {
  /** EVALSHA arguments, the SHA first. */
  readonly args: Array<WireArg>;
  /** For each command the script runs, the index in the batch of the first command it stands for. */
  readonly origin: number[] | null;
  /**
   * The buffer from `alloc` the commands are laid out in (the script's 5th argument), values of
   * BY_REFERENCE bytes or more left out of it: the argument is then a SplitArg of its pieces and
   * those values.
   */
  readonly blob: Buffer;
}

const INLINE_INDEX = new Map<string, string>(INLINE_SCRIPTS.map(([script], i) => [script, `@${i}`]));

/** The batch script's name for an EVAL of one of the inlined scripts, or null when it has none. */
export function inlineName(cmd: RedisCommand): string | null {
  if (cmd.name !== 'EVAL' || cmd.args.length < 2) return null;
  const body = cmd.args[0];
  return INLINE_INDEX.get(typeof body === 'string' ? body : body.toString()) ?? null;
}

/**
 * How the applied hash spells a position: `filenum:offset` for the binlog, `s<seq>.<part>` for a
 * snapshot command (a resumed load skips what each sender applied, as a resumed binlog does).
 */
export function appliedValue(p: SourcePosition): string {
  return p.kind === 'binlog' ? `${p.filenum}:${p.offset}` : `s${p.seq}.${p.part ?? 0}`;
}

/** The position an applied-hash value names (see appliedValue), or null when it is not one. */
export function parseAppliedValue(v: string | undefined, db: number): SourcePosition | null {
  if (v === undefined) return null;
  const b = /^(\d+):(\d+)$/.exec(v);
  if (b !== null) return { kind: 'binlog', db, filenum: Number(b[1]), offset: Number(b[2]) };
  const s = /^s(\d+)\.(\d+)$/.exec(v);
  if (s === null) return null;
  const part = Number(s[2]);
  return { kind: 'snapshot', db, seq: Number(s[1]), ...(part > 0 ? { part } : {}) };
}

/** Commands a batch must re-mark after, because they can delete every key of the DB. */
function deletesMarker(name: string): boolean {
  return name === 'FLUSHDB' || name === 'FLUSHALL' || name === 'SWAPDB';
}

/** Whether a command may delete keys it does not name, the senders' markers among them. */
export function wipesMarkers(cmd: RedisCommand): boolean {
  return deletesMarker(cmd.name) || inlineName(cmd) !== null;
}

export function isPlainSet(cmd: RedisCommand): boolean {
  return cmd.args.length === 2 && cmd.name === 'SET';
}

/** `SET key value` under the multi-type rule: `EVAL TYPED_WRITE_SCRIPT 1 k order string w 2 SET k v`. */
function isTypedSet(cmd: RedisCommand): boolean {
  const a = cmd.args;
  return a.length === 10 && cmd.name === 'EVAL' && a[0] === TYPED_WRITE_SCRIPT && a[4] === 'string' && a[7] === 'SET' && a[6] === '2';
}

/** What a run of SETs becomes: a plain MSET, or `@TSET order k v …` (typed SETs of one type-order). */
function runKind(cmd: RedisCommand): string | null {
  if (isPlainSet(cmd)) return 'MSET';
  if (isTypedSet(cmd)) return String(cmd.args[3]);
  return null;
}

/** End (exclusive) of the run of plain SETs (or typed SETs) starting at i, or i when there is no run of two. */
function setRunEnd(cmds: ReadonlyArray<RedisCommand>, i: number): number {
  const kind = runKind(cmds[i]);
  if (kind === null || i + 1 >= cmds.length || runKind(cmds[i + 1]) !== kind) return i;
  let j = i;
  while (j < cmds.length && j - i < MAX_MSET_PAIRS && runKind(cmds[j]) === kind) j++;
  return j;
}

/** The key and value of a run member (plain SET: args 0, 1; typed SET: args 8, 9). */
function pairOf(cmd: RedisCommand): readonly [Buffer | string, Buffer | string] {
  return cmd.name === 'SET' ? [cmd.args[0], cmd.args[1]] : [cmd.args[8], cmd.args[9]];
}

/**
 * Lays out a batch for the script. Runs of plain `SET key value` become one `MSET`: that is
 * exactly equivalent (a plain SET cannot fail once the script has written, and MSET applies its
 * pairs in order, so a repeated key ends with its last value), and it saves Redis the per-call cost
 * of Lua, which is most of the cost of a small SET.
 */
/** Where a batch records the binlog position it applied (see BATCH_SCRIPT). */
export interface AppliedRecord {
  readonly key: string;
  readonly field: string;
  readonly senders: number;
}

export function encodeBatch(
  cmds: ReadonlyArray<RedisCommand>,
  marker: string,
  expect: string,
  seq: number,
  ttlMs: number,
  applied: AppliedRecord | null = null,
  alloc: (size: number) => Buffer = Buffer.allocUnsafe,
): EncodedBatch {
  let size = 0;
  for (let i = 0; i < cmds.length; ) {
    const end = setRunEnd(cmds, i);
    if (end > i) {
      size += 4 + 8 + (end - i) * 8;
      if (cmds[i].name !== 'SET') size += 4 + TYPED_SETS.length - 4 + laidLen(cmds[i].args[3]);
      for (; i < end; i++) {
        const [k, v] = pairOf(cmds[i]);
        size += laidLen(k) + laidLen(v);
      }
    } else {
      const args = cmds[i].args;
      const inl = inlineName(cmds[i]);
      if (inl !== null) {
        size += 8 + inl.length + (args.length - 1) * 4;
        for (let a = 1; a < args.length; a++) size += laidLen(args[a]);
      } else {
        size += 8 + Buffer.byteLength(cmds[i].name) + args.length * 4;
        for (let a = 0; a < args.length; a++) size += laidLen(args[a]);
      }
      i++;
    }
  }
  const blob = alloc(size);
  let o = 0;
  // With long values: the laid-out bytes before each, and the value itself (see laidLen).
  const parts: Buffer[] = [];
  let partStart = 0;
  let length = 0;
  const put = (a: Buffer | string): void => {
    if (typeof a === 'string') {
      const n = Buffer.byteLength(a);
      o = blob.writeUInt32BE(n, o);
      o += blob.write(a, o, n);
    } else if (a.length >= BY_REFERENCE) {
      o = blob.writeUInt32BE(a.length, o);
      parts.push(blob.subarray(partStart, o), a);
      partStart = o;
      length += a.length;
    } else {
      o = blob.writeUInt32BE(a.length, o);
      o += a.copy(blob, o);
    }
  };
  let origin: number[] | null = null;
  let remark = false;
  let hasInline = false;
  let calls = 0;
  for (let i = 0; i < cmds.length; ) {
    const end = setRunEnd(cmds, i);
    if (end > i) {
      if (origin === null) origin = Array.from({ length: calls }, (_, k) => k);
      origin.push(i);
      if (cmds[i].name === 'SET') {
        o = blob.writeUInt32BE(2 * (end - i) + 1, o);
        put('MSET');
      } else {
        hasInline = true;
        o = blob.writeUInt32BE(2 * (end - i) + 2, o);
        put(TYPED_SETS);
        put(cmds[i].args[3]);
      }
      for (; i < end; i++) {
        const [k, v] = pairOf(cmds[i]);
        put(k);
        put(v);
      }
    } else {
      const cmd = cmds[i];
      const inl = inlineName(cmd);
      if (inl !== null) {
        hasInline = true;
        o = blob.writeUInt32BE(cmd.args.length, o);
        put(inl);
        for (let a = 1; a < cmd.args.length; a++) put(cmd.args[a]);
      } else {
        o = blob.writeUInt32BE(cmd.args.length + 1, o);
        put(cmd.name);
        for (let a = 0; a < cmd.args.length; a++) put(cmd.args[a]);
      }
      // An inlined script may delete by pattern (flushdb <type>), the marker included.
      if ((inl !== null && inl !== TYPED_NAME) || deletesMarker(cmd.name)) remark = true;
      if (origin !== null) origin.push(i);
      i++;
    }
    calls++;
  }
  // A sender's positions only grow, so the batch's last command says how far this sender got.
  const last = cmds[cmds.length - 1].pos;
  const rec = applied !== null ? [applied.field, appliedValue(last), String(applied.senders)] : ['', '', ''];
  let laid: Buffer | SplitArg = blob;
  if (parts.length > 0) {
    if (partStart < blob.length) parts.push(blob.subarray(partStart));
    laid = new SplitArg(parts, length + blob.length);
  }
  return { args: [BATCH_SCRIPT_SHA, '2', marker, applied?.key ?? marker, expect, String(seq), String(ttlMs), remark ? '1' : '0', laid, ...rec, hasInline ? '1' : '0'], origin, blob };
}

/**
 * Bytes an argument takes in the laid-out buffer after its 4-byte length. A value of BY_REFERENCE
 * bytes or more takes none: it is written to the socket where it is, as the transactions' values
 * are (resp.ts), not copied.
 */
function laidLen(a: Buffer | string): number {
  return typeof a === 'string' ? Buffer.byteLength(a) : a.length >= BY_REFERENCE ? 0 : a.length;
}
