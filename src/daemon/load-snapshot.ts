import { printableBytes } from '../core/command.js';
import type { Logger } from '../core/log.js';
import type { DataType, SnapshotRecord } from '../core/record.js';
import type { KeyFilter } from '../convert/filter.js';
import type { KeyRenamer } from '../convert/rename.js';
import { SnapshotRecordConverter, type ConflictPolicy } from '../convert/records.js';
import type { ConvertNote } from '../convert/types.js';
import { Progress, type ProgressSnapshot } from '../ops/progress.js';
import { DEFAULT_TYPE_ORDER, readSnapshotBatches, type ResumePoint } from '../snapshot/pika/snapshot.js';
import { CorruptionError } from '../core/errors.js';
import { unlessAborted } from '../core/interruptible.js';
import { formatPosition, type SourcePosition } from '../core/position.js';
import type { Sink } from '../sink/sink.js';
import type { LoadWatermark } from './load-watermark.js';

type SnapshotPosition = Extract<SourcePosition, { kind: 'snapshot' }>;

export interface LoadSnapshotOptions {
  /** One DB dir of a dump (`…/db0`: A–C type dirs or D instance dirs). */
  readonly dir: string;
  readonly db: number;
  readonly pool: Sink;
  readonly logger: Logger;
  /** Elements per record and per command for big keys (sync-batch-num). */
  readonly chunkSize: number;
  readonly conflict: ConflictPolicy;
  readonly typeOrder?: DataType[];
  /** Keys and types to copy; null: all. */
  readonly filter?: KeyFilter | null;
  /** Key renames by prefix (key-rename-prefix), applied after the filter. */
  readonly rename?: KeyRenamer | null;
  /** Aborting stops the read at the next record; what was submitted is still flushed by the caller. */
  readonly signal?: AbortSignal;
  /** Where the bar goes (tests pass null); default stderr when a TTY. */
  readonly bar?: NodeJS.WriteStream | null;
  /** Called with the live meter once it exists, so INFO can show the counts. */
  readonly onProgress?: (p: Progress) => void;
  /**
   * The one instant liveness and expiry are judged against, for the reader and the converter
   * alike (default: now). A resumed load passes the interrupted one's, so it reads the same
   * records and converts them to the same commands at the same positions.
   */
  readonly nowMs?: number;
  /** Resume at this key (a load interrupted after it had applied everything before it). */
  readonly from?: ResumePoint | null;
  /** Told of every key's first record, for the checkpoint's low watermark. */
  readonly watermark?: LoadWatermark;
  /** A snapshot still arriving: wait for each type dir (ReadSnapshotOptions.dirReady). */
  readonly dirReady?: (name: string) => Promise<void>;
}

export interface LoadSummary extends ProgressSnapshot {
  readonly typeConflicts: number;
  /** Keys the target already held and `conflict-policy : skip` kept as they were. */
  readonly keysKept: number;
  /** Keys left out by the key filter (filter-keys, filter-exclude-keys, filter-types). */
  readonly filtered: number;
  readonly skipped: Readonly<Record<string, number>>;
  readonly notes: Readonly<Record<string, number>>;
  /** When the load ended (ms since the epoch): INFO's Keyspace shows when its counts were taken. */
  readonly endedAt: number;
}

/** Payload bytes of a record (keys, values, fields, members), for the progress counts. */
function recordBytes(rec: SnapshotRecord): number {
  let n = rec.first ? rec.key.length : 0;
  switch (rec.type) {
    case 'string':
      return n + rec.value.length;
    case 'hash':
      // A field's value in pieces: its name counts once, with the first.
      if (rec.piece !== undefined && rec.piece.offset > 0) return n + rec.fields[0][1].length;
      for (const [f, v] of rec.fields) n += f.length + v.length;
      return n;
    case 'list':
      for (const e of rec.elements) n += e.length;
      return n;
    case 'set':
      for (const m of rec.members) n += m.length;
      return n;
    case 'zset':
      for (const [m] of rec.members) n += m.length + 8;
      return n;
    case 'stream':
      for (const e of rec.entries) for (const f of e.fields) n += f.length;
      return n;
  }
}

function elementCount(rec: SnapshotRecord): number {
  switch (rec.type) {
    case 'string':
      // A big string comes in pieces: one element all the same.
      return rec.first ? 1 : 0;
    case 'hash':
    case 'list':
      // A field's value or an element in pieces (one per record) is one element too.
      if (rec.piece !== undefined) return rec.piece.offset === 0 ? 1 : 0;
      return rec.type === 'hash' ? rec.fields.length : rec.elements.length;
    case 'set':
    case 'zset':
      return rec.members.length;
    case 'stream':
      return rec.entries.length;
  }
}

/**
 * Streams one DB of a snapshot into Redis: records → commands → sink, waiting whenever the sink
 * is full, so memory stays flat whatever the size of the dump or of one key. Every key that is not
 * written for a reason other than being dead (type conflict, HLL, internal key, …) is logged with
 * its name. Resolves once Redis has acknowledged every command.
 */
export async function loadSnapshot(o: LoadSnapshotOptions): Promise<LoadSummary> {
  const log = o.logger.child({ dir: o.dir });
  const progress = new Progress({ label: `full sync db${o.db}`, unit: 'keys', logger: log, bar: o.bar });
  o.onProgress?.(progress);
  let typeConflicts = 0;
  let filtered = 0;
  const filter = o.filter ?? null;
  const keptBefore = o.pool.stats().keysKept;
  const skipped: Record<string, number> = {};
  const notes: Record<string, number> = {};
  const onNote = (n: ConvertNote): void => {
    notes[n.code] = (notes[n.code] ?? 0) + 1;
    log[n.level]({ code: n.code }, n.message);
  };
  const nowMs = o.nowMs ?? Date.now();
  const from = o.from ?? null;
  const converter = new SnapshotRecordConverter({
    nowMs: () => nowMs,
    conflict: o.conflict,
    maxItemsPerCommand: o.chunkSize,
    legacyTarget: o.pool.legacyTarget,
    noStreamCounters: Number(o.pool.targetVersion.split('.')[0]) < 7,
    onNote,
    rename: o.rename ?? null,
    sideOrder: (o.typeOrder ?? DEFAULT_TYPE_ORDER).join(','),
  });
  let announced = false;
  const records = readSnapshotBatches(o.dir, {
    db: o.db,
    nowMs,
    chunkSize: o.chunkSize,
    ...(from !== null ? { from } : {}),
    chunkBytes: 1024 * 1024,
    typeOrder: o.typeOrder,
    emitShadowed: o.pool.sideKeys,
    onTypeConflict: (key, loser, winner) => {
      typeConflicts++;
      if (o.pool.sideKeys) log.info({ key: printableBytes(key), type: loser, kept: winner }, 'same key name in several types: the name holds the first type in type-order, this type goes under its side name pika-migrate:t:<type>:<name>');
      else log.warn({ key: printableBytes(key), type: loser, kept: winner }, 'same key name in several types: a cluster target cannot keep side names, this type is not copied');
    },
    onSkipped: (key, reason) => {
      skipped[reason] = (skipped[reason] ?? 0) + 1;
      log.warn({ key: printableBytes(key), reason }, 'key not copied');
    },
    onWarning: (key, type, message) => log.warn({ key: printableBytes(key), type }, message),
    onEstimatedKeys: (keys) => {
      progress.setTotal(keys);
      // A snapshot still arriving tells its estimate again as each type dir opens.
      if (!announced) log.info({ conflictPolicy: o.conflict, chunkSize: o.chunkSize, estimatedKeys: keys, ...(o.dirReady ? { arriving: true } : {}) }, 'loading snapshot into Redis');
      announced = true;
    },
    ...(o.dirReady ? { dirReady: o.dirReady } : {}),
  });
  progress.start();
  if (from !== null) log.info({ type: from.type, key: printableBytes(from.key), seq: from.seq }, 'resuming the interrupted load at this key');
  let checkFirst = from !== null;
  // A wait on the sink (room, the last flush) ends with a stop too: the target may refuse for good (OOM).
  const signal = o.signal;
  const orStop = <T>(p: Promise<T>): Promise<T> => (signal === undefined ? p : unlessAborted(p, signal, () => signal.reason ?? new Error('load aborted')));
  try {
    for await (const batch of records) {
      if (o.signal?.aborted) throw o.signal.reason ?? new Error('load aborted');
      if (checkFirst && batch.length > 0) {
        checkFirst = false;
        const r = batch[0];
        // Same dump, same instant: the key the load stopped at must come first, at its old position.
        if (!r.first || r.type !== from!.type || !r.key.equals(from!.key) || r.pos.kind !== 'snapshot' || r.pos.seq !== from!.seq) {
          throw new CorruptionError(
            `the snapshot does not hold ${from!.type} key ${printableBytes(from!.key)} at record ${from!.seq} where the interrupted load stopped (found ${r.type} ${printableBytes(r.key)} at ${formatPosition(r.pos)}); SLAVEOF … force loads a new snapshot`,
            o.dir,
          );
        }
      }
      let keys = 0;
      let elements = 0;
      let bytes = 0;
      let commands = 0;
      // Keys per type, counted in runs: one progress.add per run rather than per key.
      let runType: DataType | null = null;
      let runKeys = 0;
      // Indexed, not for…of: the iterator's result objects were garbage on every record.
      for (let r = 0; r < batch.length; r++) {
        const rec = batch[r];
        if (filter !== null && (!filter.acceptsType(rec.type) || !filter.acceptsKey(rec.key))) {
          if (rec.first) filtered++;
          continue;
        }
        if (rec.first) {
          keys++;
          if (rec.type !== runType) {
            if (runType !== null) progress.add(runType, runKeys);
            runType = rec.type;
            runKeys = 0;
          }
          runKeys++;
          if (o.watermark !== undefined && rec.pos.kind === 'snapshot') o.watermark.keyStart(rec.type, rec.key, rec.pos.seq);
        }
        elements += elementCount(rec);
        bytes += recordBytes(rec);
        const cmds = converter.convert(rec);
        commands += cmds.length;
        for (let i = 0; i < cmds.length; i++) {
          // Each command of a record gets its own position, so a resumed load knows which were applied.
          const wait = o.pool.submit(i === 0 ? cmds[i] : { ...cmds[i], pos: { ...(cmds[i].pos as SnapshotPosition), part: i } });
          if (wait !== undefined) await orStop(wait);
        }
      }
      // Drops the keys the sink has applied: kept only until the next checkpoint, they would hold
      // every key read in between (and the buffers they share) for up to a second.
      o.watermark?.at(o.pool.appliedPosition());
      if (runType !== null) progress.add(runType, runKeys);
      progress.add('keys', keys);
      progress.add('records', batch.length);
      progress.add('elements', elements);
      progress.add('bytes', bytes);
      progress.add('commands', commands);
    }
    await orStop(o.pool.flush());
  } catch (e) {
    progress.stop('stopped');
    throw e;
  }
  const s = progress.stop('snapshot loaded');
  if (filtered > 0) log.info({ filtered }, 'keys left out by the key filter');
  return { ...s, typeConflicts, keysKept: o.pool.stats().keysKept - keptBefore, filtered, skipped, notes, endedAt: Date.now() };
}
