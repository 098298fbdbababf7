import { KEY_EXISTS_CODE, KEY_SKIPPED_CODE } from '../core/scripts.js';

/**
 * What an error reply from Redis means for the sink. Redis error replies start with an upper-case
 * code (`WRONGTYPE`, `OOM`, `ERR`, …); the code, not the prose after it, decides what we do.
 *
 * - `typeConflict`: the key already holds another type. Not retried (it would fail again);
 *   counted and reported with the key, and the pool goes on.
 * - `retryable`: the server cannot take writes right now but will later (memory full, loading a
 *   dataset, busy with a script, a read-only replica that may be promoted, a master link down).
 *   The batch and everything after it on that sender is sent again after a backoff, in order.
 * - `fatal`: our credentials or permissions are wrong; no retry can help.
 * - `keyKept`: our guard script kept a key that already existed on the target
 *   (`conflict-policy : skip`); counted and reported with the key.
 * - `keyExists`: the same under `conflict-policy : fail`: the load stops.
 * - `other`: anything else (`ERR syntax error`, unknown command, …): the command is dropped,
 *   counted, and logged at error level with its key and source position.
 */
export type ErrorClass = 'typeConflict' | 'retryable' | 'fatal' | 'keyKept' | 'keyExists' | 'other';

// NOREPLICAS: min-replicas-to-write is not met now; replicas come back (or a failover moves us).
const RETRYABLE = new Set(['OOM', 'LOADING', 'BUSY', 'READONLY', 'MASTERDOWN', 'TRYAGAIN', 'CLUSTERDOWN', 'NOREPLICAS']);
const FATAL = new Set(['NOAUTH', 'WRONGPASS', 'NOPERM']);

/**
 * Redis 7.0 answers an ACL denial inside a script with a plain `ERR` ("The user executing the script
 * can't run this command or subcommand", "... can't access at least one of the keys"); it is a
 * NOPERM all the same, and must stop the sink rather than drop the command.
 */
const SCRIPT_ACL_DENIAL = /^ERR The user executing the script can't /;

/** The leading code of an error reply (`WRONGTYPE`), or `ERR` when the message has none. */
export function errorCode(message: string): string {
  if (SCRIPT_ACL_DENIAL.test(message)) return 'NOPERM';
  const m = /^([A-Z][A-Z_]*)\b/.exec(message);
  return m === null ? 'ERR' : m[1];
}

export function classifyCode(code: string): ErrorClass {
  if (code === 'WRONGTYPE') return 'typeConflict';
  if (code === KEY_SKIPPED_CODE) return 'keyKept';
  if (code === KEY_EXISTS_CODE) return 'keyExists';
  if (RETRYABLE.has(code)) return 'retryable';
  if (FATAL.has(code)) return 'fatal';
  return 'other';
}

export function classifyError(message: string): ErrorClass {
  return classifyCode(errorCode(message));
}

/**
 * The name an error code is counted under in `SinkStats.errors`: `WRONGTYPE` → `wrongType`,
 * `OOM` → `oom`, `READONLY` → `readOnly`, `NOAUTH` → `noAuth`; other codes lower-cased.
 */
export function statName(code: string): string {
  switch (code) {
    case 'WRONGTYPE':
      return 'wrongType';
    case 'READONLY':
      return 'readOnly';
    case 'NOAUTH':
      return 'noAuth';
    case 'WRONGPASS':
      return 'wrongPass';
    case 'NOPERM':
      return 'noPerm';
    case 'MASTERDOWN':
      return 'masterDown';
    case 'TRYAGAIN':
      return 'tryAgain';
    case KEY_SKIPPED_CODE:
      return 'keySkipped';
    case KEY_EXISTS_CODE:
      return 'keyExists';
    default:
      return code.toLowerCase();
  }
}
