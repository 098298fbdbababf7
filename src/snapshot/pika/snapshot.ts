/**
 * Reads one DB of a Pika DBSync dump as a stream of SnapshotRecords (public entry point of
 * `snapshot/pika`). Families A–C (3.2–3.5, one RocksDB per type) and D (4.0, RocksDB instances
 * with column families) are told apart from the directory layout.
 *
 * What is emitted: every live key — not expired at `nowMs` (expiry strictly before `nowMs`), count
 * ≠ 0, data of the meta's current version only — as records in chunks (`first`/`last`) of at most
 * `chunkSize` elements and about `chunkBytes` bytes; streams (3.5.3+ `streams/`, 4.0) with a
 * non-zero length, entries in ID order. Never emitted, reported through `onSkipped`:
 * HyperLogLogs, Pika's slot-migration keys, 4.0.1 keys whose name Pika stored mangled.
 *
 * Same name in several types (A–C only; Redis holds one type per name): types are read one after
 * the other in `typeOrder` (default string, hash, list, set, zset) and the first type in that order
 * that holds the name live wins. Before a key of a later type is emitted, the meta of each earlier
 * type is probed (a forward cursor per earlier type: cheap steps while lookups ascend, a seek
 * otherwise); a hit reports the key through `onTypeConflict` and
 * the key is not emitted. This keeps every type a single forward scan with flat memory — a streaming merge across types is not
 * possible because hashes/sets/zsets data is not stored in key order. A skipped key of an earlier
 * type (HLL, internal) still holds its name. D stores one type per name and emits in key order;
 * `typeOrder` does not apply there.
 */
import { ConfigError, CorruptionError } from '../../core/errors.js';
import type { DataType, SnapshotRecord } from '../../core/record.js';
import { openRocksDb, type RocksDb } from '../rocks/db.js';
import { pikaComparators } from './comparators.js';
import { ScanContext } from './context.js';
import { checkInstanceCount } from './instance-count.js';
import { dataBytes, layoutOf, type Family } from './layout.js';
import { LiveProbe, scanKeyed3, scanLists3, scanStrings3 } from './scan3.js';
import { scanInstances4 } from './scan4.js';
import { dataKeyPrefix3 } from './format3.js';
import { metaKeyPrefix4 } from './format4.js';

export { readDumpInfo, type DumpInfo } from './layout.js';

export interface ReadSnapshotOptions {
  /** DB number, carried into every record and its position. */
  db: number;
  /** Liveness is evaluated against this one instant (ms since the epoch) for the whole read. */
  nowMs: number;
  /** Most elements per record of a container key. */
  chunkSize: number;
  /** A record is closed once its elements reach this many payload bytes. */
  chunkBytes: number;
  /**
   * A–C only: the order types are read in; the first type holding a name wins it. Default string,
   * hash, list, set, zset; streams always come last (a stream loses a name held by any other type).
   */
  typeOrder?: DataType[];
  onTypeConflict?(key: Buffer, loser: DataType, winner: DataType): void;
  /** Emit a losing type too (after reporting it), marked `shadowed`, instead of leaving it out. */
  emitShadowed?: boolean;
  /** A key not emitted for a reason other than being dead: HLL, internal key, stream, unreadable name, duplicate. */
  onSkipped?(key: Buffer, reason: string): void;
  /** A key emitted although its data contradicts its meta (element count ≠ meta count). */
  onWarning?(key: Buffer, type: DataType, message: string): void;
  /**
   * Once the DBs are open, before the first record: about how many keys the read will emit, for
   * progress and ETA. It counts the entries of the meta column families (A–C: each type DB's
   * default CF; D: each instance's), stale versions and tombstones included: an upper bound.
   */
  onEstimatedKeys?(keys: number): void;
  /**
   * Start at this key instead of the beginning (a resumed load): the key of that type whose first
   * record had ordinal `seq` in an earlier read of the same dump with the same `nowMs`,
   * `chunkSize` and `typeOrder`. The read seeks to it (A–C: earlier types are not read at all) and
   * numbers records on from `seq`, so every record gets the position it had in the earlier read.
   */
  from?: ResumePoint;
  /**
   * A–C only: a snapshot still arriving (an A/B push). Each type dir is opened, checked and read
   * only once this resolves for its name (`strings`, …), in type order, so the first types load
   * while later ones arrive; a dir found damaged then stops the read after the records of the
   * types before it. `onEstimatedKeys` is called again as each dir opens. Without it every dir
   * is opened and checked before the first record.
   */
  dirReady?(name: string): Promise<void>;
}

/** Where a read starts again: a key's first record (see ReadSnapshotOptions.from). */
export interface ResumePoint {
  readonly type: DataType;
  readonly key: Buffer;
  readonly seq: number;
}

async function estimateKeys(dbs: readonly RocksDb[]): Promise<number> {
  let n = 0;
  for (const db of dbs) n += await db.estimateEntries('default');
  return n;
}

export const DEFAULT_TYPE_ORDER: readonly DataType[] = ['string', 'hash', 'list', 'set', 'zset'];

const BYTEWISE = 'leveldb.BytewiseComparator';

/** Column families and their comparators, per A–C type dir and for a D instance. */
const CFS_3: Record<string, Record<string, string>> = {
  strings: { default: BYTEWISE },
  hashes: { default: BYTEWISE, data_cf: BYTEWISE },
  sets: { default: BYTEWISE, member_cf: BYTEWISE },
  lists: { default: BYTEWISE, data_cf: 'blackwidow.ListsDataKeyComparator' },
  zsets: { default: BYTEWISE, data_cf: BYTEWISE, score_cf: 'blackwidow.ZSetsScoreKeyComparator' },
  streams: { default: BYTEWISE, data_cf: BYTEWISE },
};
const CFS_4: Record<string, string> = {
  default: BYTEWISE,
  hash_data_cf: BYTEWISE,
  set_data_cf: BYTEWISE,
  list_data_cf: 'floyd.ListsDataKeyComparator',
  zset_data_cf: BYTEWISE,
  zset_score_cf: 'floyd.ZSetsScoreKeyComparator',
  stream_data_cf: BYTEWISE,
};

/** `A-C` (3.2–3.5) or `D` (4.0) for a DB dir of a dump (`…/db0`) or a dump root holding `db0/`. */
export async function detectFamily(dumpDir: string): Promise<Family> {
  return (await layoutOf(dumpDir)).family;
}

/** Bytes of data files the read will go through (for progress and ETA). */
export async function snapshotSizeBytes(dbDir: string): Promise<number> {
  return dataBytes(await layoutOf(dbDir));
}

/**
 * Opens every RocksDB of a DB dir with the checks a read makes at its start (MANIFEST, live files,
 * column families, 4.0's instances) and closes them: a dump that cannot be read whole is refused
 * before anything is written for it.
 */
export async function checkSnapshot(dbDir: string): Promise<void> {
  const layout = await layoutOf(dbDir);
  const opened: RocksDb[] = [];
  try {
    for (const d of layout.dirs) opened.push(await openChecked(d.path, layout.family === 'D' ? CFS_4 : CFS_3[d.name]));
    if (layout.family === 'D') await checkInstanceCount(opened, layout.dbDir);
  } finally {
    for (const db of opened) await db.close();
  }
}

async function openChecked(dir: string, expected: Record<string, string>): Promise<RocksDb> {
  const db = await openRocksDb(dir, { comparators: pikaComparators });
  try {
    const cfs = db.columnFamilies();
    const unknown = cfs.filter((c) => !(c in expected));
    if (unknown.length > 0) throw new CorruptionError(`unexpected column famil${unknown.length > 1 ? 'ies' : 'y'} ${unknown.join(', ')}`, dir);
    for (const cf of Object.keys(expected)) {
      if (!cfs.includes(cf)) throw new CorruptionError(`column family ${cf} missing`, dir);
      const name = db.comparatorName(cf);
      if (name !== expected[cf]) throw new CorruptionError(`column family ${cf} uses comparator ${name}, expected ${expected[cf]}`, dir);
    }
    return db;
  } catch (e) {
    await db.close();
    throw e;
  }
}

function checkTypeOrder(order: readonly DataType[]): void {
  const ok = order.length === DEFAULT_TYPE_ORDER.length && DEFAULT_TYPE_ORDER.every((t) => order.includes(t));
  if (!ok) throw new ConfigError(`typeOrder must list each of ${DEFAULT_TYPE_ORDER.join(', ')} once, got ${order.join(', ')}`);
}

const DIR_OF: Record<DataType, string> = { string: 'strings', hash: 'hashes', list: 'lists', set: 'sets', zset: 'zsets', stream: 'streams' };

/** As `readSnapshotBatches`, one record at a time. */
export async function* readSnapshot(dbDir: string, opts: ReadSnapshotOptions): AsyncGenerator<SnapshotRecord> {
  for await (const batch of readSnapshotBatches(dbDir, opts)) yield* batch;
}

/**
 * The records of one DB in order, in arrays of a few hundred records or about 256 KiB (whichever
 * comes first): the fast form, one await per batch.
 */
export async function* readSnapshotBatches(dbDir: string, opts: ReadSnapshotOptions): AsyncGenerator<SnapshotRecord[]> {
  const order = opts.typeOrder ?? DEFAULT_TYPE_ORDER;
  checkTypeOrder(order);
  const ctx = new ScanContext(opts.db, opts.nowMs, opts.chunkSize, opts.chunkBytes, opts);
  const from = opts.from ?? null;
  if (from !== null) ctx.seqs.next = from.seq;
  const layout = await layoutOf(dbDir);
  const opened: RocksDb[] = [];
  const probes: LiveProbe[] = [];
  try {
    if (layout.family === 'D') {
      for (const d of layout.dirs) opened.push(await openChecked(d.path, CFS_4));
      await checkInstanceCount(opened, layout.dbDir);
      opts.onEstimatedKeys?.(await estimateKeys(opened));
      yield* scanInstances4(opened, ctx, from === null ? undefined : metaKeyPrefix4(from.key));
      return;
    }
    const dbs = new Map<string, RocksDb>();
    let estimated = 0;
    const open = async (name: string): Promise<RocksDb> => {
      let db = dbs.get(name);
      if (db !== undefined) return db;
      await opts.dirReady?.(name);
      db = await openChecked(layout.dirs.find((d) => d.name === name)!.path, CFS_3[name]);
      opened.push(db);
      dbs.set(name, db);
      if (opts.dirReady !== undefined) {
        estimated += await db.estimateEntries('default');
        opts.onEstimatedKeys?.(estimated);
      }
      return db;
    };
    if (opts.dirReady === undefined) {
      for (const d of layout.dirs) await open(d.name);
      opts.onEstimatedKeys?.(await estimateKeys(opened));
    }
    const earlier = probes;
    // A resumed read skips the types before its key's: they were loaded whole.
    let skipping = from !== null;
    for (const type of order) {
      const db = await open(DIR_OF[type]);
      if (skipping && type === from!.type) skipping = false;
      if (!skipping) {
        const seek = from !== null && type === from.type ? from.key : undefined;
        if (type === 'string') yield* scanStrings3(db, ctx, earlier, seek);
        else if (type === 'list') yield* scanLists3(db, ctx, earlier, seek);
        else yield* scanKeyed3(type, db, ctx, earlier, seek === undefined ? undefined : dataKeyPrefix3(seek));
      }
      earlier.push(new LiveProbe(type, db, ctx));
    }
    // Streams last (their own DB, 3.5.3+ dumps): a name an earlier type holds stays with it.
    const streams = layout.dirs.some((d) => d.name === DIR_OF.stream) ? await open(DIR_OF.stream) : undefined;
    if (streams !== undefined) {
      const seek = from !== null && from.type === 'stream' ? dataKeyPrefix3(from.key) : undefined;
      yield* scanKeyed3('stream', streams, ctx, earlier, seek);
    }
  } finally {
    for (const p of probes) await p.close();
    for (const db of opened) await db.close();
  }
}
