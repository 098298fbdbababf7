import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisCommand } from '../core/command.js';
import { noteShortLivedBytes } from '../core/gc-pacing.js';
import type { SourcePosition } from '../core/position.js';
import { appliedValue, isPlainSet, MAX_MSET_PAIRS, type AppliedRecord } from './batch-script.js';
import { replySlot, writeChunks } from './raw-write.js';
import { bulkSize, commandSize, copiedSize, headerSize, RespWriter } from './resp.js';

/**
 * A batch of writes that each set what they name to given values (`SET k v`, `SET k v PXAT t`,
 * `HSET k f v …`, `SADD k m …`, `ZADD k score m …`, `PEXPIREAT k t`: a snapshot's keys, a binlog's
 * runs of such writes) goes out as a transaction instead of one call of the batch script:
 *
 *     MULTI · EVALSHA GATE_SCRIPT … · MSET k v k v … · SET k v PXAT t · HSET k f v … · … · EXEC
 *
 * Redis spends about a third less CPU on it than on the batch script, which must turn every key
 * and value into a Lua string before handing it back to Redis as an object; with 1M small strings
 * that is the difference between Redis or the loader being the bottleneck.
 *
 * What stays exact, and why (compare BATCH_SCRIPT):
 * - Atomic, also under OOM: EXEC runs every queued command or none. A command refused while
 *   queueing (OOM) makes EXEC answer EXECABORT and discard the transaction; an EXEC refused for OOM
 *   is discarded too. So the gate's marker and the data are applied together or not at all.
 * - Known and ordered: the gate script checks the marker like the batch script does and, only when
 *   it holds the previous batch's sequence, writes this batch's sequence and the applied position.
 *   The data commands after it cannot be made conditional (nothing in a transaction is), so a batch
 *   whose gate fails still writes its data. That is harmless because these commands only
 *   overwrite: each sets a key, a field, a member (with its score) or an expiry to a value it
 *   carries, whatever was there. The sender then sends everything from the first batch not
 *   applied again, in order, so every write made out of turn is made again after the ones before
 *   it, and the last write of each key, field or member decides, exactly as if nothing had been
 *   written out of turn. One that failed out of turn (WRONGTYPE before the DEL meant to come first)
 *   left nothing, and its error is not reported: a failed gate's replies are dropped. Commands
 *   whose effect depends on what is there (RPUSH, INCR, APPEND, ZADD INCR/NX/XX/GT/LT, SET NX,
 *   HSETNX, …) would count twice or not at all, so only these are ever sent this way
 *   (`nativeEligible`); every other batch takes the batch script.
 * - Never late: a batch still sitting unread in a connection the sender gave up on could
 *   otherwise run after newer writes of its keys. Before it sends anything again, the sender kills
 *   that connection on the server (`CLIENT KILL ID … ADDR …`, see Sender), which drops whatever it
 *   had not executed. Targets that do not let us do that (no CLIENT INFO before Redis 6.2, an ACL
 *   without `client|kill`) get the batch script for every batch.
 */
export const GATE_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '-' then
  if cur then return {-1, cur} end
elseif cur ~= ARGV[1] then
  return {-1, cur or ''}
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], ARGV[4], ARGV[5], 'senders', ARGV[6]) end
return {}
`;

export const GATE_SCRIPT_SHA = createHash('sha1').update(GATE_SCRIPT).digest('hex');

const MULTI = Buffer.from('*1\r\n$5\r\nMULTI\r\n');
const EXEC = Buffer.from('*1\r\n$4\r\nEXEC\r\n');

/** ZADD options that make it depend on what is there (or add to a score instead of setting it). */
const ZADD_OPTIONS = new Set(['NX', 'XX', 'GT', 'LT', 'CH', 'INCR']);

/**
 * Whether `cmd` only sets what it names to values it carries (see the top): a plain or expiring
 * (`PXAT`) SET, HSET of field/value pairs, SADD, ZADD of score/member pairs without options, or
 * PEXPIREAT.
 */
function overwrites(cmd: RedisCommand): boolean {
  const a = cmd.args;
  switch (cmd.name) {
    case 'SET':
      return a.length === 2 || (a.length === 4 && a[2] === 'PXAT');
    case 'HSET':
      return a.length >= 3 && a.length % 2 === 1;
    case 'SADD':
      return a.length >= 2;
    case 'ZADD': {
      if (a.length < 3 || a.length % 2 === 0) return false;
      const first = a[1];
      return first.length > 4 || !ZADD_OPTIONS.has(first.toString().toUpperCase());
    }
    case 'PEXPIREAT':
      return a.length === 2;
    default:
      return false;
  }
}

/**
 * Arguments per call that a batch's HSET/SADD/ZADD/PEXPIREAT calls must carry on average to go as
 * a transaction. Each call queued in one costs Node a reply to match (~3 µs), where the batch
 * script's one call costs Redis a Lua string per argument instead: for the 1M-field hash (HSETs of
 * 100 fields) the transaction took Redis 1.02 s of CPU instead of 1.38 and the load 14 % less
 * time, for the mixed set (hashes of 10 fields, sets of 10 members) Node 13 % more CPU and the
 * load 10 % more time.
 */
export const MIN_ARGS_PER_ELEMENT_CALL = 32;

/**
 * Whether every command of the batch only overwrites (`overwrites`), and its element writes are
 * big enough (MIN_ARGS_PER_ELEMENT_CALL), so the batch goes as a transaction.
 */
export function nativeEligible(cmds: ReadonlyArray<RedisCommand>): boolean {
  let calls = 0;
  let args = 0;
  for (let i = 0; i < cmds.length; i++) {
    const c = cmds[i];
    if (!overwrites(c)) return false;
    if (c.name !== 'SET') {
      calls++;
      args += c.args.length;
    }
  }
  return cmds.length > 0 && args >= calls * MIN_ARGS_PER_ELEMENT_CALL;
}

export interface NativeBatch {
  /**
   * The batch's commands in RESP, between the gate and EXEC; the same for every send of it. In
   * chunks: long values are not copied (resp.ts BY_REFERENCE).
   */
  readonly data: Buffer[];
  /** Commands queued between the gate and EXEC. */
  readonly calls: number;
  /** For each queued call, the index in the batch of the first command it stands for. */
  readonly origin: number[];
}

/** End (exclusive) of the run of plain SETs from i (at least i + 1). */
function runEnd(cmds: ReadonlyArray<RedisCommand>, i: number): number {
  let j = i;
  while (j < cmds.length && j - i < MAX_MSET_PAIRS && isPlainSet(cmds[j])) j++;
  return j;
}

/**
 * Lays the batch's commands out in RESP, one MSET per run of plain SETs and every other command
 * as it is (see the comment at the top). Expects `nativeEligible(cmds)`. The sender keeps this
 * instead of the commands, which lets go of their objects and the blocks their values point into.
 */
export function encodeNativeBatch(cmds: ReadonlyArray<RedisCommand>): NativeBatch {
  // The calls found while sizing: where each starts, and where its run of SETs ends (0: a lone SET).
  const origin: number[] = [];
  const ends: number[] = [];
  let size = 0;
  for (let i = 0; i < cmds.length; ) {
    origin.push(i);
    if (isPlainSet(cmds[i])) {
      const end = runEnd(cmds, i);
      ends.push(end);
      size += headerSize(1 + 2 * (end - i)) + bulkSize(4);
      for (; i < end; i++) size += copiedSize(cmds[i].args[0]) + copiedSize(cmds[i].args[1]);
    } else {
      ends.push(0);
      size += commandSize(cmds[i].name, cmds[i].args, true);
      i++;
    }
  }
  const w = new RespWriter(size, true);
  noteShortLivedBytes(size);
  for (let c = 0; c < origin.length; c++) {
    let i = origin[c];
    const end = ends[c];
    if (end === 0) {
      w.command(cmds[i].name, cmds[i].args);
      continue;
    }
    w.header(42, 1 + 2 * (end - i));
    w.bulk('MSET');
    for (; i < end; i++) {
      w.bulk(cmds[i].args[0]);
      w.bulk(cmds[i].args[1]);
    }
  }
  return { data: w.chunks(), calls: origin.length, origin };
}

/** MULTI and the gate for one send of a batch: its marker check and, when it passes, what it records. */
export function transactionHead(marker: string, expect: string, seq: number, ttlMs: number, applied: AppliedRecord | null, last: SourcePosition): Buffer {
  const gate: string[] = [
    'EVALSHA', GATE_SCRIPT_SHA, '2', marker, applied?.key ?? marker, expect, String(seq), String(ttlMs),
    applied?.field ?? '', applied === null ? '' : appliedValue(last), applied === null ? '' : String(applied.senders),
  ];
  const w = new RespWriter(MULTI.length + commandSize(gate[0], gate.slice(1)));
  w.o = MULTI.copy(w.out, 0);
  w.command(gate[0], gate.slice(1));
  return w.done();
}

/**
 * The `call`-th command of a batch's RESP as a command a report can name: an MSET as the SET of
 * its first pair (the command `origin` points to). Only for reports: it parses from the start.
 */
export function nativeCall(chunks: ReadonlyArray<Buffer>, call: number): { name: string; args: Buffer[] } {
  const data = Buffer.concat(chunks);
  let o = 0;
  const num = (): number => {
    let n = 0;
    o++;
    while (data[o] !== 13) n = n * 10 + data[o++] - 48;
    o += 2;
    return n;
  };
  for (let c = 0; ; c++) {
    const argc = num();
    const args: Buffer[] = [];
    for (let a = 0; a < argc; a++) {
      const n = num();
      args.push(data.subarray(o, o + n));
      o += n + 2;
    }
    if (c === call) {
      const name = args[0].toString('latin1');
      return name === 'MSET' ? { name: 'SET', args: args.slice(1, 3) } : { name, args: args.slice(1) };
    }
  }
}

/**
 * Writes a transaction on an ioredis connection: one reply slot is queued per command in it
 * (MULTI, the gate, each call, EXEC) so that ioredis matches the replies in order, then the bytes
 * go to the socket in one write. Returns the promises of the queue-time replies (a refusal while
 * queueing, e.g. OOM, shows there) and of EXEC. Only on a ready connection: the sender's
 * connections have no offline queue, and a command that cannot be written is rejected.
 */
export function sendNative(redis: Redis, head: Buffer, batch: NativeBatch): { queued: Array<Promise<unknown>>; exec: Promise<unknown> } {
  const queued: Array<Promise<unknown>> = [];
  const slot = (name: string): Promise<unknown> => replySlot(redis, name);
  queued.push(slot('multi'), slot('evalsha'));
  for (let i = 0; i < batch.calls; i++) queued.push(slot('mset'));
  const exec = slot('exec');
  writeChunks(redis.stream, [head, ...batch.data, EXEC]);
  return { queued, exec };
}

/** A connection as the server knows it: enough to kill exactly that one later. */
export interface ServerClient {
  readonly id: string;
  readonly addr: string;
}

/** This connection's id and address as the server sees them (CLIENT INFO, Redis 6.2+). */
export async function serverClientOf(redis: Redis): Promise<ServerClient> {
  const info = String(await redis.call('CLIENT', 'INFO'));
  const id = /\bid=(\d+)/.exec(info)?.[1];
  const addr = /\baddr=(\S+)/.exec(info)?.[1];
  if (id === undefined || addr === undefined) throw new Error(`CLIENT INFO answered without id or addr: ${info.slice(0, 200)}`);
  return { id, addr };
}

/**
 * Kills a connection we gave up on, so that nothing it still carries can run after what is sent
 * next. Both the id and the address must match: after a failover or restart another client may hold
 * the id. SKIPME keeps the calling connection alive whatever happens. Returns how many were killed
 * (0: it was gone already).
 */
export async function killServerClient(redis: Redis, c: ServerClient): Promise<number> {
  return Number(await redis.call('CLIENT', 'KILL', 'ID', c.id, 'ADDR', c.addr, 'SKIPME', 'yes'));
}

/**
 * Why batches cannot go as transactions on this target, or null when they can: it needs Redis 6.2+
 * (CLIENT INFO), and an ACL that allows MULTI/EXEC, CLIENT INFO and CLIENT KILL.
 */
export async function nativeRefusal(redis: Redis, version: string): Promise<string | null> {
  const [major, minor] = version.split('.').map(Number);
  if (major < 6 || (major === 6 && minor < 2)) return `Redis ${version} has no CLIENT INFO (6.2+)`;
  try {
    await redis.script('LOAD', GATE_SCRIPT);
    await redis.call('MULTI');
    await redis.call('EXEC');
    const me = await serverClientOf(redis);
    // A filter nothing matches: only the permission is tested.
    await redis.call('CLIENT', 'KILL', 'ID', me.id, 'ADDR', '0.0.0.0:0', 'SKIPME', 'yes');
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
