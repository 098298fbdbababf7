import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/load.js';
import { ConfigError, FatalError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { checkSnapshot, readDumpInfo, type DumpInfo } from '../snapshot/pika/snapshot.js';
import { dbRoutesOf } from './db-map.js';
import { loadSnapshot, type LoadSummary } from './load-snapshot.js';
import { keyFilterOf, keyRenamerOf } from './key-filter.js';
import { connectTarget } from './target.js';
import { flushOrRefused } from './flush-or-refused.js';
import type { Progress } from '../ops/progress.js';
import { formatPosition } from '../core/position.js';
import { snapshotFingerprint } from '../ops/snapshot-fingerprint.js';
import { LOAD_APPLIED_KEY, LOAD_NOTE_KEY, LoadNotes, type LoadNote } from './load-note.js';
import { loadSettingsOf } from './load-resume.js';

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
  readonly db: DumpDb;
  readonly summary: LoadSummary;
  /** The dump's binlog position (a master's bgsave `info`), when the dump has one. */
  readonly info: DumpInfo | null;
  /** Commands an interrupted run of this load had applied, not sent again (0: a load from the start). */
  readonly resumedSkipped: number;
}

/**
 * `pika-migrate load <dir>`: a snapshot or bgsave dump straight into Redis, no master, through the
 * same loader and sink as a full sync, one DB after the other. SIGINT/SIGTERM abort the read; what
 * was sent is flushed, and the same load run again goes on from there (LoadNotes, one per Redis DB).
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
  const dbDir = db.dir;
  // A damaged dump leaves nothing behind, not even the note that would hold a fixed one back.
  await checkSnapshot(dbDir);
  const info = existsSync(join(dbDir, 'info')) ? await readDumpInfo(dbDir) : null;
  // One Redis: resumable (see LoadNotes). A cluster records no positions: a stopped load is run again.
  const notes = v['target-redis-cluster'] === null ? await LoadNotes.open(config, db.target) : null;
  let pool;
  try {
    pool = await connectTarget(config, logger, notes === null ? { db: db.target, recordApplied: false } : { db: db.target, appliedKey: LOAD_APPLIED_KEY });
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
      dir: db.dir,
      // A single DB keeps the record numbering of a one-DB load.
      db: several ? db.source : 0,
      pool,
      logger: logger.child({ db: `db${db.source}` }),
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
    return { db, summary, info, resumedSkipped };
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
