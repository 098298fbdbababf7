/** Shared by the daemon tests: a daemon started in-process from conf entries, with an admin client. */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { buildConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon/daemon.js';
import type { RedisServer } from '../helpers/redis.js';
import { replicaPort, testLogger } from '../replication/support.js';

/** `key:value` lines; Pika's `db0:<state>` and `db0:binlog_offset=…` lines keep their first word as part of the key. */
export function infoFields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const m = /^(db\d+:binlog_offset)=(.*)$/.exec(line) ?? /^([^#:][^:]*):(.*)$/.exec(line);
    if (m !== null) out.set(m[1], m[2]);
  }
  return out;
}

export async function startDaemon(target: RedisServer, dir: string, extra: Record<string, string> = {}) {
  const port = await replicaPort();
  const entries = Object.entries({
    port: String(port),
    bind: '127.0.0.1',
    'db-sync-path': join(dir, 'dbsync'),
    'log-path': join(dir, 'log'),
    'target-redis-port': String(target.port),
    'redis-sender-num': '4',
    'sync-batch-num': '50',
    ...extra,
  }).map(([key, value], i) => ({ key, value, where: `test.conf:${i + 1}` }));
  const daemon = await Daemon.start(buildConfig('test.conf', entries), testLogger(), {
    bar: null,
    replicaTimeouts: { reconnectDelayMs: 100, rsyncMetaRetryMs: 100, rsyncRequestMs: 2000 },
  });
  const admin = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  admin.on('error', () => {}); // a daemon that exited refuses the reconnects; calls still reject
  const info = async (section: string) => infoFields((await admin.info(section)) as string);
  return { daemon, admin, port, info };
}

