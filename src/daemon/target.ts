import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { Config } from '../config/load.js';
import type { ConfKey } from '../config/schema.js';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { TargetEndpoint } from '../sink/connection.js';
import { SenderPool } from '../sink/pool.js';

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

/** The sink for the conf's `target-redis-*`, `redis-sender-num`, `sync-batch-num` and rate limits; fails fast. */
export function connectTarget(config: Config, logger: Logger): Promise<SenderPool> {
  const v = config.values;
  const endpoint = targetConnectionOptions(config);
  if (endpoint.tls?.rejectUnauthorized === false) {
    logger.warn('target-redis-tls-verify is no: the target\'s certificate is not checked, so anyone on the path can pose as the target');
  }
  return SenderPool.connect({
    ...endpoint,
    senders: v['redis-sender-num'],
    batchSize: v['sync-batch-num'],
    waitReplicas: v['target-redis-wait-replicas'],
    maxOpsPerSec: v['target-max-ops'],
    maxBytesPerSec: v['target-max-bytes'],
    logger: logger.child({ module: 'sink' }),
  });
}
