import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/load.js';
import { ConfigError, FatalError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { readDumpInfo, type DumpInfo } from '../snapshot/pika/snapshot.js';
import { loadSnapshot, type LoadSummary } from './load-snapshot.js';
import { keyFilterOf, keyRenamerOf } from './key-filter.js';
import { connectTarget } from './target.js';
import { flushOrRefused } from './flush-or-refused.js';
import type { Progress } from '../ops/progress.js';
import { formatPosition } from '../core/position.js';
import { snapshotFingerprint } from '../ops/snapshot-fingerprint.js';
import { LOAD_APPLIED_KEY, LOAD_NOTE_KEY, LoadNotes, type LoadNote } from './load-note.js';
import { loadSettingsOf } from './load-resume.js';

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
  /** Commands an interrupted run of this load had applied, not sent again (0: a load from the start). */
  readonly resumedSkipped: number;
}

/**
 * `pika-migrate load <dir>`: a snapshot or bgsave dump straight into Redis, no master, through the
 * same loader and sink as a full sync. SIGINT/SIGTERM abort the read; what was sent is flushed,
 * and the same load run again goes on from there (LoadNotes).
 */
export async function offlineLoad(dir: string, config: Config, logger: Logger, signal: AbortSignal): Promise<OfflineLoadResult> {
  const v = config.values;
  const dbDir = resolveDbDir(dir);
  const info = existsSync(join(dbDir, 'info')) ? await readDumpInfo(dbDir) : null;
  // One Redis: resumable (see LoadNotes). A cluster records no positions: a stopped load is run again.
  const notes = v['target-redis-cluster'] === null ? await LoadNotes.open(config) : null;
  let pool;
  try {
    pool = await connectTarget(config, logger, notes === null ? { recordApplied: false } : { appliedKey: LOAD_APPLIED_KEY });
  } catch (e) {
    notes?.close();
    throw e;
  }
  let progress: Progress | null = null;
  let nowMs = Date.now();
  try {
    if (notes !== null) {
      const fingerprint = snapshotFingerprint(dbDir);
      if (fingerprint === null) throw new Error(`load: ${dbDir}: cannot read the dump's files`);
      const want: LoadNote = { fingerprint, nowMs, settings: JSON.stringify(loadSettingsOf(v)), dir: dbDir };
      const note = await notes.read();
      if (note === null) await notes.start(want);
      else {
        const why = LoadNotes.mismatch(note, want, notes.target);
        if (why !== null) {
          throw new FatalError(`${why}: load that dump again with those settings to finish it, or DEL ${LOAD_NOTE_KEY} ${LOAD_APPLIED_KEY} on the target to give it up`);
        }
        nowMs = note.nowMs;
        const applied = await pool.resumeAfter(0);
        logger.info({ target: notes.target, nowMs, senders: applied?.positions.map((p) => (p === null ? '-' : formatPosition(p))) ?? [] }, 'resuming an interrupted load of this dump: what it applied is skipped');
      }
    }
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
      nowMs,
      onProgress: (p) => (progress = p),
    });
    const resumedSkipped = pool.stats().skippedAsApplied;
    await pool.close();
    await notes?.finish();
    return { summary, info, resumedSkipped };
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
    const st = pool.stats();
    const keys = (progress as Progress | null)?.get('keys') ?? 0;
    if (unflushed === null) await pool.close().catch(() => pool.destroy());
    else pool.destroy();
    throw new LoadInterruptedError(
      ((signal.reason as Error | undefined)?.message ?? 'aborted'),
      keys,
      st.total.acked,
      // Commands an earlier run applied were skipped, not sent: they are not this run's to acknowledge.
      st.total.submitted - st.skippedAsApplied,
      applied === null ? 'the start (nothing applied)' : `record ${formatPosition(applied)}`,
      unflushed,
    );
  } finally {
    notes?.close();
  }
}
