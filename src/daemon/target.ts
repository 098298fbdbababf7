import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { Config } from '../config/load.js';
import type { ConfKey } from '../config/schema.js';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { ClusterPool } from '../sink/cluster-pool.js';
import type { TargetEndpoint } from '../sink/connection.js';
import { SenderPool } from '../sink/pool.js';
import { RateLimiter } from '../sink/rate-limit.js';
import type { Sink, SinkStats } from '../sink/sink.js';
import type { DbRoute } from './db-map.js';

/**
 * The conf's `target-redis-*` as a TargetEndpoint: address or sentinels, ACL user, TLS with its
 * files read now. A file that cannot be read, or keys that only make sense together, are a
 * ConfigError naming the key and where it was set (exit code 2). Every client of the target
 * starts from this, then sink/connection.ts's ioredisOptions.
 */
export function targetConnectionOptions(config: Config): TargetEndpoint {
  const v = config.values;
  const where = (key: ConfKey) => config.raw.get(key)?.where ?? config.file;
  const endpoint: { -readonly [K in keyof TargetEndpoint]: TargetEndpoint[K] } = {
    host: v['target-redis-host'],
    port: v['target-redis-port'],
    password: v['target-redis-pwd'] || undefined,
    username: v['target-redis-user'] || undefined,
    db: v['target-redis-db'],
  };
  if (v['target-redis-tls']) {
    const read = (key: 'target-redis-tls-ca-file' | 'target-redis-tls-cert-file' | 'target-redis-tls-key-file'): Buffer | undefined => {
      const file = v[key];
      if (file === '') return undefined;
      try {
        return readFileSync(file);
      } catch (e) {
        throw new ConfigError(`${where(key)} ${key}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    };
    const cert = read('target-redis-tls-cert-file');
    const key = read('target-redis-tls-key-file');
    if ((cert === undefined) !== (key === undefined)) {
      const set: ConfKey = cert === undefined ? 'target-redis-tls-key-file' : 'target-redis-tls-cert-file';
      throw new ConfigError(`${where(set)} ${set}: a client certificate needs both target-redis-tls-cert-file and target-redis-tls-key-file`);
    }
    const tls: ConnectionOptions = { rejectUnauthorized: v['target-redis-tls-verify'] };
    const ca = read('target-redis-tls-ca-file');
    if (ca !== undefined) tls.ca = ca;
    if (cert !== undefined) Object.assign(tls, { cert, key });
    if (v['target-redis-tls-servername'] !== '') tls.servername = v['target-redis-tls-servername'];
    endpoint.tls = tls;
  } else {
    for (const k of ['target-redis-tls-ca-file', 'target-redis-tls-cert-file', 'target-redis-tls-key-file', 'target-redis-tls-servername'] as const) {
      if (v[k] !== '') throw new ConfigError(`${where(k)} ${k}: is set but target-redis-tls is no`);
    }
  }
  const sentinels = v['target-redis-sentinels'];
  const master = v['target-redis-sentinel-master'];
  if ((sentinels.length > 0) !== (master !== '')) {
    const set: ConfKey = master === '' ? 'target-redis-sentinels' : 'target-redis-sentinel-master';
    throw new ConfigError(`${where(set)} ${set}: a Sentinel target needs both target-redis-sentinels and target-redis-sentinel-master`);
  }
  if (sentinels.length > 0) {
    endpoint.sentinel = {
      sentinels,
      name: master,
      username: v['target-redis-sentinel-user'] || undefined,
      password: v['target-redis-sentinel-pwd'] || undefined,
    };
  } else {
    for (const k of ['target-redis-sentinel-user', 'target-redis-sentinel-pwd'] as const) {
      if (v[k] !== '') throw new ConfigError(`${where(k)} ${k}: is set but target-redis-sentinels is empty`);
    }
  }
  return endpoint;
}

/**
 * The sink for one Redis DB (default `target-redis-db`) from the conf's `target-redis-*`,
 * `redis-sender-num`, `sync-batch-num` and rate limits (or `limiter`, shared); a ClusterPool when
 * `target-redis-cluster` is set (DB 0 only). Fails fast. `recordApplied: false`: batches leave no
 * positions in the target (a load into a cluster); `appliedKey`: another hash for them (`load`'s).
 */
export async function connectTarget(
  config: Config,
  logger: Logger,
  o: { db?: number; limiter?: RateLimiter; recordApplied?: boolean; appliedKey?: string } = {},
): Promise<Sink> {
  const v = config.values;
  const db = o.db ?? v['target-redis-db'];
  const limiter = o.limiter;
  const endpoint = targetConnectionOptions(config);
  if (endpoint.tls?.rejectUnauthorized === false) {
    logger.warn({ db }, 'target-redis-tls-verify is no: the target\'s certificate is not checked, so anyone on the path can pose as the target');
  }
  const common = {
    batchSize: v['sync-batch-num'],
    maxOpsPerSec: v['target-max-ops'],
    maxBytesPerSec: v['target-max-bytes'],
    ...(limiter ? { limiter } : {}),
    logger: logger.child({ module: 'sink', db }),
  };
  const cluster = v['target-redis-cluster'];
  if (cluster !== null) {
    // The cluster sink dials every master itself (learnt from CLUSTER SLOTS): no sentinels, and
    // no WAIT (its batches are plain pipelines, at-least-once anyway).
    for (const k of ['target-redis-sentinels', 'target-redis-wait-replicas'] as const) {
      const on = k === 'target-redis-sentinels' ? v[k].length > 0 : v[k] > 0;
      if (on) throw new ConfigError(`${config.raw.get(k)?.where ?? config.file} ${k}: not supported with target-redis-cluster`);
    }
    const seeds = cluster.length > 0 ? cluster : [{ host: v['target-redis-host'], port: v['target-redis-port'] }];
    return ClusterPool.connect({ ...common, password: endpoint.password, username: endpoint.username, ...(endpoint.tls ? { tls: endpoint.tls } : {}), seeds });
  }
  return SenderPool.connect({
    ...common,
    ...endpoint,
    db,
    senders: v['redis-sender-num'],
    waitReplicas: v['target-redis-wait-replicas'],
    ...(o.recordApplied === false ? { recordApplied: false } : {}),
    ...(o.appliedKey !== undefined ? { appliedKey: o.appliedKey } : {}),
  });
}

/**
 * One sink per target Redis DB (a connection selects one DB, and each DB keeps its own
 * exactly-once records), sharing one rate limit: target-max-ops is for the whole target.
 */
export class Targets {
  private constructor(
    readonly routes: readonly DbRoute[],
    private readonly pools: ReadonlyMap<number, Sink>,
    private readonly limiter: RateLimiter,
  ) {}

  static async connect(config: Config, routes: readonly DbRoute[], logger: Logger): Promise<Targets> {
    const v = config.values;
    const limiter = new RateLimiter(v['target-max-ops'], v['target-max-bytes']);
    const pools = new Map<number, Sink>();
    try {
      for (const r of routes) pools.set(r.source, await connectTarget(config, logger, { db: r.target, limiter }));
    } catch (e) {
      await Promise.all([...pools.values()].map((p) => p.close().catch(() => {})));
      throw e;
    }
    // A FLUSHALL from one DB's binlog empties every DB, the other sinks' markers with them.
    for (const p of pools.values()) p.on('flushAll', () => pools.forEach((q) => q !== p && q.forgiveMissingMarkers()));
    return new Targets(routes, pools, limiter);
  }

  /** The pool that writes the master's DB `source`. */
  of(source: number): Sink {
    const p = this.pools.get(source);
    if (p === undefined) throw new Error(`no target for db${source}`);
    return p;
  }

  get all(): Sink[] {
    return [...this.pools.values()];
  }

  /** Every pool talks to the same server: its version and legacy flag are the first's. */
  get first(): Sink {
    return this.all[0];
  }

  onFatal(f: (e: Error) => void): void {
    for (const p of this.all) p.on('fatal', f);
  }

  async flush(): Promise<void> {
    await Promise.all(this.all.map((p) => p.flush()));
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((p) => p.close()));
  }

  /** Drops what is not acknowledged and disconnects every pool at once. */
  destroy(): void {
    for (const p of this.all) p.destroy();
  }

  async clearApplied(): Promise<void> {
    await Promise.all(this.all.map((p) => p.clearApplied()));
  }

  /** Every pool's own keys deleted (the migration ended): how many in all. */
  async removeOwnKeys(): Promise<number> {
    const counts = await Promise.all(this.all.map((p) => p.removeOwnKeys()));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Side names of the multi-type rule, in every target DB; the total deleted. */
  async dropSideNames(): Promise<number> {
    const counts = await Promise.all(this.all.map((p) => p.dropSideNames()));
    return counts.reduce((a, b) => a + b, 0);
  }

  get rateLimits(): { maxOps: number; maxBytes: number } {
    return this.limiter.limits;
  }

  setRateLimits(maxOps: number, maxBytes: number): void {
    this.limiter.set(maxOps, maxBytes);
  }

  /** All pools' counters added up (senders listed one pool after another). */
  stats(): SinkStats {
    const all = this.all.map((p) => p.stats());
    return all.reduce((a, b) => addUp(a, b) as SinkStats);
  }
}

function addUp(a: unknown, b: unknown): unknown {
  if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = k in out ? addUp(out[k], v) : v;
    return out;
  }
  return a;
}
