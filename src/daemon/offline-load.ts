import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/load.js';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { readDumpInfo, type DumpInfo } from '../snapshot/pika/snapshot.js';
import { dbRoutesOf } from './db-map.js';
import { loadSnapshot, type LoadSummary } from './load-snapshot.js';
import { keyFilterOf, keyRenamerOf } from './key-filter.js';
import { connectTarget } from './target.js';

/** One DB of a dump to load: its directory, the master's DB number, the Redis DB it goes to. */
export interface DumpDb {
  readonly dir: string;
  /** The master's DB (dbN); 0 for a DB dir given directly. */
  readonly source: number;
  readonly target: number;
}

/**
 * What `load <dir>` loads: a DB dir (`…/db0`) as given, or every `dbN` of a dump root. One DB goes
 * to `target-redis-db` as before; several go each to the Redis DB `db-map` names (unlisted: db0 →
 * `target-redis-db`, dbN → N), two of them into one Redis DB being refused as for a master.
 */
export function dumpDbsOf(dir: string, config: Config): DumpDb[] {
  if (!existsSync(dir)) throw new ConfigError(`load: ${dir}: no such directory`);
  const v = config.values;
  const dbs = readdirSync(dir)
    .filter((n) => /^db(0|[1-9][0-9]*)$/.test(n))
    .map((n) => Number(n.slice(2)))
    .sort((a, b) => a - b);
  if (dbs.length === 0) return [{ dir, source: 0, target: v['target-redis-db'] }];
  if (dbs.length === 1) return [{ dir: join(dir, `db${dbs[0]}`), source: dbs[0], target: v['target-redis-db'] }];
  // The dump says how many DBs the master had; db-map and the refusals are the daemon's (db-map.ts).
  const routes = dbRoutesOf({ ...v, databases: dbs[dbs.length - 1] + 1 }, config.file);
  return dbs.map((n) => ({ dir: join(dir, `db${n}`), source: n, target: routes[n].target }));
}

export interface OfflineLoadResult {
  readonly db: DumpDb;
  readonly summary: LoadSummary;
  /** The dump's binlog position (a master's bgsave `info`), when the dump has one. */
  readonly info: DumpInfo | null;
}

/**
 * `pika-migrate load <dir>`: a snapshot or bgsave dump straight into Redis, no master, through the
 * same loader and sink as a full sync, one DB after the other. SIGINT/SIGTERM abort the read; what
 * was sent is flushed.
 */
export async function offlineLoad(dir: string, config: Config, logger: Logger, signal: AbortSignal): Promise<OfflineLoadResult[]> {
  const dbs = dumpDbsOf(dir, config);
  const out: OfflineLoadResult[] = [];
  for (const db of dbs) {
    if (dbs.length > 1) logger.info({ dir: db.dir, db: db.source, targetDb: db.target }, `loading db${db.source} into Redis DB ${db.target}`);
    out.push(await loadOne(db, dbs.length > 1, config, logger, signal));
  }
  return out;
}

async function loadOne(db: DumpDb, several: boolean, config: Config, logger: Logger, signal: AbortSignal): Promise<OfflineLoadResult> {
  const v = config.values;
  const info = existsSync(join(db.dir, 'info')) ? await readDumpInfo(db.dir) : null;
  const pool = await connectTarget(config, logger, { db: db.target, recordApplied: false });
  try {
    const summary = await loadSnapshot({
      dir: db.dir,
      // A single DB keeps the record numbering of a one-DB load.
      db: several ? db.source : 0,
      pool,
      logger: logger.child({ db: 'db0' }),
      chunkSize: v['sync-batch-num'],
      conflict: v['conflict-policy'],
      typeOrder: v['type-order'],
      filter: keyFilterOf(v),
      rename: keyRenamerOf(v),
      signal,
    });
    await pool.close();
    return { db, summary, info };
  } catch (e) {
    await pool.close().catch(() => pool.destroy());
    throw e;
  }
}
