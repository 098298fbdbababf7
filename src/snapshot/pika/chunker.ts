/**
 * Cuts one key's elements into SnapshotRecords of at most `chunkSize` elements and about
 * `chunkBytes` bytes. A full chunk is handed out only when the next element arrives, so the
 * final chunk always carries `last: true` without looking ahead in the data.
 */
import type { DataType, SnapshotRecord, StreamEntry, StreamState, ValuePiece } from '../../core/record.js';

/**
 * What one element costs on the heap besides its payload: a Buffer view (~80 B) per field, value
 * or member and the tuple holding a pair. Counted in the weight a record is batched with
 * (`lastBytes`), so that the consumer's batches (RecordBatcher) bound memory rather than payload:
 * a hash of 16-byte fields is ~90 % overhead, and a batch of 1 MiB of its payload held ~7 MB.
 * Chunks themselves still close on payload (`chunkBytes`), which fixes the records' positions.
 */
export const ELEMENT_OVERHEAD = 160;

export type Element =
  | readonly [Buffer, Buffer] // hash field, value
  | readonly [Buffer, number] // zset member, score
  | Buffer // list element, set member
  | StreamEntry;

/** Numbers records within one DB's snapshot (pos.seq = 0, 1, 2, …). */
export class RecordSequence {
  next = 0;
  constructor(readonly db: number) {}
}

export function makeRecord(
  seqs: RecordSequence,
  type: DataType,
  key: Buffer,
  expireAtMs: number | null,
  first: boolean,
  last: boolean,
  items: Element[] | Buffer,
  state: StreamState | null = null,
): SnapshotRecord {
  const db = seqs.db;
  const pos = { kind: 'snapshot' as const, db, seq: seqs.next++ };
  switch (type) {
    case 'string':
      return { type, db, key, expireAtMs, first, last, pos, value: items as Buffer };
    case 'hash':
      return { type, db, key, expireAtMs, first, last, pos, fields: items as Array<readonly [Buffer, Buffer]> };
    case 'list':
      return { type, db, key, expireAtMs, first, last, pos, elements: items as Buffer[] };
    case 'set':
      return { type, db, key, expireAtMs, first, last, pos, members: items as Buffer[] };
    case 'zset':
      return { type, db, key, expireAtMs, first, last, pos, members: items as Array<readonly [Buffer, number]> };
    case 'stream':
      return { type, db, key, expireAtMs, first, last, pos, entries: items as StreamEntry[], state: state! };
  }
}

export class KeyChunker {
  private items: Element[] = [];
  private bytes = 0;
  private emitted = 0;
  private type: DataType = 'hash';
  private key: Buffer = Buffer.alloc(0);
  private expireAtMs: number | null = null;
  private state: StreamState | null = null;
  private shadowed = false;
  /** Set while the chunk being gathered is one piece of a big element (addPiece): it holds nothing else. */
  private piece: ValuePiece | null = null;
  /** Elements added for the current key (for the count check against the meta). */
  count = 0;
  /** Weight of the record `add` or `finish` returned last: payload plus ELEMENT_OVERHEAD per element. */
  lastBytes = 0;

  constructor(
    private readonly seqs: RecordSequence,
    private readonly chunkSize: number,
    private readonly chunkBytes: number,
  ) {
    if (!(chunkSize >= 1)) throw new RangeError(`chunkSize must be ≥ 1, got ${chunkSize}`);
    if (!(chunkBytes >= 1)) throw new RangeError(`chunkBytes must be ≥ 1, got ${chunkBytes}`);
  }

  /** `state`: a stream's, carried by each of its records; `shadowed`: a type the multi-type rule puts under a side name. */
  start(type: DataType, key: Buffer, expireAtMs: number | null, state: StreamState | null = null, shadowed = false): void {
    this.shadowed = shadowed;
    this.type = type;
    this.state = state;
    this.key = key;
    this.expireAtMs = expireAtMs;
    this.items = [];
    this.bytes = 0;
    this.emitted = 0;
    this.count = 0;
    this.piece = null;
  }

  /** Adds one element of `bytes` payload bytes; returns the previous chunk if it was full. */
  add(item: Element, bytes: number): SnapshotRecord | null {
    let out: SnapshotRecord | null = null;
    if (this.piece !== null || this.items.length >= this.chunkSize || this.bytes >= this.chunkBytes) out = this.flush(false);
    this.items.push(item);
    this.bytes += bytes;
    this.count++;
    return out;
  }

  /**
   * Adds one piece of an element too big to hold whole (a hash field's value, a list element of
   * several MiB): a chunk of its own, `piece` saying where it lies in the element. Returns the
   * previous chunk; the piece waits, as any chunk, until what follows tells whether it is the key's
   * last. The element counts once, at its first piece.
   */
  addPiece(item: Element, bytes: number, piece: ValuePiece): SnapshotRecord | null {
    const out = this.items.length > 0 ? this.flush(false) : null;
    this.items.push(item);
    this.bytes += bytes;
    if (piece.offset === 0) this.count++;
    this.piece = piece;
    return out;
  }

  /** The final chunk of the key, or null when the key got no element at all. */
  finish(): SnapshotRecord | null {
    return this.items.length === 0 ? null : this.flush(true);
  }

  private flush(last: boolean): SnapshotRecord {
    let rec = makeRecord(this.seqs, this.type, this.key, this.expireAtMs, this.emitted === 0, last, this.items, this.state);
    if (this.piece !== null) {
      rec = { ...rec, piece: this.piece } as SnapshotRecord;
      this.piece = null;
    }
    if (this.shadowed) rec = { ...rec, shadowed: true as const };
    this.lastBytes = this.bytes + ELEMENT_OVERHEAD * this.items.length;
    this.emitted++;
    this.items = [];
    this.bytes = 0;
    return rec;
  }
}

/**
 * Gathers records into arrays for the consumer, so a stream of small keys costs one await per
 * batch instead of one per record. Bounded by count and weight (payload and per-element heap), so
 * memory stays flat. 256 KiB rather than more: a batch's objects live until the consumer is done
 * with all of it, and with 1 MiB many outlived two young-generation GCs (8 MB semi-spaces), so V8
 * promoted ~120 MB of a 1M-field hash's garbage to the old generation (3.6 MB with 256 KiB).
 */
export class RecordBatcher {
  // Sized once and filled by index: pushing grew each batch by copies.
  private recs: SnapshotRecord[];
  private n = 0;
  private bytes = 0;

  constructor(
    private readonly maxRecords = 512,
    private readonly maxBytes = 256 << 10,
  ) {
    this.recs = new Array<SnapshotRecord>(maxRecords);
  }

  /** Adds a record of about `bytes` payload bytes; true when the batch is full and must be taken. */
  push(rec: SnapshotRecord, bytes: number): boolean {
    this.recs[this.n++] = rec;
    this.bytes += bytes;
    return this.n >= this.maxRecords || this.bytes >= this.maxBytes;
  }

  get size(): number {
    return this.n;
  }

  take(): SnapshotRecord[] {
    const r = this.recs;
    r.length = this.n;
    this.recs = new Array<SnapshotRecord>(this.maxRecords);
    this.n = 0;
    this.bytes = 0;
    return r;
  }
}
