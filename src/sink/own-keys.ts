import type { Redis } from 'ioredis';
import { LOAD_GUARD_KEY, STAGING_KEY_PREFIX } from '../core/scripts.js';

/**
 * pika-migrate's own bookkeeping keys in a target DB, as opposed to the data it copies:
 * - `<markerPrefix>:<run>:<sender>` (`pika-migrate:sink:…`): each sender's last batch, one set per
 *   process run (a run killed with -9 leaves its own; they expire after 24 h);
 * - `<appliedKey>` (`pika-migrate:applied`): the source position each sender applied last;
 * - `pika-migrate:load-guard` (a cluster: `pika-migrate:load-guard{tag}`, one per slot): the keys a
 *   skip/fail conflict policy is refusing chunk by chunk;
 * - `pika-migrate:staging{tag}:<key>`: a hash field's value or list element of several MiB being
 *   built (stagingKey), left by a load that was interrupted.
 * `pika-migrate:canary` is not among them: it is a master's key, copied like any other.
 */
export interface OwnKeyNames {
  readonly markerPrefix: string;
  readonly appliedKey: string;
}

export function isOwnKey(name: string, o: OwnKeyNames): boolean {
  return name.startsWith(`${o.markerPrefix}:`) || name === o.appliedKey || name === LOAD_GUARD_KEY || name.startsWith(`${LOAD_GUARD_KEY}{`) || name.startsWith(`${STAGING_KEY_PREFIX}{`);
}

/**
 * Deletes our keys from the DB `redis` is connected to (one node of a cluster: its keys only),
 * with SCAN, a page at a time, so the target keeps serving meanwhile; one DEL per key, so it
 * works on a cluster node. Returns how many were deleted.
 */
export async function deleteOwnKeys(redis: Redis, o: OwnKeyNames): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scanBuffer(cursor, 'MATCH', 'pika-migrate:*', 'COUNT', 1000);
    cursor = next.toString();
    for (const k of keys) if (isOwnKey(k.toString('latin1'), o)) deleted += await redis.del(k);
  } while (cursor !== '0');
  return deleted;
}
