import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import { within } from '../core/deadline.js';
import { FatalError } from '../core/errors.js';
import { classifyError, errorCode } from './replies.js';

/** A Sentinel-managed target: the sentinels name the master's address at every connect. */
export interface SentinelOptions {
  readonly sentinels: ReadonlyArray<{ readonly host: string; readonly port: number }>;
  /** The master's name in the sentinels' configuration (`sentinel monitor <name> …`). */
  readonly name: string;
  readonly username?: string;
  readonly password?: string;
}

/** How to reach and log in to the target; one connection's worth, shared by every sender. */
export interface TargetEndpoint {
  /** Unused with `sentinel`: the sentinels give the address. */
  readonly host: string;
  readonly port: number;
  readonly password?: string;
  readonly username?: string;
  readonly db: number;
  /** TLS for the target (and the sentinels); node's options as they are (ca, cert, key, servername, rejectUnauthorized). */
  readonly tls?: ConnectionOptions;
  readonly sentinel?: SentinelOptions;
}

export interface TargetOptions extends TargetEndpoint {
  /** How long one connection attempt may take before it counts as unreachable. */
  readonly connectTimeoutMs: number;
}

/**
 * How long a new connection may take to connect and answer its first command (any reply, LOADING
 * included): a server that accepts the connection and never answers fails the start instead of
 * hanging it.
 */
export const FIRST_REPLY_TIMEOUT_MS = 10_000;

/** The target cannot be reached right now (refused, timed out, reset): worth trying again later. */
export class TargetUnreachableError extends Error {
  override name = 'TargetUnreachableError';
}

/** How the target is named in messages: `host:port`, or the Sentinel master's name and its sentinels. */
export function targetName(t: { readonly host: string; readonly port: number; readonly sentinel?: SentinelOptions }): string {
  if (t.sentinel !== undefined) return `sentinel master "${t.sentinel.name}" (sentinels ${t.sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(',')})`;
  return `${t.host}:${t.port}`;
}

/**
 * The endpoint as ioredis options: address or sentinels, credentials, TLS. The one place that maps
 * them, so every client of the target (the senders, a cluster client) logs in the same way. The
 * DB is not among them: openConnection selects it itself, to see a refusal.
 */
export function ioredisOptions(t: TargetEndpoint): RedisOptions {
  const auth = { username: t.username, password: t.password };
  const tls = t.tls === undefined ? {} : { tls: t.tls };
  if (t.sentinel === undefined) return { host: t.host, port: t.port, ...auth, ...tls };
  const s = t.sentinel;
  return {
    sentinels: s.sentinels.map((x) => ({ host: x.host, port: x.port })),
    name: s.name,
    role: 'master',
    sentinelUsername: s.username,
    sentinelPassword: s.password,
    // Sentinels speak TLS exactly when the data nodes do (redis' tls-replication / tls-port setups).
    ...(t.tls === undefined ? {} : { enableTLSForSentinelMode: true, sentinelTLS: t.tls }),
    // One try over the sentinel list per connection attempt: the sender's own loop retries and gives up.
    sentinelRetryStrategy: () => null,
    // The senders re-ask the sentinels on every reconnect; no subscription is needed for that.
    failoverDetector: false,
    ...auth,
    ...tls,
  };
}

/**
 * Why a connection failed in the TLS handshake (untrusted or expired certificate, a name that does
 * not match, a client certificate the server wants), or null when it was not TLS. No retry can
 * fix these, so they are fatal rather than "unreachable".
 */
export function tlsFailure(e: Error): string | null {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (/^ERR_(SSL|TLS)_/.test(code) || /CERT|SIGNATURE|ISSUER|INVALID_CA|HOSTNAME/.test(code)) return `${e.message} (${code})`;
  return null;
}

/**
 * Opens one connection that ioredis will never reconnect or replay on its own: after a drop the
 * sender alone decides what was applied and what to send again, so ioredis must not resend
 * unfulfilled commands (that would run them twice) nor queue commands while offline.
 *
 * Throws FatalError when the target answers but refuses us (bad password, unknown DB index, ACL,
 * a failed TLS handshake), TargetUnreachableError when it does not answer.
 */
export async function openConnection(t: TargetOptions, connectionName: string): Promise<Redis> {
  const redis = new Redis({
    ...ioredisOptions(t),
    connectionName,
    lazyConnect: true,
    connectTimeout: t.connectTimeoutMs,
    // No INFO ready check and no CLIENT SETINFO: the first is a command an ACL may deny (and ioredis
    // would report that as a lost link), the second one it needs not allow. waitWhileLoading does
    // what the ready check did.
    enableReadyCheck: false,
    disableClientInfo: true,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: null,
    keepAlive: 30_000,
  });
  const errors: Error[] = [];
  redis.on('error', (e: Error) => {
    errors.push(e);
  });
  try {
    await within(
      redis.connect().then(() => firstReply(redis)),
      Math.max(t.connectTimeoutMs, FIRST_REPLY_TIMEOUT_MS),
      () => new Error(`no reply within ${Math.round(Math.max(t.connectTimeoutMs, FIRST_REPLY_TIMEOUT_MS) / 1000)} s (the port accepts connections but nothing answers)`),
    );
    await waitWhileLoading(redis);
    // Here rather than through ioredis' `db`, whose failed SELECT would leave us writing to DB 0.
    if (t.db !== 0) await redis.call('SELECT', t.db);
    return redis;
  } catch (e) {
    redis.disconnect();
    // The handshake's own error comes first; the "connection closed" after it says less.
    const cause: Error = errors.find((x) => tlsFailure(x) !== null) ?? errors[errors.length - 1] ?? (e as Error);
    // ioredis keeps a sentinel's own handshake error to itself ("All sentinels are unreachable …
    // Connection is closed"): one handshake of ours with the first sentinel tells the cause.
    const tls = tlsFailure(cause) ?? (t.sentinel !== undefined && t.tls !== undefined ? await sentinelTlsFailure(t) : null);
    if (tls !== null) {
      throw new FatalError(
        `TLS handshake with Redis at ${targetName(t)} failed: ${tls} (check target-redis-tls-ca-file, -servername, -cert-file and -key-file)`,
      );
    }
    if (cause.name === 'ReplyError') {
      const cls = classifyError(cause.message);
      if (cls === 'fatal' && cause.message.startsWith('NOPERM')) {
        throw new FatalError(`Redis at ${targetName(t)} denied user "${t.username ?? 'default'}" a command the sink needs: ${cause.message} (see the README's ACL list)`);
      }
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

/** One PING: any reply, LOADING included, shows the server answers. */
async function firstReply(redis: Redis): Promise<void> {
  try {
    await redis.call('PING');
  } catch (e) {
    if ((e as Error).name !== 'ReplyError' || errorCode((e as Error).message) !== 'LOADING') throw e;
  }
}

/** PING until the target has loaded its dataset (it answers LOADING till then), as ioredis' ready check would. */
async function waitWhileLoading(redis: Redis): Promise<void> {
  for (;;) {
    try {
      await redis.call('PING');
      return;
    } catch (e) {
      if ((e as Error).name !== 'ReplyError' || errorCode((e as Error).message) !== 'LOADING') throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The TLS failure of a handshake with the first sentinel, or null when it succeeds (or fails otherwise). */
function sentinelTlsFailure(t: TargetOptions): Promise<string | null> {
  const s = t.sentinel!.sentinels[0];
  return new Promise((resolve) => {
    const sock = tlsConnect({ host: s.host, port: s.port, ...t.tls, timeout: t.connectTimeoutMs });
    const done = (why: string | null) => {
      sock.destroy();
      resolve(why === null ? null : `sentinel ${s.host}:${s.port}: ${why}`);
    };
    sock.once('secureConnect', () => done(null));
    sock.once('timeout', () => done(null));
    sock.once('error', (e: Error) => done(tlsFailure(e)));
  });
}

/** `ip:port` of the node a connection reached: with Sentinel, the master it was given. */
export function peerAddress(redis: Redis): string {
  const s = redis.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  return s?.remoteAddress === undefined ? '?' : `${s.remoteAddress}:${s.remotePort}`;
}

/** `run_id` from `INFO server` ('' when the server does not say: then no restart is ever seen by it). */
export function runIdOf(info: string): string {
  return /run_id:([0-9a-f]+)/.exec(info)?.[1] ?? '';
}
