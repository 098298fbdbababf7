import { compareBinlogPositions, type BinlogEntry, type BinlogPosition } from '../core/binlog.js';
import { CorruptionError, FatalError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { DataType } from '../core/record.js';
import type { KeyFilter } from '../convert/filter.js';
import type { KeyRenamer } from '../convert/rename.js';
import type { ConflictPolicy } from '../convert/records.js';
import type { PikaFamily } from '../convert/types.js';
import { multiTypeRule } from '../convert/binlog.js';
import { readdirSync, statSync } from 'node:fs';
import { newWaiter, type Waiter } from '../core/waiter.js';
import { basename, join, relative } from 'node:path';
import { unlessAborted } from '../core/interruptible.js';
import { BinlogSpool } from '../ops/binlog-spool.js';
import type { Checkpoint, CheckpointStore, LoadState } from '../ops/checkpoint.js';
import { snapshotFingerprint } from '../ops/snapshot-fingerprint.js';
import { DEFAULT_TYPE_ORDER, type ResumePoint } from '../snapshot/pika/snapshot.js';
import type { LoadResume } from './load-resume.js';
import { LoadWatermark } from './load-watermark.js';
import type { Progress } from '../ops/progress.js';
import type { Replica, ReplicaStatus } from '../replication/replica.js';
import type { SnapshotArrival } from '../replication/snapshot-arrival.js';
import type { Sink } from '../sink/sink.js';
import { BinlogApplier, type ApplierStats } from './binlog-applier.js';
import { loadSnapshot, type LoadSummary } from './load-snapshot.js';

export interface MigrationOptions {
  readonly masterHost: string;
  readonly masterPort: number;
  /** The master's DB this migration follows (its binlog, snapshot, checkpoint and spool). */
  readonly db: number;
  /** The link to the master, shared by every DB of it. */
  readonly replica: Replica;
  readonly dbSyncPath: string;
  /**
   * Resume from this checkpoint with TrySync (no snapshot); null: take a full snapshot. A
   * checkpoint of an interrupted load (`loading`) comes with `resumeLoad`: the load resumes.
   */
  readonly resume: Checkpoint | null;
  /** The interrupted load `resume` describes, checked and with its spool reopened (openLoadResume). */
  readonly resumeLoad?: LoadResume | null;
  /** The conf values that decide a load's records and commands (LoadState.settings). */
  readonly loadSettings: Readonly<Record<string, string>>;
  /** Where the applied position is kept across restarts. */
  readonly checkpoint: CheckpointStore;
  /** Written into the checkpoint: it is only valid for this target. */
  readonly targetName: string;
  /** Largest binlog spool while a snapshot loads (0: no limit but the disk's). */
  readonly spoolMaxBytes: number;
  /** FLUSHDB the target before loading a snapshot (target-flush-on-full-sync). */
  readonly flushOnFullSync: boolean;
  readonly pool: Sink;
  readonly logger: Logger;
  readonly chunkSize: number;
  readonly conflict: ConflictPolicy;
  readonly typeOrder?: DataType[];
  /** Keys and types to copy, in the snapshot and the binlog alike; null: all. */
  readonly filter: KeyFilter | null;
  /** Key renames by prefix, after the filter, in the snapshot and the binlog alike; null: none. */
  readonly rename: KeyRenamer | null;
  /** Progress bar stream for the snapshot load (null: none; default: stderr when a TTY). */
  readonly bar?: NodeJS.WriteStream | null;
  /** Called once when the migration cannot go on (the daemon decides what follows). */
  readonly onFatal: (e: Error) => void;
}

/** How often the applied position is written to the checkpoint while it moves. */
const CHECKPOINT_EVERY_MS = 1000;
/** How often spooled entries are fsynced (and so become ackable). */
const SPOOL_SYNC_MS = 20;

export interface SpoolStatus {
  /** spooling: the snapshot loads, entries are spooled; replaying: the spool drains into Redis. */
  readonly stage: 'spooling' | 'replaying';
  readonly entries: number;
  readonly bytes: number;
  readonly replayed: number;
  readonly durable: BinlogPosition | null;
  /** Why the spool takes no more entries (acks stopped): null while it does. */
  readonly stopped: 'spool-max-bytes' | 'disk' | null;
  /** Free bytes on the spool's disk when the disk stopped it. */
  readonly diskFreeBytes: number | null;
}

/** How often names whose value Redis expired hand over to their next type (multi-type rule). */
const SIDE_SWEEP_MS = 1000;

export type MigrationPhase = 'connecting' | 'full_sync' | 'incremental' | 'stopped' | 'error';

interface LoadUnderWay {
  dir: string;
  fingerprint: string;
  nowMs: number;
  watermark: LoadWatermark;
  done: boolean;
  resumed: boolean;
  /**
   * An A/B snapshot loaded while its push goes on: its binlog offset (`info`) has not come yet, so
   * the checkpoint cannot say where the binlog resumes; it says `offsetPending` instead (a restart
   * refuses to resume), until loadSnapshot brings the offset.
   */
  arriving: {
    readonly arrival: SnapshotArrival;
    /** Per type dir opened for reading: its files as they were then (see filesOf). */
    readonly read: Map<string, string>;
    /** The first type dir is open: from here the load may write, and the checkpoint says offsetPending. */
    begun: boolean;
    /** Commands the sink had taken before this load: more means the load wrote to the target. */
    readonly submittedBefore: number;
    /** Resolved by loadSnapshot once the offset is known. */
    readonly offset: Waiter;
  } | null;
}

/**
 * The files of a dir as name, size, inode and mtime: a file the push replaced after it was read
 * (rsync renames a new copy into place) shows another inode, even with the same size.
 */
function filesOf(dir: string): string {
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const st = statSync(join(dir, name));
      return `${name}:${st.size}:${st.ino}:${st.mtimeMs}`;
    })
    .join('\n');
}

/**
 * One DB of a master followed into its Redis DB: the replica link (shared by the master's DBs, see
 * MasterLink) feeds this DB's snapshot to the loader and its binlog entries to the applier; the
 * applier's applied position is what the link acks for the DB. A second full sync is never taken
 * on its own (a purged resume point stops the migration), since it would write every key again
 * over what the binlog has changed since.
 */
export class Migration {
  private readonly replica: Replica;
  private phase: MigrationPhase = 'connecting';
  private readonly applier: BinlogApplier;
  private readonly loadAbort = new AbortController();
  private progress: Progress | null = null;
  private lastLoad: LoadSummary | null = null;
  /** 3.5.3–3.5.5 masters: streams their DBSync left out (null: could not be counted); undefined: n/a. */
  private streamsNotCopied: number | null | undefined = undefined;
  private readonly log: Logger;
  private saver: NodeJS.Timeout | null = null;
  /** direct: entries go to Redis; spooling: the snapshot loads, entries go to the spool; replaying: the spool drains into Redis. */
  private mode: 'direct' | 'spooling' | 'replaying' = 'direct';
  private spool: BinlogSpool | null = null;
  private syncer: NodeJS.Timeout | null = null;
  private sideSweeper: NodeJS.Timeout | null = null;
  private sweeping = false;
  /** type-order as the multi-type scripts take it. */
  private readonly sideOrder: string;
  private loading: Promise<void> | null = null;
  private loadStart: BinlogPosition | null = null;
  private spooled = 0;
  private replayed = 0;
  private directWaiter: { promise: Promise<void>; resolve: () => void } | null = null;
  /** The checkpoint last written (its JSON without the time): written again only when it changes. */
  private saved = '';
  /** The load under way (or interrupted and resumed): what its checkpoint must say to resume it. */
  private load: LoadUnderWay | null = null;
  /** Stops the load under way alone (its push was abandoned, its files changed), not the migration. */
  private loadCtl = new AbortController();
  /** Replay: per spool chunk replayed, the end of its last entry and the byte offset after it. */
  private replayMarks: Array<{ end: BinlogPosition; next: number }> = [];
  private replayedBytes = 0;

  constructor(private readonly o: MigrationOptions) {
    this.log = o.logger.child({ master: `${o.masterHost}:${o.masterPort}`, db: `db${o.db}` });
    this.replica = o.replica;
    const rule = multiTypeRule(o.typeOrder ?? DEFAULT_TYPE_ORDER);
    this.sideOrder = rule.order;
    this.applier = new BinlogApplier(
      o.pool,
      () => {
        const family = this.family();
        // 4.0 holds one type per name: its commands stay as they are.
        const multiType = family === 'D' || !o.pool.sideKeys ? null : rule;
        return { family, version: this.replica.masterVersion ?? undefined, nowMs: Date.now(), legacyTarget: o.pool.legacyTarget, filter: o.filter, rename: o.rename, multiType };
      },
      this.log.child({ component: 'convert' }),
    );
    if (o.resume !== null) {
      this.applier.reset(o.resume.applied);
      this.phase = o.resumeLoad ? 'full_sync' : 'incremental';
    }
  }

  start(): void {
    const r = this.o.resumeLoad;
    if (r) {
      const st = r.load;
      this.log.info(
        { start: `${r.checkpoint.applied.filenum}:${r.checkpoint.applied.offset}`, at: st.done ? 'spool replay' : (st.from?.seq ?? 0), spoolBytes: r.spool.bytes, checkpoint: this.o.checkpoint.path },
        st.done ? 'resuming the interrupted spool replay, and BinlogSync from the spool\'s end' : 'resuming the interrupted snapshot load where it stopped, and BinlogSync from the spool\'s end',
      );
      this.resumeLoad(r);
    } else if (this.o.resume !== null) {
      this.log.info({ from: `${this.o.resume.applied.filenum}:${this.o.resume.applied.offset}`, checkpoint: this.o.checkpoint.path }, 'resuming from the checkpoint with TrySync (no snapshot)');
    }
    this.saver = setInterval(() => this.saveCheckpoint(), CHECKPOINT_EVERY_MS);
    this.saver.unref();
    this.sideSweeper = setInterval(() => void this.settleExpiredSides(), SIDE_SWEEP_MS);
    this.sideSweeper.unref();
  }

  /**
   * Multi-type rule: Redis expires a name's value on its own, and the side name next in type-order
   * must then take the name, as Pika then answers with that type. Only while the binlog is
   * followed (a load writes a name's types one after the other); a failure is logged and retried
   * at the next tick.
   */
  private async settleExpiredSides(): Promise<void> {
    if (this.sweeping || this.phase !== 'incremental' || this.family() === 'D' || !this.o.pool.sideKeys) return;
    this.sweeping = true;
    try {
      const n = await this.o.pool.settleExpiredSides(this.sideOrder);
      if (n > 0) this.log.debug({ names: n }, 'names whose value expired while other types of theirs remain: settled');
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, `settling the side names of expired names failed; retried in ${SIDE_SWEEP_MS} ms`);
    } finally {
      this.sweeping = false;
    }
  }

  /** First step of a stop: a load in progress ends at its next batch. */
  abort(): void {
    if (this.saver !== null) clearInterval(this.saver);
    this.saver = null;
    if (this.sideSweeper !== null) clearInterval(this.sideSweeper);
    this.sideSweeper = null;
    this.loadAbort.abort(new Error('migration stopped'));
  }

  /** The link has stopped: the replica failed for every DB at once. */
  linkFailed(): void {
    this.phase = 'error';
  }

  /**
   * Last step of a stop, once the link is down (MasterLink.stop). `remove` (SLAVEOF NO ONE, or
   * another master) drops the checkpoint; otherwise it is brought up to what Redis holds, for a
   * restart to resume from. The caller flushes the sink first when it can.
   */
  async stop(remove: boolean): Promise<void> {
    this.abort();
    await this.loading;
    if (remove) {
      this.stopSpool();
      this.o.checkpoint.remove();
    } else {
      // An unfinished load or replay stays resumable: its spool is kept, its checkpoint says how far it got.
      this.closeSpool();
      this.saveCheckpoint();
    }
    if (this.phase !== 'error') this.phase = 'stopped';
  }

  /**
   * Records the applied position when it moved; only once a snapshot (or a resume) set a base.
   * False when the checkpoint could not be written.
   */
  saveCheckpoint(): boolean {
    // While a snapshot loads or its spool replays, the checkpoint says so (a restart must not take
    // it as loaded) and says how far both got, for a restart to resume them.
    const pending = this.load?.arriving != null;
    // A push under way whose first dir has not come: nothing was written, there is nothing to record.
    if (pending && !this.load!.arriving!.begun) return true;
    const loading = pending || this.mode !== 'direct' || this.spool !== null;
    // A load whose offset has not come yet has no binlog position to resume from: 0:0 and offsetPending.
    const applied = pending ? { filenum: 0, offset: 0 } : loading ? this.loadStart : this.applier.appliedPosition();
    if (applied === null) return true;
    const st = this.replica.status(this.o.db);
    // Before the link is up the status knows no identity yet: keep the one the checkpoint had.
    const runId = st.runId || this.o.resume?.runId;
    const replicationId = st.replicationId || this.o.resume?.replicationId;
    const load = loading && !pending ? this.loadState() : null;
    const cp = {
      master: { host: this.o.masterHost, port: this.o.masterPort },
      ...(runId ? { runId } : {}),
      ...(replicationId ? { replicationId } : {}),
      ...(st.family ? { family: st.family } : {}),
      ...(this.replica.masterVersion ? { version: this.replica.masterVersion } : {}),
      db: this.o.db,
      applied,
      target: this.o.targetName,
      ...(loading ? { loading: true } : {}),
      ...(pending ? { offsetPending: true } : {}),
      ...(load !== null ? { load } : {}),
    };
    const body = JSON.stringify(cp);
    if (body === this.saved) return true;
    try {
      this.o.checkpoint.write(cp);
      this.saved = body;
      return true;
    } catch (e) {
      // Not fatal: the link goes on; a restart would resume from the older checkpoint (at least once).
      this.log.error({ err: e, checkpoint: this.o.checkpoint.path }, 'could not write the checkpoint');
      return false;
    }
  }

  /** How far the load and its spool got (null before a load has its spool). */
  private loadState(): LoadState | null {
    const l = this.load;
    const spool = this.spool;
    if (l === null || spool === null) return null;
    const from = l.done ? null : l.watermark.at(this.o.pool.appliedPosition());
    if (l.done && this.replayMarks.length > 0) {
      const applied = this.applier.appliedPosition();
      let i = 0;
      while (i < this.replayMarks.length && applied !== null && compareBinlogPositions(this.replayMarks[i].end, applied) <= 0) this.replayedBytes = this.replayMarks[i++].next;
      if (i > 0) this.replayMarks.splice(0, i);
    }
    return {
      dir: relative(this.o.dbSyncPath, l.dir),
      fingerprint: l.fingerprint,
      nowMs: l.nowMs,
      settings: this.o.loadSettings,
      from: from === null ? null : { type: from.type, keyHex: from.key.toString('hex'), seq: from.seq },
      done: l.done,
      spool: { file: basename(spool.path), bytes: spool.durableBytes, durable: spool.durable },
      replayedBytes: this.replayedBytes,
    };
  }

  /** The family as the link knows it; `A/B` is A until the stream shows term/index (B). */
  private family(): PikaFamily {
    const f = this.replica.masterFamily;
    return f === null || f === 'A/B' ? 'A' : f;
  }

  /**
   * A/B: the snapshot is being pushed. Its load starts now, each type dir as soon as its push has
   * ended (SnapshotArrival), while the rest and then `info` (the binlog offset, ~1 s later on
   * 3.2.7) arrive; loadSnapshot brings the offset. When the first dir opens, before the first
   * write, the checkpoint says `offsetPending`, so that a restart in between refuses to resume
   * rather than guess an offset; if it cannot be written, the load waits for `info` there.
   */
  snapshotArriving(dir: string, db: number, arrival: SnapshotArrival): void {
    // A second snapshot while a load runs is never asked for (see the class comment): leave it to loadSnapshot.
    if (this.load !== null) return;
    const offset = newWaiter();
    this.phase = 'full_sync';
    this.loadStart = null;
    this.load = {
      dir,
      fingerprint: '',
      nowMs: Date.now(),
      watermark: new LoadWatermark(null),
      done: false,
      resumed: false,
      arriving: { arrival, read: new Map(), begun: false, submittedBefore: this.o.pool.stats().total.submitted, offset },
    };
    this.saved = '';
    this.log.info({ dir }, 'loading the snapshot while the master pushes it: each type dir as soon as it is complete');
    this.runLoad(dir, db, null);
  }

  /**
   * The push snapshotArriving announced failed. Its load stops; if it wrote nothing, or the next
   * snapshot will be loaded after a FLUSHDB (target-flush-on-full-sync), the replica takes a new
   * snapshot as it would have; otherwise the target holds part of this one, and a new snapshot
   * loaded over it would keep what the master deleted in between: a FatalError says so instead.
   */
  async snapshotAbandoned(_db: number, why: Error): Promise<void> {
    const l = this.load;
    const a = l?.arriving;
    if (l === null || a == null) return;
    this.loadCtl.abort(why);
    await this.loading;
    if (this.loadAbort.signal.aborted) return;
    this.stopSyncer();
    const wrote = this.o.pool.stats().total.submitted - a.submittedBefore;
    this.load = null;
    this.phase = 'connecting';
    if (wrote === 0 || this.o.flushOnFullSync) {
      if (wrote === 0) this.o.checkpoint.remove();
      this.saved = '';
      this.log.warn({ err: why.message, commands: wrote }, wrote === 0 ? 'the snapshot push failed before anything of it was written' : 'the snapshot push failed after part of it was written; the next snapshot is loaded after a FLUSHDB (target-flush-on-full-sync)');
      return;
    }
    const { masterHost: host, masterPort: port } = this.o;
    throw new FatalError(
      `the master's snapshot push failed (${why.message}) after ${wrote} commands of it were written to the target; a new snapshot loaded over them would keep keys deleted on the master in between: SLAVEOF ${host} ${port} force with target-flush-on-full-sync : yes (or an empty target) starts over`,
    );
  }

  /**
   * The snapshot has arrived: start loading it and return at once, so that the link goes on to
   * TrySync and BinlogSync while the load runs. Entries received meanwhile go to the spool on
   * local disk and are acked once fsynced (the master may then purge them: a load of hours no
   * longer races the master's binlog retention); they are replayed in order after the load.
   * A load that began while the snapshot arrived (snapshotArriving) takes the offset and goes on.
   */
  async loadSnapshot(dir: string, db: number, start: BinlogPosition): Promise<void> {
    const early = this.load?.arriving != null && this.load.dir === dir ? this.load : null;
    this.phase = 'full_sync';
    this.loadStart = start;
    this.spool?.remove();
    this.spool = new BinlogSpool(join(this.o.dbSyncPath, `spool-db${db}.bin`), this.o.spoolMaxBytes);
    this.spooled = 0;
    this.replayed = 0;
    this.replayMarks = [];
    this.replayedBytes = 0;
    this.mode = 'spooling';
    this.applier.reset(start);
    const fingerprint = snapshotFingerprint(dir);
    if (fingerprint === null) throw new FatalError(`the snapshot directory ${dir} is gone`);
    if (early !== null) {
      const a = early.arriving!;
      // What was read early must be what the snapshot holds now that it is complete.
      for (const [name, files] of a.read) {
        if (filesOf(join(dir, name)) !== files) {
          const e = new FatalError(`the master's push replaced files of ${join(dir, name)} after they were read; SLAVEOF ${this.o.masterHost} ${this.o.masterPort} force (with target-flush-on-full-sync : yes) starts over`);
          this.loadCtl.abort(e);
          throw e;
        }
      }
      early.fingerprint = fingerprint;
      early.arriving = null;
      this.saved = '';
      this.saveCheckpoint();
      a.offset.resolve();
      void this.countStreamGap(db);
      return;
    }
    this.load = { dir, fingerprint, nowMs: Date.now(), watermark: new LoadWatermark(null), done: false, resumed: false, arriving: null };
    this.saved = '';
    this.saveCheckpoint();
    this.runLoad(dir, db, null);
    void this.countStreamGap(db);
  }

  /**
   * Pika 3.5.3–3.5.5 keep streams in a `streams/` DB that their DBSync does not list (replication.md
   * §4.2, observed.md), so a full sync from them cannot copy the streams that exist when it starts;
   * binlog XADDs after it then build partial streams on the target. Their XRANGE cannot stand in
   * (these builds answer it with corrupt IDs, pika-bin README), so the gap is counted and said.
   */
  private async countStreamGap(db: number): Promise<void> {
    const v = this.replica.masterVersion;
    const m = v === null ? null : /^3\.5\.(\d+)/.exec(v);
    if (this.replica.masterFamily !== 'C' || (m !== null && Number(m[1]) < 3) || (v !== null && m === null)) return;
    const r = await this.replica.countStreams(db);
    this.streamsNotCopied = r.count;
    if (r.count === null) {
      this.log.warn({ reason: r.why, masterVersion: v }, 'Pika 3.5.3–3.5.5 do not send streams in a full sync, and how many this master holds is unknown: those streams are not copied');
    } else if (r.count > 0) {
      this.log.warn({ streams: r.count, masterVersion: v }, `Pika 3.5.3–3.5.5 do not send streams in a full sync: the ${r.count} streams of db${db} are not copied (binlog XADDs after it make partial streams on the target)`);
    }
  }

  /** The load the checkpoint says was interrupted: on from its watermark (or its replay), spooling meanwhile. */
  private resumeLoad(r: LoadResume): void {
    const st = r.load;
    const start = r.checkpoint.applied;
    const from: ResumePoint | null = st.from === null ? null : { type: st.from.type, key: Buffer.from(st.from.keyHex, 'hex'), seq: st.from.seq };
    this.phase = 'full_sync';
    this.loadStart = start;
    this.spool = r.spool;
    this.spooled = 0;
    this.replayed = 0;
    this.replayedBytes = st.replayedBytes;
    this.mode = st.done ? 'replaying' : 'spooling';
    this.load = { dir: r.dir, fingerprint: st.fingerprint, nowMs: st.nowMs, watermark: new LoadWatermark(from), done: st.done, resumed: true, arriving: null };
    this.runLoad(r.dir, r.checkpoint.db, from);
  }

  private runLoad(dir: string, db: number, from: ResumePoint | null): void {
    this.loadCtl = new AbortController();
    this.syncer = setInterval(() => this.syncSpool(), SPOOL_SYNC_MS);
    this.loading = this.loadThenReplay(dir, db, from).catch((e: unknown) => {
      if (this.loadAbort.signal.aborted || this.loadCtl.signal.aborted) return;
      // A snapshot that cannot be read would be read the same way again: stop, do not loop.
      this.fail(e instanceof CorruptionError ? new FatalError(`snapshot in ${dir} cannot be read: ${e.message}`) : (e as Error));
    });
  }

  private async loadThenReplay(dir: string, db: number, from: ResumePoint | null): Promise<void> {
    const l = this.load!;
    const arriving = l.arriving;
    if (!l.done) await this.loadRecords(dir, db, from);
    if (arriving !== null) {
      // Loaded before info came: the spool and the replay need its offset.
      await unlessAborted(arriving.offset.promise, this.loadSignal());
    }
    const start = this.loadStart!;
    const spool = this.spool!;
    this.mode = 'replaying';
    this.log.info({ entries: this.spooled, bytes: spool.bytes, from: this.replayedBytes }, 'snapshot loaded; replaying the binlog spooled meanwhile');
    let at = this.replayedBytes;
    for (;;) {
      if (this.loadAbort.signal.aborted || this.loadCtl.signal.aborted) return;
      const { entries, next } = spool.readFrom(at);
      // Caught up, in the same tick as the check: from here entries go straight to Redis.
      if (entries.length === 0) break;
      at = next;
      for (const e of entries) {
        const wait = this.applier.apply(e);
        if (wait !== undefined) await wait;
        this.replayed++;
      }
      this.replayMarks.push({ end: entries[entries.length - 1].end, next });
    }
    this.mode = 'direct';
    // The checkpoint stays a replaying one until Redis holds what the spool held: the master was
    // acked that far, so no restart may go back behind it (an entry the applier holds included).
    await this.applier.release();
    await this.o.pool.flush();
    this.phase = 'incremental';
    this.saveCheckpointAfterSpool();
    this.log.info({ start: `${start.filenum}:${start.offset}`, replayed: this.replayed }, 'spool replayed; following the binlog live');
  }

  /** The spool is replayed and in Redis: the checkpoint becomes a plain one, then the spool goes. */
  private saveCheckpointAfterSpool(): void {
    const spool = this.spool;
    this.spool = null;
    this.saveCheckpoint();
    this.spool = spool;
    this.stopSpool();
  }

  /** The snapshot's records into Redis: from the beginning (after the optional FLUSHDB), or on from `from`. */
  private async loadRecords(dir: string, db: number, from: ResumePoint | null): Promise<void> {
    const l = this.load!;
    const arriving = l.arriving;
    // A resumed load must not flush: Redis holds what it loaded before the interruption.
    if (this.o.flushOnFullSync && !l.resumed) {
      this.log.warn({ targetDb: this.o.targetName }, 'target-flush-on-full-sync: FLUSHDB on the target before loading the snapshot');
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
      rename: this.o.rename,
      signal: this.loadSignal(),
      bar: this.o.bar,
      onProgress: (p) => (this.progress = p),
      nowMs: l.nowMs,
      from,
      watermark: l.watermark,
      ...(arriving !== null
        ? {
            dirReady: async (name: string) => {
              await arriving.arrival.ready(name);
              if (!arriving.begun) {
                arriving.begun = true;
                this.saved = '';
                // On disk before the first write, or no write before the offset (as without a push to follow).
                if (!this.saveCheckpoint()) await unlessAborted(arriving.offset.promise, this.loadSignal());
              }
              arriving.read.set(name, filesOf(join(dir, name)));
            },
          }
        : {}),
    });
    l.done = true;
    // Redis holds the whole snapshot (loadSnapshot flushed): a restart from here only replays.
    this.saveCheckpoint();
  }

  /** Ends the load under way: a stop of the migration, or of this load alone (loadCtl). */
  private loadSignal(): AbortSignal {
    return AbortSignal.any([this.loadAbort.signal, this.loadCtl.signal]);
  }

  private syncSpool(): void {
    try {
      this.spool?.sync();
    } catch (e) {
      // After a failed fsync what reached the disk is unknown: stop rather than ack it.
      this.fail(new FatalError(`cannot fsync the binlog spool ${this.spool?.path}: ${(e as Error).message}; free space there, then SLAVEOF <ip> <port> force (an interrupted load is not resumed)`));
    }
  }

  private stopSpool(): void {
    this.stopSyncer();
    this.spool?.remove();
    this.spool = null;
    this.load = null;
  }

  /** Stop without dropping: the spool file stays (fsynced) for a restart to resume the load from. */
  private closeSpool(): void {
    this.stopSyncer();
    try {
      this.spool?.close();
    } catch (e) {
      this.log.error({ err: e, spool: this.spool?.path }, 'could not fsync the binlog spool on stop; a restart resumes from what the checkpoint says was fsynced');
    }
  }

  private stopSyncer(): void {
    if (this.syncer !== null) clearInterval(this.syncer);
    this.syncer = null;
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
    let appended: boolean;
    try {
      appended = spool.append(entry);
    } catch (e) {
      const err = new FatalError(`cannot write the binlog spool ${spool.path}: ${(e as Error).message}`);
      this.fail(err);
      throw err;
    }
    if (appended) {
      this.spooled++;
      if (!spool.full) return;
      // Stop reading: acks stop and the master keeps the binlog until the replay has caught up.
      if (this.directWaiter === null) {
        this.log.warn({ bytes: spool.bytes, max: this.o.spoolMaxBytes }, 'binlog spool full (spool-max-bytes): acks stop until the load is done; the master keeps the binlog meanwhile');
      }
      return this.waitForDirect();
    }
    // The disk is nearly full: the same as a full spool, but this entry is not in the spool, so it
    // goes straight to Redis once the spool is replayed (after every entry before it).
    const disk = spool.diskFull!;
    if (this.directWaiter === null) {
      const what = disk.code === null ? `only ${disk.freeBytes} bytes free (reserve ${disk.reserveBytes})` : `${disk.code}: no space left, ${disk.freeBytes} bytes free`;
      this.log.warn(
        { spool: spool.path, freeBytes: disk.freeBytes, reserveBytes: disk.reserveBytes, code: disk.code, bytes: spool.bytes },
        `binlog spool ${spool.path}: ${what}; acks stop until the load is done and the master keeps the binlog meanwhile (free space there or lower spool-max-bytes)`,
      );
    }
    return this.waitForDirect().then(() => {
      // Resolved by a stop instead: the load is abandoned, and this entry with it (as the spool).
      if (this.mode === 'direct') return this.applier.apply(entry);
    });
  }

  /** Resolves once entries go straight to Redis again (the spool replayed), or the migration stops. */
  private waitForDirect(): Promise<void> {
    if (this.directWaiter === null) {
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

  status(): {
    db: number;
    phase: MigrationPhase;
    link: ReplicaStatus;
    binlog: ApplierStats;
    load: Progress | null;
    lastLoad: LoadSummary | null;
    spool: SpoolStatus | null;
    streamsNotCopied: number | null | undefined;
  } {
    const sp = this.spool;
    const spool =
      sp === null
        ? null
        : {
            stage: this.mode === 'spooling' ? ('spooling' as const) : ('replaying' as const),
            entries: this.spooled,
            bytes: sp.bytes,
            replayed: this.replayed,
            durable: sp.durable,
            stopped: sp.diskFull !== null ? ('disk' as const) : sp.full ? ('spool-max-bytes' as const) : null,
            diskFreeBytes: sp.diskFull?.freeBytes ?? null,
          };
    return { db: this.o.db, phase: this.phase, link: this.replica.status(this.o.db), binlog: this.applier.stats(), load: this.progress, lastLoad: this.lastLoad, spool, streamsNotCopied: this.streamsNotCopied };
  }
}
