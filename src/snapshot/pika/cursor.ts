/**
 * Forward-only access to a column family for merge joins, fed by the reader's batched scan so
 * that stepping within a batch costs no await.
 */
import type { RocksDb } from '../rocks/db.js';
import type { EntryMaker, KeyValue, LargeMaker } from '../rocks/merge.js';
import { bytewiseRange } from '../rocks/internal-key.js';

/**
 * A cursor with one record of look-ahead (`current`); `advance()` returns a promise only at batch
 * ends. Entries are KeyValue unless `make` says otherwise (rawEntry: the value's span, no view).
 */
export class BatchCursor<T extends { key: Buffer } = KeyValue> {
  private readonly it: AsyncIterator<T[]>;
  private batch: T[] = [];
  private i = 0;
  current: T | undefined = undefined;
  done = false;

  private constructor(src: AsyncIterable<T[]>) {
    this.it = src[Symbol.asyncIterator]();
  }

  static async open(db: RocksDb, cf: string, opts?: { from?: Buffer; batchSize?: number; makeLarge?: LargeMaker<KeyValue> }): Promise<BatchCursor>;
  static async open<T extends { key: Buffer }>(db: RocksDb, cf: string, opts: { from?: Buffer; batchSize?: number; make: EntryMaker<T>; makeLarge?: LargeMaker<T> }): Promise<BatchCursor<T>>;
  static async open<T extends { key: Buffer }>(db: RocksDb, cf: string, opts: { from?: Buffer; batchSize?: number; make?: EntryMaker<T>; makeLarge?: LargeMaker<T> } = {}): Promise<BatchCursor<T>> {
    const c = new BatchCursor<T>(db.scanBatches<T>(cf, opts));
    await c.refill();
    return c;
  }

  advance(): Promise<void> | undefined {
    if (this.done) return undefined;
    if (++this.i < this.batch.length) {
      this.current = this.batch[this.i];
      return undefined;
    }
    return this.refill();
  }

  private async refill(): Promise<void> {
    for (;;) {
      const r = await this.it.next();
      if (r.done === true) {
        this.done = true;
        this.current = undefined;
        this.batch = [];
        return;
      }
      if (r.value.length > 0) {
        this.batch = r.value;
        this.i = 0;
        this.current = r.value[0];
        return;
      }
    }
  }

  async close(): Promise<void> {
    if (!this.done) {
      this.done = true;
      this.current = undefined;
      await this.it.return?.();
    }
  }
}

/**
 * Point lookups in a bytewise-ordered CF that mostly come in ascending key order (A–C metas looked
 * up from data ordered by key length, then key; type probes): a cursor walks forward over keys it
 * has proven absent, and only a lookup behind it, or more than `maxSteps` ahead, costs a seek.
 */
export class ForwardLookup {
  private cur: BatchCursor | null = null;
  /**
   * The last key looked up; the cursor sits on the first key ≥ it. So for a later lookup ≥ it,
   * every key between it and the cursor is known absent.
   */
  private last: Buffer | null = null;

  constructor(
    private readonly db: RocksDb,
    private readonly cf: string,
    /** How an entry whose value was left in its file is made (KeyValue.large); default: read whole. */
    private readonly makeLarge?: LargeMaker<KeyValue>,
    private readonly maxSteps = 256,
  ) {}

  /**
   * The value of `key`, or null when absent. Answers synchronously while the cursor only has to
   * step within its current batch (the common case); a promise when it must read or seek.
   */
  get(key: Buffer): Buffer | null | Promise<Buffer | null> {
    const e = this.getEntry(key);
    return e instanceof Promise ? e.then((x) => x?.value ?? null) : (e?.value ?? null);
  }

  /** As `get`, the whole entry: `large` set when the value was left in its file (makeLarge). */
  getEntry(key: Buffer): KeyValue | null | Promise<KeyValue | null> {
    const c = this.cur;
    if (c === null || this.last === null || bytewiseRange(this.last, this.last.length, key, key.length) > 0) return this.seekGet(key);
    let steps = 0;
    while (!c.done && bytewiseRange(c.current!.key, c.current!.key.length, key, key.length) < 0) {
      if (++steps > this.maxSteps) return this.seekGet(key);
      const p = c.advance();
      if (p !== undefined) return p.then(() => this.getEntry(key));
    }
    this.last = key;
    return !c.done && bytewiseRange(c.current!.key, c.current!.key.length, key, key.length) === 0 ? c.current! : null;
  }

  private async seekGet(key: Buffer): Promise<KeyValue | null> {
    await this.seek(key);
    const s = this.cur!;
    return !s.done && s.current!.key.equals(key) ? s.current! : null;
  }

  private async seek(key: Buffer): Promise<void> {
    await this.cur?.close();
    this.last = key;
    this.cur = await BatchCursor.open(this.db, this.cf, this.makeLarge === undefined ? { from: key, batchSize: 128 } : { from: key, batchSize: 128, makeLarge: this.makeLarge });
  }

  async close(): Promise<void> {
    await this.cur?.close();
    this.cur = null;
  }
}
