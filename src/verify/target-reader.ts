import type { Redis } from 'ioredis';
import { connectReader } from './connect.js';
import { ioredisOptions, type TargetEndpoint } from '../sink/connection.js';

type Arg = Buffer | string;

/**
 * The Redis side of verify, as small as a reader needs to be so a Redis Cluster reader can stand
 * in (ioredis Cluster routes `call` by the key; `scan` then walks each master in turn).
 */
export interface TargetReader {
  /** For messages: `host:port db N` or the cluster's seed nodes. */
  readonly name: string;
  /** Redis 6.2+: SMISMEMBER and ZMSCORE look many members up in one command. */
  readonly multiLookups: boolean;
  /** One command on the node that holds `key` (the first argument). */
  call(name: string, key: Buffer, ...args: Arg[]): Promise<unknown>;
  /** Every key of the target DB in batches (SCAN; a key may come twice while Redis rehashes). */
  scan(count: number): AsyncIterable<Buffer[]>;
  close(): void;
}

export interface RedisTargetOptions extends TargetEndpoint {
  readonly connectTimeoutMs?: number;
}

/** A single Redis (`target-redis-host`, `-port`, `-db`, credentials, TLS, or a Sentinel master). */
export class RedisTargetReader implements TargetReader {
  private constructor(
    private readonly c: Redis,
    readonly name: string,
    readonly multiLookups: boolean,
  ) {}

  static async connect(o: RedisTargetOptions): Promise<RedisTargetReader> {
    const name = `${o.sentinel ? `sentinel master ${o.sentinel.name}` : `${o.host}:${o.port}`} db ${o.db}`;
    return connectReader(
      { ...ioredisOptions(o), db: o.db, connectTimeoutMs: o.connectTimeoutMs },
      (c, info) => new RedisTargetReader(c, name, atLeast(/^redis_version:(\S+)/m.exec(info)?.[1] ?? '0', [6, 2])),
      (cause) => `cannot read the target Redis at ${name}: ${cause.message}`,
    );
  }

  call(name: string, key: Buffer, ...args: Arg[]): Promise<unknown> {
    return this.c.callBuffer(name, key, ...args);
  }

  async *scan(count: number): AsyncGenerator<Buffer[]> {
    let cursor = '0';
    do {
      const [next, keys] = (await this.c.callBuffer('SCAN', cursor, 'COUNT', String(count))) as [Buffer, Buffer[]];
      if (keys.length > 0) yield keys;
      cursor = next.toString();
    } while (cursor !== '0');
  }

  close(): void {
    this.c.disconnect();
  }
}

/** `redis_version` at least `want` (major, minor). */
export function atLeast(version: string, want: [number, number]): boolean {
  const [major, minor] = version.split('.').map(Number);
  return major > want[0] || (major === want[0] && minor >= want[1]);
}
