import type { ConfValues } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import { ClusterPool } from '../sink/cluster-pool.js';
import { SenderPool } from '../sink/pool.js';
import { RateLimiter } from '../sink/rate-limit.js';
import type { Sink, SinkStats } from '../sink/sink.js';
import type { DbRoute } from './db-map.js';

/**
 * The sink for one Redis DB from the conf's `target-redis-*`, `redis-sender-num`, `sync-batch-num`
 * and rate limits; a ClusterPool when `target-redis-cluster` is set (DB 0 only). Fails fast.
 */
export async function connectTarget(v: Readonly<ConfValues>, logger: Logger, db = v['target-redis-db'], limiter?: RateLimiter): Promise<Sink> {
  const common = {
    password: v['target-redis-pwd'] || undefined,
    username: v['target-redis-user'] || undefined,
    batchSize: v['sync-batch-num'],
    maxOpsPerSec: v['target-max-ops'],
    maxBytesPerSec: v['target-max-bytes'],
    ...(limiter ? { limiter } : {}),
    logger: logger.child({ module: 'sink', db }),
  };
  const cluster = v['target-redis-cluster'];
  if (cluster !== null) {
    const seeds = cluster.length > 0 ? cluster : [{ host: v['target-redis-host'], port: v['target-redis-port'] }];
    return ClusterPool.connect({ ...common, seeds });
  }
  return SenderPool.connect({ ...common, host: v['target-redis-host'], port: v['target-redis-port'], db, senders: v['redis-sender-num'] });
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

  static async connect(v: Readonly<ConfValues>, routes: readonly DbRoute[], logger: Logger): Promise<Targets> {
    const limiter = new RateLimiter(v['target-max-ops'], v['target-max-bytes']);
    const pools = new Map<number, Sink>();
    try {
      for (const r of routes) pools.set(r.source, await connectTarget(v, logger, r.target, limiter));
    } catch (e) {
      await Promise.all([...pools.values()].map((p) => p.close().catch(() => {})));
      throw e;
    }
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

  async clearApplied(): Promise<void> {
    await Promise.all(this.all.map((p) => p.clearApplied()));
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
