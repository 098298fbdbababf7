/**
 * Family D (4.0): instances `0 … N-1`, each one RocksDB whose `default` CF holds every key's meta
 * (type byte first) and whose data CFs are ordered by `E(key)` first (storage.md §2.3, §2.4).
 * One pass: the instances' meta CFs are merged in key order (so a key present in two instances is
 * seen side by side and reported), and each instance's data CFs follow with forward-only cursors.
 */
import { CorruptionError, type Where } from '../../core/errors.js';
import type { SnapshotRecord, StreamEntry, StreamState } from '../../core/record.js';
import type { RocksDb } from '../rocks/db.js';
import type { ScanContext } from './context.js';
import { BatchCursor } from './cursor.js';
import {
  DATA4_VALUE_SUFFIX,
  decodeMeta4,
  decodeUserKey4,
  isHll4,
  KEY4_PREFIX,
  LIST4_LEFT,
  LIST4_RIGHT,
  metaKey4Shape,
  STRING4_MIN,
  STRING4_SUFFIX,
  time4ToMs,
  Type4,
  wellFormedMetaKey4End,
} from './format4.js';
import { bytewiseRange, bytewiseSpans } from '../rocks/internal-key.js';
import { largeKeyValue, largeRawEntry, rawEntry, type RawEntry } from '../rocks/merge.js';
import { readLargeValue, type LargeValue } from '../rocks/large-value.js';
import { isPikaInternalKey, SKIP_BAD_NAME_4, SKIP_HLL, SKIP_INTERNAL } from './special-keys.js';
import { decodeStreamMessage, STREAM_ID_BYTES, streamIdOf } from './stream-format.js';
import type { Element } from './chunker.js';
import { compareU64, equalU64 } from './u64.js';

type Container = 'hash' | 'set' | 'list' | 'zset' | 'stream';
const DATA_CF: Record<Container, string> = { hash: 'hash_data_cf', set: 'set_data_cf', list: 'list_data_cf', zset: 'zset_data_cf', stream: 'stream_data_cf' };
const KEY_SUFFIX = 16;
/**
 * Meta records per scan batch of each instance. The merge holds one batch per instance while it
 * takes their records in turn, so batches of 1024 lived through young-generation GCs and were
 * promoted: with 128, the 1M-string load of a 3-instance 4.0.1 dump took 10 % less CPU and ran
 * 16 % faster (median of 8 interleaved runs each). A 3.x scan, read straight through, gains
 * nothing from it and keeps 1024.
 */
const META_BATCH = 128;

class Instance {
  meta: BatchCursor<RawEntry> | null = null;
  /** Data cursors open on first use: a dump without lists never touches `list_data_cf`. */
  readonly cursors = new Map<Container, BatchCursor>();

  constructor(readonly db: RocksDb) {}

  /** Raw entries: a string's record takes its one view of the value itself (classifyString). */
  async openMeta(from?: Buffer): Promise<BatchCursor<RawEntry>> {
    const opts = { batchSize: META_BATCH, make: rawEntry, makeLarge: largeRawEntry };
    this.meta = await BatchCursor.open(this.db, 'default', from === undefined ? opts : { ...opts, from });
    return this.meta;
  }

  async openCursor(type: Container): Promise<BatchCursor> {
    // A hash field's value or a list element of several MiB stays in its file (largeElement).
    const c = await BatchCursor.open(this.db, DATA_CF[type], type === 'hash' || type === 'list' ? { makeLarge: largeKeyValue } : {});
    this.cursors.set(type, c);
    return c;
  }

  async close(): Promise<void> {
    await this.meta?.close();
    for (const c of this.cursors.values()) await c.close();
  }
}

const where = (db: RocksDb, cf: string, key: Buffer): Where => () => `${db.dir} [${cf}] key ${key.toString('hex')}`;

/** The user key of a meta key for reports; for a mangled name (W1), its decodable part. */
function nameForReport(mk: Buffer, encEnd: number): Buffer {
  const end = encEnd > 0 ? encEnd : mk.length;
  return decodeUserKey4(mk, KEY4_PREFIX, end) ?? Buffer.from(mk.subarray(KEY4_PREFIX, Math.max(KEY4_PREFIX, end - 2)));
}

/** `from`: the meta key prefix to start at (a resumed read); the data cursors step over what lies before. */
export async function* scanInstances4(dbs: readonly RocksDb[], ctx: ScanContext, from?: Buffer): AsyncGenerator<SnapshotRecord[]> {
  const inst = dbs.map((db) => new Instance(db));
  try {
    const metas: Array<BatchCursor<RawEntry>> = [];
    for (const x of inst) metas.push(await x.openMeta(from));
    // Instances holding the same key as the lowest, after it: duplicates, dups[0, ndups). Reused,
    // and not cut by `length`, which is a runtime call.
    const dups: number[] = [];
    let ndups = 0;
    while (true) {
      // Lowest meta key across instances, the first instance's on a tie. One JS compare per
      // other instance: Buffer#compare and #equals are native calls, the merge's largest cost.
      let min = -1;
      let mk: Buffer | undefined;
      ndups = 0;
      for (let i = 0; i < metas.length; i++) {
        const c = metas[i];
        if (c.done) continue;
        const k = c.current!.key;
        if (mk === undefined) {
          min = i;
          mk = k;
          continue;
        }
        const d = bytewiseRange(k, k.length, mk, mk.length);
        if (d < 0) {
          min = i;
          mk = k;
          ndups = 0;
        } else if (d === 0) dups[ndups++] = i;
      }
      if (mk === undefined) break;
      const { block, start, end, large } = metas[min].current!;
      for (let x = 0; x < ndups; x++) {
        const j = dups[x];
        ctx.skipped(nameForReport(mk, metaKey4Shape(mk).encEnd), `duplicate: also in instance ${min}, which is used; copy in instance ${j} ignored`);
        await metas[j].advance();
      }
      if (large !== undefined) {
        yield* largeMeta(inst[min], mk, large, ctx);
        const p = metas[min].advance();
        if (p !== undefined) await p;
        continue;
      }
      const what = classify(inst[min].db, mk, block, start, end, ctx);
      if (what !== null) {
        if ('pos' in what) {
          if (ctx.batch.push(what, what.key.length + (what.type === 'string' ? what.value.length : 0))) yield ctx.batch.take();
        } else {
          yield* joinContainer(inst[min], what, mk, block.subarray(start, end), ctx);
        }
      }
      const p = metas[min].advance();
      if (p !== undefined) await p;
    }
    if (ctx.batch.size > 0) yield ctx.batch.take();
  } finally {
    for (const x of inst) await x.close();
  }
}

type Plan = {
  readonly type: Container;
  readonly name: Buffer;
  readonly count: number;
  readonly versionOff: number;
  readonly expireAtMs: number | null;
  readonly state: StreamState | null;
  readonly encEnd: number;
};

/**
 * Decides what one meta record becomes: a string record, a container join to run, or nothing
 * (dead or skipped). Synchronous, so the common string case costs no generator or promise.
 */
function classify(db: RocksDb, mk: Buffer, block: Buffer, start: number, end: number, ctx: ScanContext): SnapshotRecord | Plan | null {
  const encEnd = wellFormedMetaKey4End(mk);
  const name = encEnd >= 0 ? decodeUserKey4(mk, KEY4_PREFIX, encEnd) : null;
  if (name === null) {
    ctx.skipped(nameForReport(mk, metaKey4Shape(mk).encEnd), SKIP_BAD_NAME_4);
    return null;
  }
  if (end - start >= STRING4_MIN && block[start] === Type4.String) return classifyString(block, start, end, name, ctx);
  const mv = block.subarray(start, end);
  const m = decodeMeta4(mv, where(db, 'default', mk));
  if (m.type === Type4.Stream) {
    // No expiry; length 0 is no stream to Pika (DELeted, or emptied by XDEL: W2), as in 3.x.
    if (m.length === 0) return null;
    if (isPikaInternalKey(name)) return skip(ctx, name, SKIP_INTERNAL);
    return { type: 'stream', name, count: m.length, versionOff: m.versionOff, expireAtMs: null, state: m.state, encEnd };
  }
  // decodeMeta4 refuses a string too short for its suffix; any other went the fast way above.
  if (m.type === Type4.String) return classifyString(block, start, end, name, ctx);
  if (ctx.expired(m.expireAtMs)) return null;
  if (m.count === 0) return null;
  if (isPikaInternalKey(name)) return skip(ctx, name, SKIP_INTERNAL);
  const type: Container = m.type === Type4.Hash ? 'hash' : m.type === Type4.Set ? 'set' : m.type === Type4.List ? 'list' : 'zset';
  return { type, name, count: m.count, versionOff: m.versionOff, expireAtMs: m.expireAtMs, state: null, encEnd };
}

/**
 * A string's meta value, bytes [start, end) of `block` (at least STRING4_MIN), as its record, read
 * in place: most keys of a dump are strings, and decodeMeta4's object and report closure per key
 * were a fifth of their cost; the value's one view is the record's.
 */
function classifyString(block: Buffer, start: number, end: number, name: Buffer, ctx: ScanContext): SnapshotRecord | null {
  const valueEnd = end - STRING4_SUFFIX;
  const expireAtMs = time4ToMs(block, end - 8);
  if (ctx.expired(expireAtMs)) return null;
  if (isPikaInternalKey(name)) return skip(ctx, name, SKIP_INTERNAL);
  if (isHll4(block, valueEnd)) return skip(ctx, name, SKIP_HLL);
  return {
    type: 'string',
    db: ctx.db,
    key: name,
    expireAtMs,
    first: true,
    last: true,
    pos: { kind: 'snapshot', db: ctx.db, seq: ctx.seqs.next++ },
    value: block.subarray(start + 1, valueEnd),
  };
}

/**
 * A meta value the scan left in its file (4 MiB or more): a big string's, handed on in pieces
 * (ScanContext.stringPieces) once its type byte and its suffix (reserve, ctime, etime) are read;
 * any other type's meta is small, and is read whole and taken the usual way.
 */
async function* largeMeta(inst: Instance, mk: Buffer, large: LargeValue, ctx: ScanContext): AsyncGenerator<SnapshotRecord[]> {
  if ((await readLargeValue(large, 0, 1))[0] !== Type4.String) {
    const mv = await readLargeValue(large, 0, large.length);
    const what = classify(inst.db, mk, mv, 0, mv.length, ctx);
    if (what === null) return;
    if ('pos' in what) {
      if (ctx.batch.push(what, what.key.length)) yield ctx.batch.take();
    } else {
      yield* joinContainer(inst, what, mk, mv, ctx);
    }
    return;
  }
  const encEnd = wellFormedMetaKey4End(mk);
  const name = encEnd >= 0 ? decodeUserKey4(mk, KEY4_PREFIX, encEnd) : null;
  if (name === null) return void ctx.skipped(nameForReport(mk, metaKey4Shape(mk).encEnd), SKIP_BAD_NAME_4);
  const suffix = await readLargeValue(large, large.length - STRING4_SUFFIX, STRING4_SUFFIX);
  const expireAtMs = time4ToMs(suffix, STRING4_SUFFIX - 8);
  if (ctx.expired(expireAtMs)) return;
  if (isPikaInternalKey(name)) return void skip(ctx, name, SKIP_INTERNAL);
  if (isHll4(suffix, 0)) return void skip(ctx, name, SKIP_HLL);
  yield* ctx.stringPieces(name, expireAtMs, large, 1, large.length - STRING4_SUFFIX, false);
}

function skip(ctx: ScanContext, name: Buffer, reason: string): null {
  ctx.skipped(name, reason);
  return null;
}

/** Streams one container key: its data CF run, current version only, cut into chunks. */
async function* joinContainer(inst: Instance, plan: Plan, mk: Buffer, mv: Buffer, ctx: ScanContext): AsyncGenerator<SnapshotRecord[]> {
  const { type, name, encEnd } = plan;
  const db = inst.db;
  const cf = DATA_CF[type];
  const cur = inst.cursors.get(type) ?? (await inst.openCursor(type));
  const ch = ctx.chunker;
  ch.start(type, name, plan.expireAtMs, plan.state);
  const encLen = encEnd - KEY4_PREFIX;
  const verAt = encEnd; // in data keys, the version follows `E(key)` at the same offset
  // Names the data key being read in an error: one closure per key, not one per element.
  let dk = mk;
  const at: Where = () => where(db, cf, dk)();
  while (!cur.done) {
    const { value, large } = cur.current!;
    dk = cur.current!.key;
    // Compare the data key's first `encLen` bytes after the prefix with `E(key)`; E is prefix-free.
    const c = bytewiseSpans(dk, KEY4_PREFIX, Math.min(dk.length, KEY4_PREFIX + encLen), mk, KEY4_PREFIX, encEnd);
    if (c > 0) break;
    if (c === 0 && dk.length < verAt + 8 + KEY_SUFFIX) throw new CorruptionError('data key too short for version and reserve', at());
    if (c === 0 && large !== undefined && equalU64(dk, verAt, mv, plan.versionOff)) {
      yield* largeElement(type, dk, large, verAt + 8, mv, at, ctx);
    } else if (c === 0 && equalU64(dk, verAt, mv, plan.versionOff)) {
      const out = element(type, dk, value, verAt + 8, mv, at);
      if (out !== null && plan.state !== null) ctx.checkStreamId(name, (out.item as StreamEntry).id, plan.state.lastId);
      if (out !== null) {
        if (type === 'zset') {
          const [member, score] = out.item as readonly [Buffer, number];
          ctx.checkScore(name, member, score);
        }
        const rec = ch.add(out.item, out.bytes);
        if (rec !== null && ctx.batch.push(rec, ch.lastBytes)) yield ctx.batch.take();
      }
    }
    const p = cur.advance();
    if (p !== undefined) await p;
  }
  const last = ch.finish();
  if (last !== null && ctx.batch.push(last, ch.lastBytes)) yield ctx.batch.take();
  ctx.checkCount(name, type, plan.count, ch.count);
}

/** One data record's element (null: a list index outside the meta's bounds, i.e. stale). */
function element(
  type: Container,
  dk: Buffer,
  value: Buffer,
  dataAt: number,
  mv: Buffer,
  at: Where,
): { item: Element; bytes: number } | null {
  const dataEnd = dk.length - KEY_SUFFIX;
  if (dataEnd < dataAt) throw new CorruptionError(`data key too short for its fields`, at());
  if (type === 'stream') {
    // Stream values carry no suffix: the value is the message.
    if (dataEnd - dataAt !== STREAM_ID_BYTES) throw new CorruptionError(`stream data key ID of ${dataEnd - dataAt} bytes, expected ${STREAM_ID_BYTES}`, at());
    return { item: { id: streamIdOf(dk, dataAt), fields: decodeStreamMessage(value, at) }, bytes: value.length };
  }
  if (value.length < DATA4_VALUE_SUFFIX && type !== 'zset') throw new CorruptionError(`data value of ${value.length} bytes, need ≥ 24`, at());
  switch (type) {
    case 'hash': {
      const f = dk.subarray(dataAt, dataEnd);
      const v = value.subarray(0, value.length - DATA4_VALUE_SUFFIX);
      return { item: [f, v], bytes: f.length + v.length };
    }
    case 'set': {
      const mbr = dk.subarray(dataAt, dataEnd);
      return { item: mbr, bytes: mbr.length };
    }
    case 'zset': {
      if (value.length !== 8 + DATA4_VALUE_SUFFIX) throw new CorruptionError(`zset data value of ${value.length} bytes, expected 32`, at());
      const mbr = dk.subarray(dataAt, dataEnd);
      return { item: [mbr, value.readDoubleLE(0)], bytes: mbr.length + 8 };
    }
    case 'list': {
      if (!listIndexLive(dk, dataAt, dataEnd, mv, at)) return null;
      const v = value.subarray(0, value.length - DATA4_VALUE_SUFFIX);
      return { item: v, bytes: v.length };
    }
  }
}

/** Whether a list data key's index lies within the meta's bounds (else the element is stale). */
function listIndexLive(dk: Buffer, dataAt: number, dataEnd: number, mv: Buffer, at: Where): boolean {
  if (dataEnd !== dataAt + 8) throw new CorruptionError(`list data key index field of ${dataEnd - dataAt} bytes, expected 8`, at());
  return compareU64(dk, dataAt, mv, LIST4_LEFT) > 0 && compareU64(dk, dataAt, mv, LIST4_RIGHT) < 0;
}

/**
 * A hash field's value or a list element of several MiB, which the scan left in its file: its
 * records, one piece each (ScanContext.elementPieces), without the value's suffix.
 */
async function* largeElement(type: Container, dk: Buffer, large: LargeValue, dataAt: number, mv: Buffer, at: Where, ctx: ScanContext): AsyncGenerator<SnapshotRecord[]> {
  const dataEnd = dk.length - KEY_SUFFIX;
  if (dataEnd < dataAt) throw new CorruptionError(`data key too short for its fields`, at());
  const to = large.length - DATA4_VALUE_SUFFIX;
  if (type === 'hash') {
    const field = dk.subarray(dataAt, dataEnd);
    yield* ctx.elementPieces(large, 0, to, (piece) => [field, piece], field.length);
  } else if (listIndexLive(dk, dataAt, dataEnd, mv, at)) {
    yield* ctx.elementPieces(large, 0, to, (piece) => piece, 0);
  }
}
