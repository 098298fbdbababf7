/**
 * Forward-only access to a column family for merge joins, fed by the reader's batched scan so
 * that stepping within a batch costs no await.
 */
import type { RocksDb } from '../rocks/db.js';
import type { EntryMaker, KeyValue } from '../rocks/merge.js';

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

  static async open(db: RocksDb, cf: string, opts?: { from?: Buffer; batchSize?: number }): Promise<BatchCursor>;
  static async open<T extends { key: Buffer }>(db: RocksDb, cf: string, opts: { from?: Buffer; batchSize?: number; make: EntryMaker<T> }): Promise<BatchCursor<T>>;
  static async open<T extends { key: Buffer }>(db: RocksDb, cf: string, opts: { from?: Buffer; batchSize?: number; make?: EntryMaker<T> } = {}): Promise<BatchCursor<T>> {
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
    private readonly maxSteps = 256,
  ) {}

  /**
   * The value of `key`, or null when absent. Answers synchronously while the cursor only has to
   * step within its current batch (the common case); a promise when it must read or seek.
   */
  get(key: Buffer): Buffer | null | Promise<Buffer | null> {
    const c = this.cur;
    if (c === null || this.last === null || this.last.compare(key) > 0) return this.seekGet(key);
    let steps = 0;
    while (!c.done && c.current!.key.compare(key) < 0) {
      if (++steps > this.maxSteps) return this.seekGet(key);
      const p = c.advance();
      if (p !== undefined) return p.then(() => this.get(key));
    }
    this.last = key;
    return !c.done && c.current!.key.equals(key) ? c.current!.value : null;
  }

  private async seekGet(key: Buffer): Promise<Buffer | null> {
    await this.seek(key);
    const s = this.cur!;
    return !s.done && s.current!.key.equals(key) ? s.current!.value : null;
  }

  private async seek(key: Buffer): Promise<void> {
    await this.cur?.close();
    this.last = key;
    this.cur = await BatchCursor.open(this.db, this.cf, { from: key, batchSize: 128 });
  }

  async close(): Promise<void> {
    await this.cur?.close();
    this.cur = null;
  }
}
