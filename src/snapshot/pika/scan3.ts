/**
 * Families A–C: one RocksDB per type (storage.md §2.1, §2.4). Each type is read on its own:
 * strings straight from their CF; lists by a merge join of meta and `data_cf` (both in raw-key
 * order); hashes, sets and zsets by walking `data_cf` (ordered by `len:u32 LE ‖ key`, not by key)
 * and looking up each key's meta through a forward cursor (lookups ascend within each key length,
 * so it mostly steps instead of seeking). Memory holds one key's current chunk.
 */
import { CorruptionError, type Where } from '../../core/errors.js';
import type { DataType, SnapshotRecord, StreamState } from '../../core/record.js';
import { largeKeyValue, type EntryMaker, type KeyValue, type LargeMaker, type RocksDb } from '../rocks/db.js';
import { readLargeValue, type LargeValue } from '../rocks/large-value.js';
import type { ScanContext } from './context.js';
import { BatchCursor, ForwardLookup } from './cursor.js';
import {
  DATA3_KEY_START,
  decodeBaseMeta3,
  dataKeyEnd3,
  decodeDataKey3,
  decodeListMeta3,
  decodeStreamMeta3,
  decodeStringValue3,
  LIST3_LEFT,
  LIST3_RIGHT,
} from './format3.js';
import { isPikaInternalKey, looksLikeHll3x, SKIP_HLL_3X, SKIP_INTERNAL } from './special-keys.js';
import { decodeStreamMessage, STREAM_ID_BYTES, streamIdOf } from './stream-format.js';
import { compareU64 } from './u64.js';
import { bytewiseSpans } from '../rocks/internal-key.js';

const where = (db: RocksDb, cf: string, key: Buffer): Where => () => `${db.dir} [${cf}] key ${key.toString('hex')}`;

/** Does an earlier type's DB hold `key` live? (The first type in typeOrder keeps a shared name.) */
export class LiveProbe {
  private readonly lookup: ForwardLookup;

  constructor(
    readonly type: DataType,
    private readonly db: RocksDb,
    private readonly ctx: ScanContext,
  ) {
    // A big string is left in its file: its expiry is its last 4 bytes, read alone (live).
    this.lookup = new ForwardLookup(db, 'default', type === 'string' ? largeKeyValue : undefined);
  }

  /** Synchronous while the lookup is (see ForwardLookup.getEntry). */
  has(key: Buffer): boolean | Promise<boolean> {
    const e = this.lookup.getEntry(key);
    return e instanceof Promise ? e.then((x) => this.live(key, x)) : this.live(key, e);
  }

  private live(key: Buffer, e: KeyValue | null): boolean | Promise<boolean> {
    if (e === null) return false;
    const large = e.large;
    if (large !== undefined) return readLargeValue(large, large.length - 4, 4).then((tail) => this.live(key, { key, value: tail }));
    const v = e.value;
    const at = where(this.db, 'default', key);
    if (this.type === 'string') return !this.ctx.expired(decodeStringValue3(v, at).expireAtMs);
    const m = this.type === 'list' ? decodeListMeta3(v, at) : decodeBaseMeta3(v, at);
    return m.count !== 0 && !this.ctx.expired(m.expireAtMs);
  }

  close(): Promise<void> {
    return this.lookup.close();
  }
}

/**
 * Gate for a live key about to be emitted: internal keys are skipped, and a name already held by
 * an earlier type loses. True when the key may be emitted; 'shadowed' when it lost and is emitted
 * anyway (`emitShadowed`), for its side name.
 */
type Admission = boolean | 'shadowed';

function admit(key: Buffer, type: DataType, ctx: ScanContext, earlier: readonly LiveProbe[]): Admission | Promise<Admission> {
  if (isPikaInternalKey(key)) {
    ctx.skipped(key, SKIP_INTERNAL);
    return false;
  }
  return admitFrom(0, key, type, ctx, earlier);
}

/** admit() for a string key, or true at once when there is nothing to check (no earlier type: most keys). */
function admitString(key: Buffer, ctx: ScanContext, earlier: readonly LiveProbe[]): Admission | Promise<Admission> {
  return earlier.length > 0 || isPikaInternalKey(key) ? admit(key, 'string', ctx, earlier) : true;
}

function admitFrom(i: number, key: Buffer, type: DataType, ctx: ScanContext, earlier: readonly LiveProbe[]): Admission | Promise<Admission> {
  for (; i < earlier.length; i++) {
    const p = earlier[i];
    const held = p.has(key);
    if (held instanceof Promise) {
      const next = i + 1;
      return held.then((h) => (h ? lose(key, type, p.type, ctx) : admitFrom(next, key, type, ctx, earlier)));
    }
    if (held) return lose(key, type, p.type, ctx);
  }
  return true;
}

function lose(key: Buffer, loser: DataType, winner: DataType, ctx: ScanContext): false | 'shadowed' {
  ctx.reports.onTypeConflict?.(key, loser, winner);
  return ctx.reports.emitShadowed === true ? 'shadowed' : false;
}

/** A string record as the scan makes it: its position is set once it is known to be emitted. */
type StringRecord = { -readonly [K in keyof Extract<SnapshotRecord, { type: 'string' }>]: Extract<SnapshotRecord, { type: 'string' }>[K] };

const UNPLACED = { kind: 'snapshot', db: 0, seq: -1 } as const;

/**
 * The scan's entry of a string is its record, made straight from the block: the user value is cut
 * out of it once, without the expiry's 4 bytes. No entry object in between: on a snapshot of small
 * strings that was one more object per key than the record itself.
 */
function stringMaker(db: RocksDb, dbNo: number): EntryMaker<StringRecord> {
  return (key, block, start, end) => {
    if (end - start < 4) decodeStringValue3(block.subarray(start, end), where(db, 'default', key)); // throws
    const valueEnd = end - 4;
    const expire = block.readInt32LE(valueEnd);
    return { type: 'string', db: dbNo, key, expireAtMs: expire === 0 ? null : expire * 1000, first: true, last: true, pos: UNPLACED, value: block.subarray(start, valueEnd) };
  };
}

/** A string the scan left in its file (LargeMaker): streamed in pieces by scanStrings3. */
interface LargeString {
  readonly type: 'large';
  readonly key: Buffer;
  readonly value: LargeValue;
}

const largeString: LargeMaker<LargeString> = (key, value) => ({ type: 'large', key, value });

/** A big string's records: its expiry from the value's last 4 bytes, then the user value in pieces (ScanContext.stringPieces). */
async function* largeStringRecords(db: RocksDb, rec: LargeString, ctx: ScanContext, earlier: readonly LiveProbe[]): AsyncGenerator<SnapshotRecord[]> {
  const { key, value } = rec;
  const { expireAtMs } = decodeStringValue3(await readLargeValue(value, value.length - 4, 4), where(db, 'default', key));
  if (ctx.expired(expireAtMs)) return;
  const a = admitString(key, ctx, earlier);
  const ok = a instanceof Promise ? await a : a;
  if (!ok) return;
  yield* ctx.stringPieces(key, expireAtMs, value, 0, value.length - 4, ok === 'shadowed');
}

/** `from`, in every scanner: the key to start at (a resumed read), in the scanned CF's own key form. */
export async function* scanStrings3(db: RocksDb, ctx: ScanContext, earlier: readonly LiveProbe[], from?: Buffer): AsyncGenerator<SnapshotRecord[]> {
  const dbNo = ctx.db;
  const make: EntryMaker<StringRecord | LargeString> = stringMaker(db, dbNo);
  const makeLarge = largeString;
  for await (const batch of db.scanBatches('default', from === undefined ? { make, makeLarge } : { from, make, makeLarge })) {
    for (let i = 0; i < batch.length; i++) {
      const rec = batch[i];
      if (rec.type === 'large') {
        yield* largeStringRecords(db, rec, ctx, earlier);
        continue;
      }
      const key = rec.key;
      if (rec.expireAtMs !== null && rec.expireAtMs < ctx.nowMs) continue;
      const a = admitString(key, ctx, earlier);
      const ok = a instanceof Promise ? await a : a;
      if (!ok) continue;
      const shadowed = ok === 'shadowed';
      const value = rec.value;
      if (value.length === 131072 && looksLikeHll3x(value, 0, value.length)) {
        ctx.skipped(key, SKIP_HLL_3X);
        continue;
      }
      rec.pos = { kind: 'snapshot', db: dbNo, seq: ctx.seqs.next++ };
      if (ctx.batch.push(shadowed ? { ...rec, shadowed: true } : rec, key.length + value.length)) yield ctx.batch.take();
    }
  }
  if (ctx.batch.size > 0) yield ctx.batch.take();
}

/**
 * hashes (`data_cf`), sets (`member_cf`), zsets (`data_cf`), streams (3.5.3+ `data_cf`, entries in
 * ID order within a key): data-driven with meta lookups.
 */
export async function* scanKeyed3(
  type: 'hash' | 'set' | 'zset' | 'stream',
  db: RocksDb,
  ctx: ScanContext,
  earlier: readonly LiveProbe[],
  from?: Buffer,
): AsyncGenerator<SnapshotRecord[]> {
  const cf = type === 'set' ? 'member_cf' : 'data_cf';
  const ch = ctx.chunker;
  const metas = new ForwardLookup(db, 'default');
  let cur: Buffer | null = null; // user key of the current run
  let live = false;
  let version = 0;
  let metaCount = 0;
  let streamLast = '';
  // A hash field's value of several MiB stays in its file, and goes in pieces (elementPieces).
  const makeLarge = type === 'hash' ? largeKeyValue : undefined;
  try {
    for await (const batch of db.scanBatches(cf, { ...(from === undefined ? {} : { from }), ...(makeLarge === undefined ? {} : { makeLarge }) })) {
      for (const { key: dk, value, large } of batch) {
        const keyEnd = dataKeyEnd3(dk);
        if (keyEnd < 0) decodeDataKey3(dk, where(db, cf, dk)); // throws
        if (cur === null || bytewiseSpans(dk, DATA3_KEY_START, keyEnd, cur, 0, cur.length) !== 0) {
          if (cur !== null && live) {
            const last = ch.finish();
            if (last !== null && ctx.batch.push(last, ch.lastBytes)) yield ctx.batch.take();
            ctx.checkCount(cur, type, metaCount, ch.count);
          }
          cur = dk.subarray(DATA3_KEY_START, keyEnd);
          live = false;
          const got = metas.get(cur);
          const mv = got instanceof Promise ? await got : got;
          if (mv !== null) {
            const at = where(db, 'default', cur);
            // Streams have no expiry; Pika takes a length-0 stream meta for no stream (XADD starts it
            // afresh, SCAN and DEL pass it by), be it DELeted or emptied by XDEL (W2).
            const m = type === 'stream' ? streamMeta(mv, at) : decodeBaseMeta3(mv, at);
            const a = m.count !== 0 && !ctx.expired(m.expireAtMs) && admit(cur, type, ctx, earlier);
            const ok = a instanceof Promise ? await a : a;
            if (ok) {
              live = true;
              version = m.version;
              metaCount = m.count;
              const state = 'state' in m ? (m.state as StreamState) : null;
              streamLast = state?.lastId ?? '';
              ch.start(type, cur, m.expireAtMs, state, ok === 'shadowed');
            }
          }
        }
        if (!live || dk.readInt32LE(keyEnd) !== version) continue;
        const suffix = dk.subarray(keyEnd + 4);
        let out: SnapshotRecord | null;
        if (type === 'hash') {
          if (large !== undefined) {
            yield* ctx.elementPieces(large, 0, large.length, (piece) => [suffix, piece], suffix.length);
            continue;
          }
          out = ch.add([suffix, value], suffix.length + value.length);
        } else if (type === 'set') {
          out = ch.add(suffix, suffix.length);
        } else if (type === 'stream') {
          const at = where(db, cf, dk);
          if (suffix.length !== STREAM_ID_BYTES) throw new CorruptionError(`stream data key ID of ${suffix.length} bytes, expected ${STREAM_ID_BYTES}`, at());
          const id = streamIdOf(suffix, 0);
          ctx.checkStreamId(cur, id, streamLast);
          out = ch.add({ id, fields: decodeStreamMessage(value, at) }, value.length);
        } else {
          if (value.length !== 8) throw new CorruptionError(`zset score of ${value.length} bytes, expected 8`, where(db, cf, dk)());
          const score = value.readDoubleLE(0);
          ctx.checkScore(cur, suffix, score);
          out = ch.add([suffix, score], suffix.length + 8);
        }
        if (out !== null && ctx.batch.push(out, ch.lastBytes)) yield ctx.batch.take();
      }
    }
    if (cur !== null && live) {
      const last = ch.finish();
      if (last !== null && ctx.batch.push(last, ch.lastBytes)) yield ctx.batch.take();
      ctx.checkCount(cur, type, metaCount, ch.count);
    }
    if (ctx.batch.size > 0) yield ctx.batch.take();
  } finally {
    await metas.close();
  }
}

/** lists: merge join of the meta CF and `data_cf`, both ordered by raw user key. */
export async function* scanLists3(db: RocksDb, ctx: ScanContext, earlier: readonly LiveProbe[], from?: Buffer): AsyncGenerator<SnapshotRecord[]> {
  const ch = ctx.chunker;
  // The data cursor starts at the beginning even on a resumed read: the join steps over the data
  // of the keys before `from` (data_cf's comparator wants whole data keys, not a key prefix).
  // An element of several MiB stays in its file, and goes in pieces (elementPieces).
  const data = await BatchCursor.open(db, 'data_cf', { makeLarge: largeKeyValue });
  try {
    for await (const batch of db.scanBatches('default', from === undefined ? {} : { from })) {
      for (const { key: mk, value: mv } of batch) {
        const m = decodeListMeta3(mv, where(db, 'default', mk));
        const a = m.count !== 0 && !ctx.expired(m.expireAtMs) && admit(mk, 'list', ctx, earlier);
        const live = a instanceof Promise ? await a : a;
        if (live) ch.start('list', mk, m.expireAtMs, null, live === 'shadowed');
        // Data sorts by user key (length field skipped), version, index: skip orphans, take this key's run.
        while (!data.done) {
          const { key: dk, value, large } = data.current!;
          const keyEnd = dataKeyEnd3(dk);
          if (keyEnd < 0) decodeDataKey3(dk, where(db, 'data_cf', dk)); // throws
          const c = bytewiseSpans(dk, DATA3_KEY_START, keyEnd, mk, 0, mk.length);
          if (c > 0) break;
          const index = keyEnd + 4;
          if (
            c === 0 &&
            live &&
            dk.readInt32LE(keyEnd) === m.version &&
            dk.length === index + 8 &&
            compareU64(dk, index, m.raw, LIST3_LEFT) > 0 &&
            compareU64(dk, index, m.raw, LIST3_RIGHT) < 0
          ) {
            if (large !== undefined) {
              yield* ctx.elementPieces(large, 0, large.length, (piece) => piece, 0);
            } else {
              const out = ch.add(value, value.length);
              if (out !== null && ctx.batch.push(out, ch.lastBytes)) yield ctx.batch.take();
            }
          }
          const p = data.advance();
          if (p !== undefined) await p;
        }
        if (live) {
          const last = ch.finish();
          if (last !== null && ctx.batch.push(last, ch.lastBytes)) yield ctx.batch.take();
          ctx.checkCount(mk, 'list', m.count, ch.count);
        }
      }
    }
    if (ctx.batch.size > 0) yield ctx.batch.take();
  } finally {
    await data.close();
  }
}

function streamMeta(value: Buffer, at: Where): { count: number; version: number; expireAtMs: null; state: StreamState } {
  const m = decodeStreamMeta3(value, at);
  return { count: m.length, version: m.version, expireAtMs: null, state: m.state };
}
