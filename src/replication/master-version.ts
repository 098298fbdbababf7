import { Redis } from 'ioredis';

export type VersionFamily = 'A' | 'B' | 'C' | 'D';

/** How to log in on P: `AUTH <password>`, or `AUTH <username> <password>` (a Pika 3.5.3+ ACL user). */
export interface ClientPortAuth {
  readonly username?: string;
  readonly password: string;
}

/**
 * Runs `ask` on a fresh connection to the master's client port P (logged in as `auth`), closed
 * afterwards. Resolves null, with the reason, when P cannot be reached or refuses.
 */
async function onClientPort<T>(host: string, port: number, auth: ClientPortAuth | undefined, timeoutMs: number, what: string, ask: (c: Redis) => Promise<T>): Promise<{ value: T } | { value: null; why: string }> {
  const c = new Redis({
    host,
    port,
    lazyConnect: true,
    enableReadyCheck: false,
    // No CLIENT SETINFO: Pika does not know it, and a replica sends nothing but these reads here.
    disableClientInfo: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  c.on('error', () => {}); // reported through the rejected calls below
  try {
    await c.connect();
    if (auth !== undefined) {
      // AUTH by hand, not through ioredis' options: ioredis hides some refusals (a pre-ACL Pika's
      // "wrong number of arguments" for a user) behind a console warning and a later NOAUTH.
      const as = auth.username === undefined ? 'AUTH <masterauth>' : `AUTH as master-client-user "${auth.username}"`;
      try {
        await c.call('AUTH', ...(auth.username === undefined ? [auth.password] : [auth.username, auth.password]));
      } catch (e) {
        return { value: null, why: `${as} on ${host}:${port} failed: ${(e as Error).message}` };
      }
    }
    return { value: await ask(c) };
  } catch (e) {
    return { value: null, why: `${what} on ${host}:${port} failed: ${(e as Error).message}` };
  } finally {
    c.disconnect();
  }
}

/**
 * The master's `pika_version`, from `INFO server` on its client port P (the replication handshake
 * does not carry it). Some conversion rules changed inside a family (3.3.4 → 3.3.6, 3.5.3 → 3.5.5,
 * 4.0.0 → 4.0.1), so the version decides them. Resolves null, with the reason, when P cannot tell:
 * the migration then goes by the family alone.
 */
export async function fetchPikaVersion(host: string, port: number, auth: ClientPortAuth | undefined, timeoutMs: number): Promise<{ version: string | null; why?: string }> {
  const r = await onClientPort(host, port, auth, timeoutMs, 'INFO server', async (c) => /^pika_version:\s*(\S+)/m.exec((await c.info('server')) as string)?.[1] ?? null);
  if (r.value === null) return { version: null, why: 'why' in r ? r.why : `INFO server on ${host}:${port} has no pika_version line` };
  return { version: r.value };
}

/**
 * How many streams the master's DB `db` holds (`KEYS * stream`, 3.5.3+: streams with entries;
 * `SELECT` first for another DB than db0). Pika 3.5.3–3.5.5 leave `streams/` out of DBSync, so
 * these are what a full sync from them cannot copy. Null, with the reason, when P does not answer
 * (e.g. more names than its max-client-response-size).
 */
export async function countPikaStreams(host: string, port: number, auth: ClientPortAuth | undefined, timeoutMs: number, db: number): Promise<{ count: number } | { count: null; why: string }> {
  const r = await onClientPort(host, port, auth, timeoutMs, 'KEYS * stream', async (c) => {
    if (db !== 0) await c.call('SELECT', String(db));
    return ((await c.call('KEYS', '*', 'stream')) as unknown[]).length;
  });
  return r.value === null ? { count: null, why: (r as { why: string }).why } : { count: r.value };
}

/** The replication family of a Pika version (`3.2.7` → A, `3.3.6` → B, …), or null when outside 3.2–4.x. */
export function familyOfVersion(version: string): VersionFamily | null {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (m === null) return null;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major === 3 && minor === 2) return 'A';
  if (major === 3 && (minor === 3 || minor === 4)) return 'B';
  if (major === 3 && minor === 5) return 'C';
  if (major === 4) return 'D';
  return null;
}
