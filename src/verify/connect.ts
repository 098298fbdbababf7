import { Redis, type RedisOptions } from 'ioredis';
import { within } from '../core/deadline.js';
import { FatalError } from '../core/errors.js';

/** Connect and the first reply (ioredis' ready check, then INFO): a server that never answers fails verify, not hangs it. */
export const READER_REPLY_TIMEOUT_MS = 10_000;

/**
 * Connects one verify reader (the Pika or the target Redis) and hands `ready` its `INFO server`.
 * On failure the connection goes and the error names the cause ioredis saw on the socket (its
 * rejection of connect() alone often only says the connection is closed); a FatalError from
 * `ready` passes as it is.
 */
export async function connectReader<T>(
  options: RedisOptions & { connectTimeoutMs?: number },
  ready: (c: Redis, infoServer: string) => T,
  failure: (cause: Error) => string,
): Promise<T> {
  const { connectTimeoutMs, ...rest } = options;
  const c = new Redis({ ...rest, lazyConnect: true, connectTimeout: connectTimeoutMs ?? 5000, maxRetriesPerRequest: 3 });
  let lastError: Error | null = null;
  c.on('error', (e: Error) => {
    lastError = e;
  });
  try {
    const info = await within(
      c.connect().then(() => c.call('INFO', 'server') as Promise<string>),
      Math.max(connectTimeoutMs ?? 5000, READER_REPLY_TIMEOUT_MS),
      () => new Error(`no reply within ${Math.round(Math.max(connectTimeoutMs ?? 5000, READER_REPLY_TIMEOUT_MS) / 1000)} s (the port accepts connections but nothing answers)`),
    );
    return ready(c, info);
  } catch (e) {
    c.disconnect();
    if (e instanceof FatalError) throw e;
    throw new FatalError(failure(lastError ?? (e as Error)));
  }
}
