import type { Redis } from 'ioredis';
import { FatalError } from '../core/errors.js';
import type { DataType } from '../core/record.js';
import { familyOfVersion, type VersionFamily } from '../replication/master-version.js';
import { connectReader } from './connect.js';
import { parsePikaKeyspace, type PikaKeyCounts } from './keyspace-info.js';

export interface PikaSourceOptions {
  readonly host: string;
  readonly port: number;
  readonly password?: string;
  readonly connectTimeoutMs?: number;
}

/**
 * `PTTL` on Pika 3.x answers for the first type that holds the name in this order, whatever the
 * others say (pika_kv.cc PttlCmd::Do, v3.2.7…v3.5.5; note `TTL` uses string, hash, list, zset,
 * set instead). 4.0 holds one type per name, so the order does not matter there.
 */
export const PIKA_PTTL_ORDER: readonly DataType[] = ['string', 'hash', 'list', 'set', 'zset'];

type Arg = Buffer | string;

/**
 * The Pika being migrated, read over its Redis protocol port the way verify needs it: type by
 * type, since Pika 3.x may hold one name in several types, and each type's own commands read only
 * that type's data (a 3.x `HLEN` of a name that is also a string answers the hash's length).
 * Commands of the keys in flight go out without waiting for replies (ioredis writes each at once),
 * so they share round trips. (Not ioredis auto-pipelining: it drops the name of `call` commands.)
 */
export class PikaSource {
  private constructor(
    private readonly c: Redis,
    readonly version: string,
    readonly family: VersionFamily,
    readonly name: string,
  ) {}

  static async connect(o: PikaSourceOptions): Promise<PikaSource> {
    const name = `${o.host}:${o.port}`;
    return connectReader(
      {
        host: o.host,
        port: o.port,
        ...(o.password ? { password: o.password } : {}),
        // Pika knows neither CLIENT SETINFO nor a ready check's use; send only what it serves.
        enableReadyCheck: false,
        disableClientInfo: true,
        connectTimeoutMs: o.connectTimeoutMs,
      },
      (c, info) => {
        const m = /^pika_version:\s*(\S+)/m.exec(info);
        if (m === null) throw new FatalError(`${name} is not a Pika: INFO server has no pika_version line`);
        const family = familyOfVersion(m[1]);
        if (family === null) throw new FatalError(`${name} runs Pika ${m[1]}; verify knows Pika 3.2 to 4.x`);
        return new PikaSource(c, m[1], family, name);
      },
      (cause) => `cannot read the Pika at ${name}: ${cause.message}${/NOAUTH|invalid password/i.test(cause.message) ? ' (check masterauth / --source-password)' : ''}`,
    );
  }

  /** 3.2–3.5 may hold one name in several types; 4.0 refuses that (WRONGTYPE). */
  get multiType(): boolean {
    return this.family !== 'D';
  }

  /** 3.x keeps expiries in whole seconds (PTTL is TTL × 1000), 4.0 in milliseconds. */
  get ttlGranularityMs(): number {
    return this.family === 'D' ? 1 : 1000;
  }

  async keyCounts(): Promise<PikaKeyCounts | null> {
    return parsePikaKeyspace((await this.c.call('INFO', 'keyspace')) as string);
  }

  /**
   * Every name Pika holds in `type`, in batches. `SCANX <type> <start> MATCH * COUNT n` walks one
   * type's meta keys from `start` (inclusive) and answers the next start, empty at the end; it
   * exists from 3.2 to 4.0 (pika_kv.cc ScanxCmd, blackwidow/storage Scanx), unlike `SCAN`, which
   * lists a 3.x name once per type without saying which.
   */
  async *scanType(type: DataType, count: number): AsyncGenerator<Buffer[]> {
    let start: Buffer = Buffer.alloc(0);
    do {
      const [next, keys] = (await this.c.callBuffer('SCANX', type, start, 'MATCH', '*', 'COUNT', String(count))) as [Buffer, Buffer[]];
      if (keys.length > 0) yield keys;
      start = next;
    } while (start.length > 0);
  }

  /**
   * Stream names (3.5.3+ and 4.0: `KEYS <pattern> stream`, which lists the streams with entries;
   * SCANX knows no stream type up to 4.0.1). One reply holds every name, so a Pika with more
   * names than its `max-client-response-size` allows answers an error, which is surfaced.
   * Older Pikas have no streams: none.
   */
  async streamNames(): Promise<Buffer[]> {
    if (!hasStreams(this.version)) return [];
    return (await this.c.callBuffer('KEYS', '*', 'stream')) as Buffer[];
  }

  /** Whether `type` holds `key` (3.x only: each type's own length; for strings, TYPE checks them first). */
  async holds(key: Buffer, type: DataType): Promise<boolean> {
    if (type === 'string') return ((await this.call('TYPE', key)) as Buffer).toString() === 'string';
    return ((await this.call(SIZE_COMMAND[type], key)) as number) > 0;
  }

  /** Any type (EXISTS counts every type's copy of a name on 3.x; 3.5.x leaves streams out). */
  async exists(key: Buffer): Promise<boolean> {
    return ((await this.call('EXISTS', key)) as number) > 0;
  }

  /** Milliseconds left, -1 persistent, -2 (4.0.1: also 0) gone; see PIKA_PTTL_ORDER for 3.x. */
  async pttl(key: Buffer): Promise<number> {
    return (await this.call('PTTL', key)) as number;
  }

  call(name: string, ...args: Arg[]): Promise<unknown> {
    return this.c.callBuffer(name, ...args);
  }

  close(): void {
    this.c.disconnect();
  }
}

/** Streams exist from Pika 3.5.3 on. */
export function hasStreams(version: string): boolean {
  const [major, minor, patch] = version.split('.').map((x) => parseInt(x, 10));
  return major > 3 || (major === 3 && (minor > 5 || (minor === 5 && patch >= 3)));
}

export const SIZE_COMMAND: Record<Exclude<DataType, 'string'>, string> = { hash: 'HLEN', list: 'LLEN', set: 'SCARD', zset: 'ZCARD', stream: 'XLEN' };
