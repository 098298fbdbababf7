import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/load.js';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { readDumpInfo, type DumpInfo } from '../snapshot/pika/snapshot.js';
import { loadSnapshot, type LoadSummary } from './load-snapshot.js';
import { keyFilterOf, keyRenamerOf } from './key-filter.js';
import { connectTarget } from './target.js';
import { flushOrRefused } from './flush-or-refused.js';
import type { Progress } from '../ops/progress.js';
import { formatPosition } from '../core/position.js';

/** A DB dir (`…/db0`) as given, or the one `dbN` of a dump root. Several DBs: one load per DB, said plainly. */
export function resolveDbDir(dir: string): string {
  if (!existsSync(dir)) throw new ConfigError(`load: ${dir}: no such directory`);
  const dbs = readdirSync(dir).filter((n) => /^db(0|[1-9][0-9]*)$/.test(n));
  if (dbs.length === 0) return dir;
  if (dbs.length > 1) {
    throw new ConfigError(
      `load: ${dir} holds ${dbs.length} DBs (${dbs.join(', ')}): load each dbN directory on its own, choosing its target with PIKA_MIGRATE_TARGET_REDIS_DB=N`,
    );
  }
  return join(dir, dbs[0]);
}

/**
 * A load stopped by SIGINT/SIGTERM: not a success. Says how far it got: the keys read, the
 * commands Redis acknowledged and the position up to which it holds everything (or why what was
 * sent could not be flushed).
 */
export class LoadInterruptedError extends Error {
  override name = 'LoadInterruptedError';
  constructor(
    readonly reason: string,
    readonly keysRead: number,
    readonly acked: number,
    readonly submitted: number,
    readonly appliedUpTo: string,
    readonly unflushed: string | null,
  ) {
    super(
      `load interrupted (${reason}) at ${appliedUpTo}: ${keysRead} keys read, ${acked} of ${submitted} commands acknowledged by Redis` +
        (unflushed === null ? '' : `; the rest were not flushed: ${unflushed}`),
    );
  }
}

export interface OfflineLoadResult {
  readonly summary: LoadSummary;
  /** The dump's binlog position (a master's bgsave `info`), when the dump has one. */
  readonly info: DumpInfo | null;
}

/**
 * `pika-migrate load <dir>`: a snapshot or bgsave dump straight into Redis, no master, through the
 * same loader and sink as a full sync. SIGINT/SIGTERM abort the read; what was sent is flushed.
 */
export async function offlineLoad(dir: string, config: Config, logger: Logger, signal: AbortSignal): Promise<OfflineLoadResult> {
  const v = config.values;
  const dbDir = resolveDbDir(dir);
  const info = existsSync(join(dbDir, 'info')) ? await readDumpInfo(dbDir) : null;
  const pool = await connectTarget(config, logger, { recordApplied: false });
  let progress: Progress | null = null;
  try {
    const summary = await loadSnapshot({
      dir: dbDir,
      db: 0,
      pool,
      logger,
      chunkSize: v['sync-batch-num'],
      conflict: v['conflict-policy'],
      typeOrder: v['type-order'],
      filter: keyFilterOf(v),
      rename: keyRenamerOf(v),
      signal,
      onProgress: (p) => (progress = p),
    });
    await pool.close();
    return { summary, info };
  } catch (e) {
    if (!signal.aborted) {
      await pool.close().catch(() => pool.destroy());
      throw e;
    }
    // A stop: what was sent is flushed, unless Redis refuses it for good (that would never end).
    let unflushed: string | null = null;
    try {
      await flushOrRefused([pool]);
    } catch (f) {
      unflushed = (f as Error).message;
    }
    const applied = pool.appliedPosition();
    const total = pool.stats().total;
    const keys = (progress as Progress | null)?.get('keys') ?? 0;
    if (unflushed === null) await pool.close().catch(() => pool.destroy());
    else pool.destroy();
    throw new LoadInterruptedError(
      ((signal.reason as Error | undefined)?.message ?? 'aborted'),
      keys,
      total.acked,
      total.submitted,
      applied === null ? 'the start (nothing applied)' : `record ${formatPosition(applied)}`,
      unflushed,
    );
  }
}
