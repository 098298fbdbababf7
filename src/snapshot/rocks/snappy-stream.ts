/**
 * Raw snappy decoded as a stream, for a data block too big to decompress whole (a 64 MiB string in
 * a block of Pika's default `compression : snappy`). snappyjs, like every snappy package on npm,
 * decodes a whole buffer or the framing format, never one raw stream in pieces, hence this.
 *
 * It keeps only the last 64 KiB of output: the C++ snappy that RocksDB links compresses in 64 KiB
 * fragments whose copies stay inside their fragment. A copy reaching further back is valid snappy
 * from another encoder; it ends the stream with FarCopyError and the caller decompresses whole.
 */
import { CorruptionError } from '../../core/errors.js';

const WINDOW = 1 << 16;
const MASK = WINDOW - 1;
const INPUT_BYTES = 256 * 1024;

/** Reads compressed bytes [at, at+len) of the stream into `buf[0, len)`. */
export type CompressedReader = (buf: Buffer, at: number, len: number) => Promise<void>;

/** A copy that reaches past the 64 KiB window (see above). */
export class FarCopyError extends Error {
  override name = 'FarCopyError';
}

export class SnappyStream {
  /** Uncompressed bytes produced (read or skipped) so far. */
  produced = 0;
  private readonly ring = Buffer.allocUnsafe(WINDOW);
  private readonly input = Buffer.allocUnsafe(INPUT_BYTES);
  /** Compressed offset of input[0]; input[pos, end) is not consumed yet. */
  private inputAt = 0;
  private pos = 0;
  private end = 0;
  /** Literal bytes of the current element still to take from the input. */
  private literal = 0;
  private copyLeft = 0;
  private copyOffset = 0;

  private constructor(
    private readonly source: CompressedReader,
    /** Compressed size of the stream. */
    readonly size: number,
    /** Told of every compressed byte read, in order, once (a checksum). */
    private readonly onInput: ((chunk: Buffer) => void) | null,
    private readonly where: string,
  ) {}

  /** Uncompressed length, from the stream's preamble. */
  length = 0;

  static async open(source: CompressedReader, size: number, where: string, onInput: ((chunk: Buffer) => void) | null = null): Promise<SnappyStream> {
    const s = new SnappyStream(source, size, onInput, where);
    let length = 0;
    for (let shift = 0; ; shift += 7) {
      if (shift > 28) s.fail('bad uncompressed length');
      await s.need(1);
      const b = s.input[s.pos++];
      length += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    if (length > 0xffffffff) s.fail('bad uncompressed length');
    s.length = length;
    return s;
  }

  /** The next `n` uncompressed bytes into `out[at, at+n)`. */
  read(out: Buffer, at: number, n: number): Promise<void> {
    return this.produce(out, at, n);
  }

  skip(n: number): Promise<void> {
    return this.produce(null, 0, n);
  }

  /** The window: the last min(produced, 64 KiB) bytes produced, oldest first. */
  lastBytes(): Buffer {
    const n = Math.min(this.produced, WINDOW);
    const out = Buffer.allocUnsafe(n);
    const start = (this.produced - n) & MASK;
    const first = Math.min(n, WINDOW - start);
    this.ring.copy(out, 0, start, start + first);
    this.ring.copy(out, first, 0, n - first);
    return out;
  }

  /** Checks that the stream ended where its preamble and size say (after everything was produced). */
  async finish(): Promise<void> {
    if (this.produced !== this.length || this.literal > 0 || this.copyLeft > 0) this.fail(`stream ends after ${this.produced} of ${this.length} bytes`);
    if (this.inputAt + this.pos !== this.size) this.fail(`${this.size - this.inputAt - this.pos} compressed bytes after the last element`);
  }

  private async produce(out: Buffer | null, at: number, n: number): Promise<void> {
    if (this.produced + n > this.length) this.fail(`read past the ${this.length}-byte end`);
    const ring = this.ring;
    while (n > 0) {
      if (this.literal > 0) {
        if (this.pos === this.end) await this.need(1);
        const k = Math.min(this.literal, this.end - this.pos, n);
        if (out !== null) this.input.copy(out, at, this.pos, this.pos + k);
        this.toRing(this.input, this.pos, k);
        this.pos += k;
        this.literal -= k;
        at += k;
        n -= k;
      } else if (this.copyLeft > 0) {
        // In segments no longer than the offset, and within the ring on both sides.
        const src = (this.produced - this.copyOffset) & MASK;
        const dst = this.produced & MASK;
        const k = Math.min(this.copyLeft, n, this.copyOffset, WINDOW - src, WINDOW - dst);
        if (k < 16) {
          // Most copies are a few bytes: a loop beats two native calls.
          if (out !== null) for (let i = 0; i < k; i++) out[at + i] = ring[dst + i] = ring[src + i];
          else for (let i = 0; i < k; i++) ring[dst + i] = ring[src + i];
        } else {
          ring.copyWithin(dst, src, src + k);
          if (out !== null) ring.copy(out, at, dst, dst + k);
        }
        this.produced += k;
        this.copyLeft -= k;
        at += k;
        n -= k;
      } else {
        // An element's tag and its extra bytes are at most 5 bytes: parsed without waiting.
        if (this.end - this.pos < 5 && this.inputAt + this.end < this.size) await this.need(5);
        this.element();
      }
    }
  }

  private toRing(src: Buffer, from: number, k: number): void {
    // Only the last WINDOW bytes of a long literal stay.
    const skip = Math.max(0, k - WINDOW);
    this.produced += skip;
    from += skip;
    k -= skip;
    while (k > 0) {
      const dst = this.produced & MASK;
      const s = Math.min(k, WINDOW - dst);
      if (s < 16) for (let i = 0; i < s; i++) this.ring[dst + i] = src[from + i];
      else src.copy(this.ring, dst, from, from + s);
      this.produced += s;
      from += s;
      k -= s;
    }
  }

  /** Parses the next element's tag (format_description.txt of snappy); its bytes are in the input. */
  private element(): void {
    const b = this.input;
    const p = this.pos;
    const avail = this.end - p;
    if (avail < 1) this.fail('stream truncated');
    const tag = b[p];
    const kind = tag & 3;
    if (kind === 0) {
      let len = tag >>> 2;
      if (len >= 60) {
        const extra = len - 59;
        if (avail < 1 + extra) this.fail('stream truncated');
        len = 0;
        for (let i = 0; i < extra; i++) len += b[p + 1 + i] * 2 ** (8 * i);
        this.pos += 1 + extra;
      } else {
        this.pos += 1;
      }
      this.literal = len + 1;
      return;
    }
    const width = kind === 1 ? 2 : kind === 2 ? 3 : 5;
    if (avail < width) this.fail('stream truncated');
    let offset: number;
    let len: number;
    if (kind === 1) {
      len = 4 + ((tag >>> 2) & 7);
      offset = ((tag >>> 5) << 8) | b[p + 1];
    } else {
      len = 1 + (tag >>> 2);
      offset = kind === 2 ? b[p + 1] | (b[p + 2] << 8) : b.readUInt32LE(p + 1);
    }
    this.pos += width;
    if (offset === 0 || offset > this.produced) this.fail(`copy from ${offset} bytes back at output byte ${this.produced}`);
    if (offset > WINDOW) throw new FarCopyError(`${this.where}: a copy from ${offset} bytes back, past the 64 KiB window`);
    this.copyLeft = len;
    this.copyOffset = offset;
  }

  /** At least `k` unconsumed input bytes (k ≤ 5), or as many as are left, reading on. */
  private async need(k: number): Promise<void> {
    if (this.end - this.pos >= k) return;
    const left = this.end - this.pos;
    this.input.copy(this.input, 0, this.pos, this.end);
    this.inputAt += this.pos;
    this.pos = 0;
    this.end = left;
    const n = Math.min(INPUT_BYTES - left, this.size - this.inputAt - left);
    if (left + n === 0) this.fail('stream truncated');
    const chunk = this.input.subarray(left, left + n);
    await this.source(chunk, this.inputAt + left, n);
    this.onInput?.(chunk);
    this.end = left + n;
  }

  private fail(message: string): never {
    throw new CorruptionError(`snappy: ${message}`, this.where);
  }
}
