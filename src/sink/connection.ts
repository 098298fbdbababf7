import { Redis } from 'ioredis';
import { FatalError } from '../core/errors.js';
import { classifyError } from './replies.js';

export interface TargetOptions {
  readonly host: string;
  readonly port: number;
  readonly password?: string;
  readonly username?: string;
  readonly db: number;
  /** How long one connection attempt may take before it counts as unreachable. */
  readonly connectTimeoutMs: number;
}

/** The target cannot be reached right now (refused, timed out, reset): worth trying again later. */
export class TargetUnreachableError extends Error {
  override name = 'TargetUnreachableError';
}

export function targetName(t: { readonly host: string; readonly port: number }): string {
  return `${t.host}:${t.port}`;
}

/**
 * Opens one connection that ioredis will never reconnect or replay on its own: after a drop the
 * sender alone decides what was applied and what to send again, so ioredis must not resend
 * unfulfilled commands (that would run them twice) nor queue commands while offline.
 *
 * Throws FatalError when the target answers but refuses us (bad password, unknown DB index, ACL),
 * TargetUnreachableError when it does not answer.
 */
export async function openConnection(t: TargetOptions, connectionName: string): Promise<Redis> {
  const redis = new Redis({
    host: t.host,
    port: t.port,
    password: t.password,
    username: t.username,
    db: t.db,
    connectionName,
    lazyConnect: true,
    connectTimeout: t.connectTimeoutMs,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: null,
    keepAlive: 30_000,
  });
  let lastError: Error | null = null;
  redis.on('error', (e: Error) => {
    lastError = e;
  });
  try {
    await redis.connect();
    await redis.call('PING');
    return redis;
  } catch (e) {
    redis.disconnect();
    const cause: Error = lastError ?? (e as Error);
    if (cause.name === 'ReplyError') {
      const cls = classifyError(cause.message);
      if (cls === 'fatal') {
        throw new FatalError(
          `Redis at ${targetName(t)} refused our credentials: ${cause.message} (check the target password` +
            `${t.username === undefined ? '' : ` and user "${t.username}"`})`,
        );
      }
      if (cls !== 'retryable') throw new FatalError(`Redis at ${targetName(t)} refused the connection: ${cause.message}`);
    }
    throw new TargetUnreachableError(`cannot connect to Redis at ${targetName(t)}: ${cause.message}`);
  }
}
