/**
 * Maps a key to a sender index. All commands on one key must go through the same connection, so
 * the hash has to be stable: the same bytes give the same sender in every run and every process
 * (unlike a seeded string hash), and it works on the raw bytes so binary keys route exactly.
 *
 * CRC16/XMODEM is the function Redis Cluster uses for key slots: table-driven and cheap, well
 * spread over short keys with common prefixes (`user:000123`), and, should the target one day be a
 * cluster, routing by `slot % senders` keeps each slot's commands on one sender.
 */
import { crc16 } from '../core/cluster-slot.js';

/** The Redis Cluster slot of a key (hash tags ignored: we route whole keys). */
export function keySlot(key: Buffer): number {
  return crc16(key) & 16383;
}

export class KeyRouter {
  constructor(readonly senders: number) {
    if (!Number.isInteger(senders) || senders < 1) throw new RangeError(`senders must be a positive integer, got ${senders}`);
  }

  senderOf(key: Buffer): number {
    return this.senders === 1 ? 0 : keySlot(key) % this.senders;
  }
}
