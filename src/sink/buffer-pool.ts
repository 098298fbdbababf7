/**
 * Buffers a sender lays its batches out in, taken back once Redis has replied to the batch (a
 * reply means every byte of it was written and read). Without it every batch script call made a
 * fresh buffer: loading a hash of 300-byte fields turned ~300 MB over in 60 KB buffers, which
 * glibc's heap kept long after V8 let go of them. Buffers longer than `keepBytes` (a batch of
 * one big value) are not kept.
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];

  constructor(
    private readonly maxFree: number,
    private readonly keepBytes = 256 << 10,
    private readonly minBytes = 16 << 10,
  ) {}

  /** A buffer of exactly `size` bytes, uninitialised. */
  take(size: number): Buffer {
    const free = this.free;
    for (let i = free.length - 1; i >= 0; i--) {
      const ab = free[i];
      if (ab.byteLength >= size) {
        free[i] = free[free.length - 1];
        free.pop();
        return Buffer.from(ab, 0, size);
      }
    }
    const capacity = size > this.keepBytes ? size : Math.max(size, this.minBytes);
    return Buffer.from(Buffer.allocUnsafeSlow(capacity).buffer, 0, size);
  }

  /** Gives back a buffer `take` returned, once nothing will read it again. */
  give(buf: Buffer): void {
    const ab = buf.buffer as ArrayBuffer;
    if (ab.byteLength > this.keepBytes) return;
    if (this.free.length < this.maxFree) this.free.push(ab);
    else {
      // Keep the larger ones: the next batch is more likely to fit.
      let min = 0;
      for (let i = 1; i < this.free.length; i++) if (this.free[i].byteLength < this.free[min].byteLength) min = i;
      if (this.free[min].byteLength < ab.byteLength) this.free[min] = ab;
    }
  }
}
