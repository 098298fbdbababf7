import { createHash } from 'node:crypto';
import type { RedisCommand } from '../core/command.js';

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
 * Layout: KEYS[1] marker; ARGV[1] expected marker ('-' = must not exist); ARGV[2] this batch's
 * sequence; ARGV[3] marker TTL in ms; ARGV[4] re-mark flag; then per command: argument count
 * (name included), name, arguments.
 */
export const BATCH_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
local exp = ARGV[1]
if exp == '-' then
  if cur then return {-1, cur} end
elseif cur ~= exp then
  return {-1, cur or ''}
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
local errs = {}
local i = 5
local n = #ARGV
local idx = 0
while i <= n do
  local c = tonumber(ARGV[i])
  local r = redis.pcall(unpack(ARGV, i + 1, i + c))
  if type(r) == 'table' and r.err then
    errs[#errs + 1] = idx
    errs[#errs + 1] = r.err
  end
  i = i + c + 1
  idx = idx + 1
end
if ARGV[4] == '1' then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return errs
`;

export const BATCH_SCRIPT_SHA = createHash('sha1').update(BATCH_SCRIPT).digest('hex');

/**
 * Lua 5.1 in Redis cannot unpack more than ~8000 values onto its stack, so one command inside a
 * batch is limited to this many arguments (name included). Producers chunk big keys well below
 * it; a longer command is refused (counted and logged), never half-applied.
 */
const REMARK_ARG = 6;

export const MAX_COMMAND_ARGS = 7000;

/** Merged plain SETs stay far below the unpack limit. */
const MAX_MSET_PAIRS = 1000;

export interface EncodedBatch {
  /** EVALSHA arguments, the SHA first. */
  readonly args: Array<Buffer | string>;
  /** For each command the script runs, the index in the batch of the first command it stands for. */
  readonly origin: number[] | null;
}

/** Commands a batch must re-mark after, because they can delete every key of the DB. */
function deletesMarker(name: string): boolean {
  return name === 'FLUSHDB' || name === 'FLUSHALL' || name === 'SWAPDB';
}

export function isPlainSet(cmd: RedisCommand): boolean {
  return cmd.args.length === 2 && cmd.name === 'SET';
}

/**
 * Lays out a batch for the script. Runs of plain `SET key value` become one `MSET`: that is
 * exactly equivalent (a plain SET cannot fail once the script has written, and MSET applies its
 * pairs in order, so a repeated key ends with its last value), and it saves Redis the per-call cost
 * of Lua, which is most of the cost of a small SET.
 */
export function encodeBatch(
  cmds: ReadonlyArray<RedisCommand>,
  marker: string,
  expect: string,
  seq: number,
  ttlMs: number,
): EncodedBatch {
  const args: Array<Buffer | string> = [BATCH_SCRIPT_SHA, '1', marker, expect, String(seq), String(ttlMs), '0'];
  let origin: number[] | null = null;
  let remark = false;
  let i = 0;
  let calls = 0;
  while (i < cmds.length) {
    const cmd = cmds[i];
    if (isPlainSet(cmd) && i + 1 < cmds.length && isPlainSet(cmds[i + 1])) {
      const start = i;
      const countAt = args.length;
      args.push('', 'MSET');
      let pairs = 0;
      while (i < cmds.length && pairs < MAX_MSET_PAIRS && isPlainSet(cmds[i])) {
        args.push(cmds[i].args[0], cmds[i].args[1]);
        pairs++;
        i++;
      }
      args[countAt] = String(2 * pairs + 1);
      if (origin === null) origin = Array.from({ length: calls }, (_, k) => k);
      origin.push(start);
    } else {
      args.push(String(cmd.args.length + 1), cmd.name);
      for (let a = 0; a < cmd.args.length; a++) args.push(cmd.args[a]);
      if (deletesMarker(cmd.name)) remark = true;
      if (origin !== null) origin.push(i);
      i++;
    }
    calls++;
  }
  if (remark) args[REMARK_ARG] = '1';
  return { args, origin };
}
