/**
 * A stream whose decoding is left to a library that hands its output out in pieces (zlib, zstd):
 * each piece is copied out as it is read, then dropped. The decoder must hand out a bounded amount
 * at a time, whatever the input holds (a few bytes of input can stand for megabytes of output).
 */
import { BlockStream } from './base.js';

const EMPTY = new Uint8Array(0);

export abstract class ChunkedStream extends BlockStream {
  private chunk: Uint8Array = EMPTY;
  private chunkPos = 0;

  /** The decoder's next piece of output (it may be empty); null once it has ended. */
  protected abstract nextChunk(): Promise<Uint8Array | null>;
  /** Checks, once the decoder has ended, that it took the whole input. */
  protected abstract ended(): Promise<void>;

  protected async produce(out: Buffer | null, at: number, n: number): Promise<void> {
    while (n > 0) {
      if (!(await this.ready())) this.fail(`stream ends after ${this.produced} of ${this.length} bytes`);
      const k = Math.min(n, this.chunk.length - this.chunkPos);
      if (out !== null) out.set(this.chunk.subarray(this.chunkPos, this.chunkPos + k), at);
      this.keep(this.chunk, this.chunkPos, k);
      this.chunkPos += k;
      at += k;
      n -= k;
    }
  }

  async finish(): Promise<void> {
    if (this.produced !== this.length) this.fail(`stream ends after ${this.produced} of ${this.length} bytes`);
    if (await this.ready()) this.fail(`more than the ${this.length} bytes of the header`);
    await this.ended();
  }

  /** Whether output is at hand, asking the decoder for more when the last piece is used up. */
  private async ready(): Promise<boolean> {
    while (this.chunkPos === this.chunk.length) {
      const c = await this.nextChunk();
      if (c === null) return false;
      this.chunk = c;
      this.chunkPos = 0;
    }
    return true;
  }
}
