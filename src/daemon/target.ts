import type { ConfValues } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import { ClusterPool } from '../sink/cluster-pool.js';
import { SenderPool } from '../sink/pool.js';
import type { Sink } from '../sink/sink.js';

/**
 * The sink for the conf's `target-redis-*`, `redis-sender-num`, `sync-batch-num` and rate limits;
 * a ClusterPool when `target-redis-cluster` is set. Fails fast.
 */
export async function connectTarget(v: Readonly<ConfValues>, logger: Logger): Promise<Sink> {
  const common = {
    password: v['target-redis-pwd'] || undefined,
    username: v['target-redis-user'] || undefined,
    batchSize: v['sync-batch-num'],
    maxOpsPerSec: v['target-max-ops'],
    maxBytesPerSec: v['target-max-bytes'],
    logger: logger.child({ module: 'sink' }),
  };
  const cluster = v['target-redis-cluster'];
  if (cluster !== null) {
    const seeds = cluster.length > 0 ? cluster : [{ host: v['target-redis-host'], port: v['target-redis-port'] }];
    return ClusterPool.connect({ ...common, seeds });
  }
  return SenderPool.connect({ ...common, host: v['target-redis-host'], port: v['target-redis-port'], db: v['target-redis-db'], senders: v['redis-sender-num'] });
}
