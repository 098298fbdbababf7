/** A forward-only cursor with one record of look-ahead over an async iterable (merge joins). */
export class PeekCursor<T> {
  private readonly it: AsyncIterator<T>;
  /** The record under the cursor; undefined once exhausted (check `done`). */
  current: T | undefined = undefined;
  done = false;

  private constructor(src: AsyncIterable<T>) {
    this.it = src[Symbol.asyncIterator]();
  }

  static async open<T>(src: AsyncIterable<T>): Promise<PeekCursor<T>> {
    const c = new PeekCursor(src);
    await c.advance();
    return c;
  }

  async advance(): Promise<void> {
    if (this.done) return;
    const r = await this.it.next();
    if (r.done === true) {
      this.done = true;
      this.current = undefined;
    } else {
      this.current = r.value;
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
