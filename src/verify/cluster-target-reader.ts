import type { ConnectionOptions } from 'node:tls';
import { Cluster, type Redis } from 'ioredis';
import { FatalError } from '../core/errors.js';
import { atLeast, type TargetReader } from './target-reader.js';

type Arg = Buffer | string;

export interface ClusterTargetOptions {
  /** Seed nodes; the others are learnt from CLUSTER SLOTS. */
  readonly nodes: ReadonlyArray<{ readonly host: string; readonly port: number }>;
  readonly password?: string;
  readonly username?: string;
  /** TLS to every node (target-redis-tls with target-redis-cluster). */
  readonly tls?: ConnectionOptions;
  readonly connectTimeoutMs?: number;
}

/**
 * A Redis Cluster target: each command goes to the master of its key's slot (ioredis Cluster,
 * following MOVED/ASK), and the extras pass SCANs every master in turn. A cluster has only DB 0.
 */
export class ClusterTargetReader implements TargetReader {
  private constructor(
    private readonly c: Cluster,
    readonly name: string,
    readonly multiLookups: boolean,
  ) {}

  static async connect(o: ClusterTargetOptions): Promise<ClusterTargetReader> {
    const name = `cluster ${o.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
    const c = new Cluster(
      o.nodes.map((n) => ({ host: n.host, port: n.port })),
      { lazyConnect: true, redisOptions: { password: o.password, username: o.username, connectTimeout: o.connectTimeoutMs ?? 5000, maxRetriesPerRequest: 3, ...(o.tls ? { tls: o.tls } : {}) } },
    );
    let lastError: Error | null = null;
    c.on('error', (e: Error) => {
      lastError = e;
    });
    try {
      await c.connect();
      const masters = c.nodes('master');
      if (masters.length === 0) throw new Error('no master node known');
      const versions = await Promise.all(masters.map(async (m) => /^redis_version:(\S+)/m.exec((await m.call('INFO', 'server')) as string)?.[1] ?? '0'));
      return new ClusterTargetReader(c, name, versions.every((v) => atLeast(v, [6, 2])));
    } catch (e) {
      c.disconnect();
      throw new FatalError(`cannot read the target Redis ${name}: ${(lastError ?? (e as Error)).message}`);
    }
  }

  call(name: string, key: Buffer, ...args: Arg[]): Promise<unknown> {
    return this.c.callBuffer(name, key, ...args);
  }

  /** SCAN on each master (a replica holds the same keys). */
  async *scan(count: number): AsyncGenerator<Buffer[]> {
    for (const node of this.c.nodes('master')) yield* scanNode(node, count);
  }

  close(): void {
    this.c.disconnect();
  }
}

async function* scanNode(node: Redis, count: number): AsyncGenerator<Buffer[]> {
  let cursor = '0';
  do {
    const [next, keys] = (await node.callBuffer('SCAN', cursor, 'COUNT', String(count))) as [Buffer, Buffer[]];
    if (keys.length > 0) yield keys;
    cursor = next.toString();
  } while (cursor !== '0');
}
