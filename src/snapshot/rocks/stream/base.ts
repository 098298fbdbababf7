/**
 * What every streamed block decoder shares (block-stream.ts lists them): the compressed input,
 * read in pieces through a CompressedReader and told once to a checksum, and the last 64 KiB of
 * output, kept for lastBytes (a big block's restart array and footer are its last bytes).
 */
import { CorruptionError } from '../../../core/errors.js';

/** How much output is kept: LZ77's window too (stream/lz77.ts). */
export const WINDOW = 1 << 16;
export const MASK = WINDOW - 1;
/** The input buffer after the header's read: a zstd block and its header fit in it. */
export const INPUT_BYTES = 256 * 1024;
/** The first read: a varint32 and a zstd frame header (≤ 18 bytes), or legacy LZ4's 8 bytes, and a first element. */
const HEADER_BYTES = 32;

/** Reads compressed bytes [at, at+len) of the stream into `buf[0, len)`. */
export type CompressedReader = (buf: Buffer, at: number, len: number) => Promise<void>;

export abstract class BlockStream {
  /** Uncompressed bytes produced (read or skipped) so far. */
  produced = 0;
  /** Uncompressed length, from the block's header. */
  length = 0;
  /** The kept output, made at the first byte produced: most blocks opened are found small at their header. */
  private ring: Buffer | null = null;
  /** The header's few bytes first, then INPUT_BYTES. */
  protected input = Buffer.allocUnsafe(HEADER_BYTES);
  /** Compressed offset of input[0]; input[pos, end) is not consumed yet. */
  private inputAt = 0;
  protected pos = 0;
  private end = 0;
  private started = false;
  protected abstract readonly codec: string;

  protected constructor(
    private readonly source: CompressedReader,
    /** Compressed size of the stream. */
    readonly size: number,
    /** Told of every compressed byte read, in order, once (a checksum). */
    private readonly onInput: ((chunk: Buffer) => void) | null,
    protected readonly where: string,
  ) {}

  /**
   * Reads the block's header (openBlockStream does, first): its uncompressed length. False when
   * this decoder does not follow such a block, which is then read whole.
   */
  abstract header(): Promise<boolean>;
  /** Checks that the stream ended where its header and size say (after everything was produced). */
  abstract finish(): Promise<void>;
  /** The next `n` bytes into `out[at, at+n)` (dropped when out is null), each passed to keep(). */
  protected abstract produce(out: Buffer | null, at: number, n: number): Promise<void>;

  /** The next `n` uncompressed bytes into `out[at, at+n)`. */
  async read(out: Buffer, at: number, n: number): Promise<void> {
    this.within(n);
    await this.produce(out, at, n);
  }

  async skip(n: number): Promise<void> {
    this.within(n);
    await this.produce(null, 0, n);
  }

  /** The last min(produced, 64 KiB) bytes produced, oldest first. */
  lastBytes(): Buffer {
    const n = Math.min(this.produced, WINDOW);
    const out = Buffer.allocUnsafe(n);
    if (this.ring === null) return out;
    const start = (this.produced - n) & MASK;
    const first = Math.min(n, WINDOW - start);
    this.ring.copy(out, 0, start, start + first);
    this.ring.copy(out, first, 0, n - first);
    return out;
  }

  private within(n: number): void {
    if (this.produced + n > this.length) this.fail(`read past the ${this.length}-byte end`);
  }

  /** The ring of kept output, indexed by `produced & MASK`. */
  protected window(): Buffer {
    return (this.ring ??= Buffer.allocUnsafe(WINDOW));
  }

  /** Counts `k` bytes of output, `src[from, from+k)`, as produced; their last WINDOW bytes are kept. */
  protected keep(src: Uint8Array, from: number, k: number): void {
    const ring = this.window();
    const skip = Math.max(0, k - WINDOW);
    this.produced += skip;
    from += skip;
    k -= skip;
    while (k > 0) {
      const dst = this.produced & MASK;
      const s = Math.min(k, WINDOW - dst);
      // Most LZ77 literals are a few bytes: a loop beats a native call.
      if (s < 16) for (let i = 0; i < s; i++) ring[dst + i] = src[from + i];
      else ring.set(src.subarray(from, from + s), dst);
      this.produced += s;
      from += s;
      k -= s;
    }
  }

  /** A varint32 at the input's start: snappy's preamble, RocksDB's size prefix of LZ4, zlib and zstd blocks. */
  protected async varint32(): Promise<number> {
    let length = 0;
    for (let shift = 0; ; shift += 7) {
      if (shift > 28) this.fail('bad uncompressed length');
      await this.need(1);
      const b = this.input[this.pos++];
      length += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    if (length > 0xffffffff) this.fail('bad uncompressed length');
    return length;
  }

  /** Unconsumed input bytes (parsers read `input[pos, pos+avail)`). */
  protected get avail(): number {
    return this.end - this.pos;
  }

  /** Whether every compressed byte has been read. */
  protected get inputDone(): boolean {
    return this.inputAt + this.end === this.size;
  }

  /** Compressed bytes consumed so far. */
  protected get consumed(): number {
    return this.inputAt + this.pos;
  }

  /** At least `k` unconsumed input bytes (k ≤ INPUT_BYTES), or as many as are left, reading on; none left fails. */
  protected async need(k: number): Promise<void> {
    if (k > INPUT_BYTES) throw new RangeError(`${k} bytes of input at once`);
    while (this.end - this.pos < k && !this.inputDone) await this.refill();
    if (this.end === this.pos && k > 0) this.fail('stream truncated');
  }

  /**
   * The unconsumed input, else the next piece read (up to INPUT_BYTES), all taken; null once the
   * input is all taken. Valid until the next read of input.
   */
  protected async takeInput(): Promise<Buffer | null> {
    if (this.pos === this.end) {
      if (this.inputDone) return null;
      await this.refill();
    }
    const piece = this.input.subarray(this.pos, this.end);
    this.pos = this.end;
    return piece;
  }

  /** Moves the unconsumed input to the buffer's start and reads on after it. */
  private async refill(): Promise<void> {
    const left = this.end - this.pos;
    if (this.started && this.input.length < INPUT_BYTES) {
      const input = Buffer.allocUnsafe(INPUT_BYTES);
      this.input.copy(input, 0, this.pos, this.end);
      this.input = input;
    } else {
      this.input.copy(this.input, 0, this.pos, this.end);
    }
    this.inputAt += this.pos;
    this.pos = 0;
    this.end = left;
    // The first read takes the header alone: a block found small is left to the whole-block read.
    const n = Math.min((this.started ? INPUT_BYTES : HEADER_BYTES) - left, this.size - this.inputAt - left);
    this.started = true;
    const chunk = this.input.subarray(left, left + n);
    await this.source(chunk, this.inputAt + left, n);
    this.onInput?.(chunk);
    this.end = left + n;
  }

  protected fail(message: string): never {
    throw new CorruptionError(`${this.codec}: ${message}`, this.where);
  }
}
