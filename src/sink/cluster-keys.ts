import type { RedisCommand } from '../core/command.js';
import { GUARDED_WRITE_SCRIPT, LOAD_GUARD_KEY } from '../core/scripts.js';
import { clusterSlot, slotTag } from '../core/cluster-slot.js';

type Arg = Buffer | string;

const asBuf = (a: Arg): Buffer => (typeof a === 'string' ? Buffer.from(a) : a);
const asInt = (a: Arg | undefined): number => (a === undefined ? Number.NaN : Number(a.toString()));

/**
 * The keys of a multi-key command of the converters (RPOPLPUSH, SMOVE, MSETNX, S*STORE,
 * Z*STORE, BITOP, PFMERGE, RENAME, RENAMENX, EVAL), or null when this sink cannot tell them: it
 * then refuses the command rather than guess its slot.
 */
export function commandKeys(cmd: RedisCommand): Buffer[] | null {
  const a = cmd.args;
  switch (cmd.name) {
    case 'RPOPLPUSH':
    case 'SMOVE':
    case 'RENAME':
    case 'RENAMENX':
      return a.length >= 2 ? [asBuf(a[0]), asBuf(a[1])] : null;
    case 'MSETNX':
      return a.filter((_, i) => i % 2 === 0).map(asBuf);
    case 'SUNIONSTORE':
    case 'SINTERSTORE':
    case 'SDIFFSTORE':
    case 'PFMERGE':
      return a.map(asBuf);
    case 'BITOP':
      return a.slice(1).map(asBuf);
    case 'ZUNIONSTORE':
    case 'ZINTERSTORE': {
      const n = asInt(a[1]);
      return Number.isInteger(n) && n >= 1 && a.length >= 2 + n ? [asBuf(a[0]), ...a.slice(2, 2 + n).map(asBuf)] : null;
    }
    case 'EVAL': {
      const n = asInt(a[1]);
      return Number.isInteger(n) && n >= 0 && a.length >= 2 + n ? a.slice(2, 2 + n).map(asBuf) : null;
    }
    default:
      return cmd.key === null ? null : [cmd.key];
  }
}

/** The one slot all keys hash to, or null when they spread over several. */
export function commonSlot(keys: readonly Buffer[]): number | null {
  const slot = clusterSlot(keys[0]);
  for (let i = 1; i < keys.length; i++) if (clusterSlot(keys[i]) !== slot) return null;
  return slot;
}

/**
 * A snapshot write under conflict-policy skip/fail names the guard hash as its second key; in a
 * cluster that hash must sit in the data key's slot, so each slot gets its own
 * `pika-migrate:load-guard{tag}`. Other commands come back unchanged.
 */
export function withSlotGuard(cmd: RedisCommand, slot: number): RedisCommand {
  const a = cmd.args;
  if (cmd.name !== 'EVAL' || a.length < 4 || String(a[1]) !== '2' || a[3] !== LOAD_GUARD_KEY) return cmd;
  const body = a[0];
  if ((typeof body === 'string' ? body : body.toString()) !== GUARDED_WRITE_SCRIPT) return cmd;
  const args = [...a];
  args[3] = `${LOAD_GUARD_KEY}{${slotTag(slot)}}`;
  return { ...cmd, args };
}
