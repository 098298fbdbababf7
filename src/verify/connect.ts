import { Redis, type RedisOptions } from 'ioredis';
import { FatalError } from '../core/errors.js';

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
    await c.connect();
    return ready(c, (await c.call('INFO', 'server')) as string);
  } catch (e) {
    c.disconnect();
    if (e instanceof FatalError) throw e;
    throw new FatalError(failure(lastError ?? (e as Error)));
  }
}
