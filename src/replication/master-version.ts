import { Redis } from 'ioredis';

export type VersionFamily = 'A' | 'B' | 'C' | 'D';

/** How to log in on P: `AUTH <password>`, or `AUTH <username> <password>` (a Pika 3.5.3+ ACL user). */
export interface ClientPortAuth {
  readonly username?: string;
  readonly password: string;
}

/**
 * The master's `pika_version`, from `INFO server` on its client port P (the replication handshake
 * does not carry it). Some conversion rules changed inside a family (3.3.4 → 3.3.6, 3.5.3 → 3.5.5,
 * 4.0.0 → 4.0.1), so the version decides them. Resolves null, with the reason, when P cannot tell:
 * the migration then goes by the family alone.
 */
export async function fetchPikaVersion(host: string, port: number, auth: ClientPortAuth | undefined, timeoutMs: number): Promise<{ version: string | null; why?: string }> {
  const c = new Redis({
    host,
    port,
    lazyConnect: true,
    enableReadyCheck: false,
    // No CLIENT SETINFO: Pika does not know it, and a replica sends nothing but INFO here.
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
        return { version: null, why: `${as} on ${host}:${port} failed: ${(e as Error).message}` };
      }
    }
    const text = (await c.info('server')) as string;
    const m = /^pika_version:\s*(\S+)/m.exec(text);
    return m === null ? { version: null, why: `INFO server on ${host}:${port} has no pika_version line` } : { version: m[1] };
  } catch (e) {
    return { version: null, why: `INFO server on ${host}:${port} failed: ${(e as Error).message}` };
  } finally {
    c.disconnect();
  }
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
