import { compareBinlogPositions, type BinlogEntry, type BinlogPosition } from '../core/binlog.js';
import { CorruptionError, FatalError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { DataType } from '../core/record.js';
import type { KeyFilter } from '../convert/filter.js';
import type { ConflictPolicy } from '../convert/records.js';
import type { PikaFamily } from '../convert/types.js';
import { join } from 'node:path';
import { BinlogSpool } from '../ops/binlog-spool.js';
import type { Checkpoint, CheckpointStore } from '../ops/checkpoint.js';
import type { Progress } from '../ops/progress.js';
import { Replica, type ReplicaHandler, type ReplicaStatus, type ReplicaTimeouts } from '../replication/replica.js';
import type { SenderPool } from '../sink/pool.js';
import { BinlogApplier, type ApplierStats } from './binlog-applier.js';
import { loadSnapshot, type LoadSummary } from './load-snapshot.js';

export interface MigrationOptions {
  readonly masterHost: string;
  readonly masterPort: number;
  readonly masterAuth: string;
  /** master-client-user / -pwd: the ACL user for INFO server on the master's port P (empty: masterauth). */
  readonly masterClientUser?: string;
  readonly masterClientPwd?: string;
  /** Our port as the master sees it (A/B push the snapshot to it + 1000). */
  readonly localPort: number;
  readonly localIp?: string;
  /** A/B: where our rsync daemon listens for the master's push (the admin port's bind address). */
  readonly rsyncBindAddress?: string;
  readonly dbSyncPath: string;
  /** Resume from this checkpoint with TrySync (no snapshot); null: take a full snapshot. */
  readonly resume: Checkpoint | null;
  /** Where the applied position is kept across restarts. */
  readonly checkpoint: CheckpointStore;
  /** Written into the checkpoint: it is only valid for this target. */
  readonly targetName: string;
  /** Largest binlog spool while a snapshot loads (0: no limit but the disk's). */
  readonly spoolMaxBytes: number;
  /** FLUSHDB the target before loading a snapshot (target-flush-on-full-sync). */
  readonly flushOnFullSync: boolean;
  readonly pool: SenderPool;
  readonly logger: Logger;
  readonly chunkSize: number;
  readonly conflict: ConflictPolicy;
  readonly typeOrder?: DataType[];
  /** Keys and types to copy, in the snapshot and the binlog alike; null: all. */
  readonly filter: KeyFilter | null;
  /** Progress bar stream for the snapshot load (null: none; default: stderr when a TTY). */
  readonly bar?: NodeJS.WriteStream | null;
  readonly timeouts?: Partial<ReplicaTimeouts>;
  /** Called once when the migration cannot go on (the daemon decides what follows). */
  readonly onFatal: (e: Error) => void;
}

/** How often the applied position is written to the checkpoint while it moves. */
const CHECKPOINT_EVERY_MS = 1000;
/** How often spooled entries are fsynced (and so become ackable). */
const SPOOL_SYNC_MS = 20;

export interface SpoolStatus {
  readonly entries: number;
  readonly bytes: number;
  readonly replayed: number;
  readonly durable: BinlogPosition | null;
}

export type MigrationPhase = 'connecting' | 'full_sync' | 'incremental' | 'stopped' | 'error';

/**
 * One master followed into Redis: the replica link feeds snapshots to the loader and binlog
 * entries to the applier; the applier's applied position is what the link acks. A second full
 * sync is never taken on its own (a purged resume point stops the migration), since it would
 * write every key again over what the binlog has changed since.
 */
export class Migration implements ReplicaHandler {
  readonly replica: Replica;
  private phase: MigrationPhase = 'connecting';
  private readonly applier: BinlogApplier;
  private readonly loadAbort = new AbortController();
  private progress: Progress | null = null;
  private lastLoad: LoadSummary | null = null;
  private readonly log: Logger;
  private saver: NodeJS.Timeout | null = null;
  /** direct: entries go to Redis; spooling: the snapshot loads, entries go to the spool; replaying: the spool drains into Redis. */
  private mode: 'direct' | 'spooling' | 'replaying' = 'direct';
  private spool: BinlogSpool | null = null;
  private syncer: NodeJS.Timeout | null = null;
  private loading: Promise<void> | null = null;
  private loadStart: BinlogPosition | null = null;
  private spooled = 0;
  private replayed = 0;
  private directWaiter: { promise: Promise<void>; resolve: () => void } | null = null;
  /** The applied position last written to the checkpoint, and whether it was a loading marker. */
  private saved: BinlogPosition | null = null;
  private savedLoading = false;

  constructor(private readonly o: MigrationOptions) {
    this.log = o.logger.child({ master: `${o.masterHost}:${o.masterPort}` });
    this.applier = new BinlogApplier(
      o.pool,
      () => ({ family: this.family(), version: this.replica.masterVersion ?? undefined, nowMs: Date.now(), legacyTarget: o.pool.legacyTarget, filter: o.filter }),
      this.log.child({ component: 'convert' }),
    );
    this.replica = new Replica({
      masterHost: o.masterHost,
      masterPort: o.masterPort,
      masterAuth: o.masterAuth || undefined,
      ...(o.masterClientUser ? { masterClientAuth: { username: o.masterClientUser, password: o.masterClientPwd ?? '' } } : {}),
      localIp: o.localIp,
      localPort: o.localPort,
      ...(o.rsyncBindAddress !== undefined ? { rsyncBindAddress: o.rsyncBindAddress } : {}),
      dbSyncPath: o.dbSyncPath,
      force: o.resume === null,
      ...(o.resume !== null
        ? {
            resumeFrom: o.resume.applied,
            expectIdentity: { ...(o.resume.runId ? { runId: o.resume.runId } : {}), ...(o.resume.replicationId ? { replicationId: o.resume.replicationId } : {}) },
          }
        : {}),
      logger: o.logger,
      handler: this,
      fullSyncOnPurge: false,
      ...(o.timeouts ? { timeouts: o.timeouts } : {}),
    });
    this.replica.on('fatal', (e: Error) => {
      this.phase = 'error';
      o.onFatal(e);
    });
    if (o.resume !== null) {
      this.applier.reset(o.resume.applied);
      this.phase = 'incremental';
      this.saved = o.resume.applied;
    }
  }

  start(): void {
    if (this.o.resume !== null) {
      this.log.info({ from: `${this.o.resume.applied.filenum}:${this.o.resume.applied.offset}`, checkpoint: this.o.checkpoint.path }, 'resuming from the checkpoint with TrySync (no snapshot)');
    }
    this.replica.start();
    this.saver = setInterval(() => this.saveCheckpoint(), CHECKPOINT_EVERY_MS);
    this.saver.unref();
  }

  /**
   * Stops the link (and a load in progress). `remove` (SLAVEOF NO ONE, or another master) tells
   * the master to forget us and drops the checkpoint; otherwise the checkpoint is brought up to
   * what Redis holds, for a restart to resume from. The caller flushes the sink first when it can.
   */
  async stop(remove: boolean): Promise<void> {
    if (this.saver !== null) clearInterval(this.saver);
    this.saver = null;
    this.loadAbort.abort(new Error('migration stopped'));
    await this.replica.stop(remove);
    await this.loading;
    // An unfinished load cannot be resumed yet: its spool goes, and its checkpoint says so.
    this.stopSpool();
    if (remove) this.o.checkpoint.remove();
    else this.saveCheckpoint();
    if (this.phase !== 'error') this.phase = 'stopped';
  }

  /** Records the applied position when it moved; only once a snapshot (or a resume) set a base. */
  saveCheckpoint(): void {
    // While a snapshot loads, the checkpoint only says so: a restart must not take it as loaded.
    const loading = this.mode !== 'direct';
    const applied = loading ? this.loadStart : this.applier.appliedPosition();
    if (applied === null || (this.saved !== null && compareBinlogPositions(applied, this.saved) === 0 && this.savedLoading === loading)) return;
    const st = this.replica.status();
    try {
      this.o.checkpoint.write({
        master: { host: this.o.masterHost, port: this.o.masterPort },
        ...(st.runId ? { runId: st.runId } : {}),
        ...(st.replicationId ? { replicationId: st.replicationId } : {}),
        ...(st.family ? { family: st.family } : {}),
        ...(this.replica.masterVersion ? { version: this.replica.masterVersion } : {}),
        db: 0,
        applied,
        target: this.o.targetName,
        ...(loading ? { loading: true } : {}),
      });
      this.saved = applied;
      this.savedLoading = loading;
    } catch (e) {
      // Not fatal: the link goes on; a restart would resume from the older checkpoint (at least once).
      this.log.error({ err: e, checkpoint: this.o.checkpoint.path }, 'could not write the checkpoint');
    }
  }

  /** The family as the link knows it; `A/B` is A until the stream shows term/index (B). */
  private family(): PikaFamily {
    const f = this.replica.masterFamily;
    return f === null || f === 'A/B' ? 'A' : f;
  }

  /**
   * The snapshot has arrived: start loading it and return at once, so that the link goes on to
   * TrySync and BinlogSync while the load runs. Entries received meanwhile go to the spool on
   * local disk and are acked once fsynced (the master may then purge them: a load of hours no
   * longer races the master's binlog retention); they are replayed in order after the load.
   */
  async loadSnapshot(dir: string, db: number, start: BinlogPosition): Promise<void> {
    this.phase = 'full_sync';
    this.loadStart = start;
    this.spool?.remove();
    this.spool = new BinlogSpool(join(this.o.dbSyncPath, `spool-db${db}.bin`), this.o.spoolMaxBytes);
    this.spooled = 0;
    this.replayed = 0;
    this.mode = 'spooling';
    this.applier.reset(start);
    this.saved = null;
    this.saveCheckpoint();
    this.syncer = setInterval(() => this.syncSpool(), SPOOL_SYNC_MS);
    this.loading = this.loadThenReplay(dir, db, start).catch((e: unknown) => {
      if (this.loadAbort.signal.aborted) return;
      // A snapshot that cannot be read would be read the same way again: stop, do not loop.
      this.fail(e instanceof CorruptionError ? new FatalError(`snapshot in ${dir} cannot be read: ${e.message}`) : (e as Error));
    });
  }

  private async loadThenReplay(dir: string, db: number, start: BinlogPosition): Promise<void> {
    if (this.o.flushOnFullSync) {
      this.log.warn({ db: this.o.targetName }, 'target-flush-on-full-sync: FLUSHDB on the target before loading the snapshot');
      await this.o.pool.flushTargetDb();
    }
    this.lastLoad = await loadSnapshot({
      dir,
      db,
      pool: this.o.pool,
      logger: this.log,
      chunkSize: this.o.chunkSize,
      conflict: this.o.conflict,
      typeOrder: this.o.typeOrder,
      filter: this.o.filter,
      signal: this.loadAbort.signal,
      bar: this.o.bar,
      onProgress: (p) => (this.progress = p),
    });
    const spool = this.spool!;
    this.mode = 'replaying';
    this.log.info({ entries: this.spooled, bytes: spool.bytes }, 'snapshot loaded; replaying the binlog spooled meanwhile');
    let at = 0;
    for (;;) {
      if (this.loadAbort.signal.aborted) return;
      const { entries, next } = spool.readFrom(at);
      // Caught up, in the same tick as the check: from here entries go straight to Redis.
      if (entries.length === 0) break;
      at = next;
      for (const e of entries) {
        const wait = this.applier.apply(e);
        if (wait !== undefined) await wait;
        this.replayed++;
      }
    }
    this.mode = 'direct';
    this.stopSpool();
    this.phase = 'incremental';
    this.saveCheckpoint();
    this.log.info({ start: `${start.filenum}:${start.offset}`, replayed: this.replayed }, 'spool replayed; following the binlog live');
  }

  private syncSpool(): void {
    try {
      this.spool?.sync();
    } catch (e) {
      this.fail(new FatalError(`cannot fsync the binlog spool: ${(e as Error).message}`));
    }
  }

  private stopSpool(): void {
    if (this.syncer !== null) clearInterval(this.syncer);
    this.syncer = null;
    this.spool?.remove();
    this.spool = null;
    const w = this.directWaiter;
    this.directWaiter = null;
    w?.resolve();
  }

  private fail(e: Error): void {
    if (this.phase === 'error') return;
    this.phase = 'error';
    this.o.onFatal(e);
  }

  applyEntry(entry: BinlogEntry): void | Promise<void> {
    if (this.mode === 'direct') return this.applier.apply(entry);
    const spool = this.spool!;
    try {
      spool.append(entry);
    } catch (e) {
      this.fail(e as Error);
      throw e;
    }
    this.spooled++;
    if (!spool.full) return;
    // Stop reading: acks stop and the master keeps the binlog until the replay has caught up.
    if (this.directWaiter === null) {
      this.log.warn({ bytes: spool.bytes, max: this.o.spoolMaxBytes }, 'binlog spool full (spool-max-bytes): acks stop until the load is done; the master keeps the binlog meanwhile');
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.directWaiter = { promise, resolve };
    }
    return this.directWaiter.promise;
  }

  appliedPosition(): BinlogPosition | null {
    if (this.mode === 'direct') return this.applier.appliedPosition();
    return this.spool?.durable ?? this.loadStart;
  }

  status(): { phase: MigrationPhase; link: ReplicaStatus; binlog: ApplierStats; load: Progress | null; lastLoad: LoadSummary | null; spool: SpoolStatus | null } {
    const spool = this.spool === null ? null : { entries: this.spooled, bytes: this.spool.bytes, replayed: this.replayed, durable: this.spool.durable };
    return { phase: this.phase, link: this.replica.status(), binlog: this.applier.stats(), load: this.progress, lastLoad: this.lastLoad, spool };
  }
}
