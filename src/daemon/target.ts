import type { ConfValues } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import { SenderPool } from '../sink/pool.js';

/**
 * The sink for the conf's `target-redis-*`, `redis-sender-num`, `sync-batch-num` and rate limits;
 * fails fast. `recordApplied: false` for a one-shot load: no restart resumes it, so its batches
 * leave no positions in the target's applied hash.
 */
export function connectTarget(v: Readonly<ConfValues>, logger: Logger, o: { recordApplied?: boolean } = {}): Promise<SenderPool> {
  return SenderPool.connect({
    host: v['target-redis-host'],
    port: v['target-redis-port'],
    password: v['target-redis-pwd'] || undefined,
    username: v['target-redis-user'] || undefined,
    db: v['target-redis-db'],
    senders: v['redis-sender-num'],
    batchSize: v['sync-batch-num'],
    maxOpsPerSec: v['target-max-ops'],
    maxBytesPerSec: v['target-max-bytes'],
    logger: logger.child({ module: 'sink' }),
    ...(o.recordApplied === false ? { recordApplied: false } : {}),
  });
}
