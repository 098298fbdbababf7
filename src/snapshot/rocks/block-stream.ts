/**
 * A compressed data block decoded as a stream, for a block too big to decompress whole (a 64 MiB
 * string in a block of Pika's default `compression : snappy`, or of `lz4`). snappyjs and lz4js,
 * like every such package on npm, decode a whole buffer or their framing format, never one raw
 * block in pieces, hence this.
 *
 * Both are LZ77 codecs: literals, and copies of earlier output. Only the last 64 KiB of output are
 * kept: an LZ4 offset never exceeds that, and the C++ snappy that RocksDB links compresses in
 * 64 KiB fragments whose copies stay inside their fragment. A snappy copy reaching further back is
 * valid from another encoder; it ends the stream with FarCopyError and the caller decompresses
 * whole.
 */
import { CorruptionError } from '../../core/errors.js';
import { CompressionType } from './sst/compression.js';

const WINDOW = 1 << 16;
const MASK = WINDOW - 1;
const INPUT_BYTES = 256 * 1024;
/** Enough for any header (a varint32, or legacy LZ4's 8 bytes) and a first element. */
const HEADER_BYTES = 16;

/** Reads compressed bytes [at, at+len) of the stream into `buf[0, len)`. */
export type CompressedReader = (buf: Buffer, at: number, len: number) => Promise<void>;

/** A copy that reaches past the 64 KiB window (see above). */
export class FarCopyError extends Error {
  override name = 'FarCopyError';
}

export abstract class BlockStream {
  /** Uncompressed bytes produced (read or skipped) so far. */
  produced = 0;
  /** The window, made at the first byte produced: most blocks opened are found small at their header. */
  private ring: Buffer | null = null;
  /** The header's few bytes first, then INPUT_BYTES. */
  protected input = Buffer.allocUnsafe(HEADER_BYTES);
  /** Compressed offset of input[0]; input[pos, end) is not consumed yet. */
  private inputAt = 0;
  protected pos = 0;
  private end = 0;
  private started = false;
  /** Literal bytes of the current element still to take from the input. */
  protected literal = 0;
  protected copyLeft = 0;
  protected copyOffset = 0;
  /** Uncompressed length, from the block's header. */
  length = 0;

  protected constructor(
    private readonly source: CompressedReader,
    /** Compressed size of the stream. */
    readonly size: number,
    /** Told of every compressed byte read, in order, once (a checksum). */
    private readonly onInput: ((chunk: Buffer) => void) | null,
    protected readonly where: string,
  ) {}

  /** Reads the block's uncompressed length from its start (openBlockStream does, first). */
  abstract header(): Promise<void>;
  /** Parses the next element (or step of one) from the input: sets `literal` or a copy. */
  protected abstract element(): void;
  /** Whether the stream may end here (between elements). */
  protected abstract atBoundary(): boolean;

  /** A varint32 at the input's start: snappy's preamble, RocksDB's size prefix of LZ4 blocks. */
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

  /** Whether every compressed byte has been read. */
  protected get inputDone(): boolean {
    return this.inputAt + this.end === this.size;
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
    if (this.ring === null) return out;
    const start = (this.produced - n) & MASK;
    const first = Math.min(n, WINDOW - start);
    this.ring.copy(out, 0, start, start + first);
    this.ring.copy(out, first, 0, n - first);
    return out;
  }

  /** Checks that the stream ended where its preamble and size say (after everything was produced). */
  async finish(): Promise<void> {
    if (this.produced !== this.length || this.literal > 0 || this.copyLeft > 0 || !this.atBoundary()) this.fail(`stream ends after ${this.produced} of ${this.length} bytes`);
    if (this.inputAt + this.pos !== this.size) this.fail(`${this.size - this.inputAt - this.pos} compressed bytes after the last element`);
  }

  private async produce(out: Buffer | null, at: number, n: number): Promise<void> {
    if (this.produced + n > this.length) this.fail(`read past the ${this.length}-byte end`);
    const ring = (this.ring ??= Buffer.allocUnsafe(WINDOW));
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
        // A snappy tag and its extra bytes are at most 5 bytes: parsed without waiting (an LZ4
        // length's run of 255s is parsed as far as the input goes, and continued).
        if (this.avail < 5 && !this.inputDone) await this.need(5);
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
      if (s < 16) for (let i = 0; i < s; i++) this.ring![dst + i] = src[from + i];
      else src.copy(this.ring!, dst, from, from + s);
      this.produced += s;
      from += s;
      k -= s;
    }
  }

  /** At least `k` unconsumed input bytes (k ≤ 8), or as many as are left, reading on. */
  protected async need(k: number): Promise<void> {
    if (this.end - this.pos >= k) return;
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
    const n = Math.min(this.started ? INPUT_BYTES - left : HEADER_BYTES, this.size - this.inputAt - left);
    this.started = true;
    if (left + n === 0) this.fail('stream truncated');
    const chunk = this.input.subarray(left, left + n);
    await this.source(chunk, this.inputAt + left, n);
    this.onInput?.(chunk);
    this.end = left + n;
  }

  protected fail(message: string): never {
    throw new CorruptionError(`${this.codec}: ${message}`, this.where);
  }

  protected abstract readonly codec: string;

  /** Unconsumed input bytes (parsers read `input[pos, end)`). */
  protected get avail(): number {
    return this.end - this.pos;
  }
}

/** Raw snappy (format_description.txt of snappy): a varint32 length, then tagged elements. */
class SnappyStream extends BlockStream {
  protected readonly codec = 'snappy';

  constructor(source: CompressedReader, size: number, onInput: ((chunk: Buffer) => void) | null, where: string) {
    super(source, size, onInput, where);
  }

  async header(): Promise<void> {
    this.length = await this.varint32();
  }

  protected atBoundary(): boolean {
    return true;
  }

  /** Parses the next element's tag (format_description.txt of snappy); its bytes are in the input. */
  protected element(): void {
    const b = this.input;
    const p = this.pos;
    const avail = this.avail;
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
}

/**
 * RocksDB's LZ4 block: its size (a varint32 from format_version 2 on, else 8 bytes of which the
 * first 4 hold it), then raw LZ4 sequences: a token, literals, a 2-byte offset and a match, the
 * lengths extended by runs of 255. The last sequence ends after its literals.
 */
class Lz4Stream extends BlockStream {
  protected readonly codec = 'lz4';
  /** 0: at a token; 1: in literal-length bytes; 2: after the literals (an offset, or the end); 3: in match-length bytes. */
  private phase = 0;
  private run = 0;
  private matchNibble = 0;
  private matchOffset = 0;

  constructor(source: CompressedReader, size: number, where: string, onInput: ((chunk: Buffer) => void) | null, private readonly legacy: boolean) {
    super(source, size, onInput, where);
  }

  async header(): Promise<void> {
    if (!this.legacy) {
      this.length = await this.varint32();
      return;
    }
    await this.need(8);
    if (this.avail < 8) this.fail('legacy LZ4 block shorter than its header');
    this.length = this.input.readUInt32LE(this.pos);
    this.pos += 8;
  }

  protected atBoundary(): boolean {
    return this.phase === 2;
  }

  protected element(): void {
    const b = this.input;
    if (this.phase === 0) {
      if (this.avail < 1) this.fail('stream truncated');
      const token = b[this.pos++];
      this.matchNibble = token & 15;
      if (token >>> 4 === 15) {
        this.run = 15;
        this.phase = 1;
      } else {
        this.literal = token >>> 4;
        this.phase = 2;
      }
    } else if (this.phase === 2) {
      // More output is wanted, so the block cannot end here.
      if (this.avail < 2) this.fail(this.avail === 0 ? `stream ends after ${this.produced} of ${this.length} bytes` : 'stream truncated');
      const offset = b[this.pos] | (b[this.pos + 1] << 8);
      this.pos += 2;
      if (offset === 0 || offset > this.produced) this.fail(`copy from ${offset} bytes back at output byte ${this.produced}`);
      this.matchOffset = offset;
      if (this.matchNibble === 15) {
        this.run = 19;
        this.phase = 3;
      } else {
        this.copy(this.matchNibble + 4);
      }
    } else {
      // A length's run of 255s, as far as the input goes; the caller refills and comes back.
      while (this.avail > 0) {
        const x = b[this.pos++];
        this.run += x;
        if (x === 255) continue;
        if (this.phase === 1) {
          this.literal = this.run;
          this.phase = 2;
        } else {
          this.copy(this.run);
        }
        return;
      }
      if (this.inputDone) this.fail('stream truncated');
    }
  }

  private copy(len: number): void {
    this.copyLeft = len;
    this.copyOffset = this.matchOffset;
    this.phase = 0;
  }
}

/**
 * A stream over a block of compression `type` (the trailer's byte), or null for a compression not
 * decoded as a stream (zlib, zstd, …: read whole).
 */
export async function openBlockStream(
  type: number,
  formatVersion: number,
  source: CompressedReader,
  size: number,
  where: string,
  onInput: ((chunk: Buffer) => void) | null = null,
): Promise<BlockStream | null> {
  let s: BlockStream;
  if (type === CompressionType.Snappy) s = new SnappyStream(source, size, onInput, where);
  else if (type === CompressionType.LZ4 || type === CompressionType.LZ4HC) s = new Lz4Stream(source, size, where, onInput, formatVersion < 2);
  else return null;
  await s.header();
  return s;
}
