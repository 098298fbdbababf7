/**
 * Snappy and LZ4 blocks decoded as streams: snappyjs and lz4js, like every such package on npm,
 * decode a whole buffer or their framing format, never one raw block in pieces, hence this.
 *
 * Both are LZ77 codecs: literals, and copies of earlier output. Only the last 64 KiB of output are
 * kept: an LZ4 offset never exceeds that, and the C++ snappy that RocksDB links compresses in
 * 64 KiB fragments whose copies stay inside their fragment. A snappy copy reaching further back is
 * valid from another encoder; it ends the stream with FarCopyError and the caller decompresses
 * whole.
 */
import { BlockStream, MASK, WINDOW, type CompressedReader } from './base.js';

/** A copy that reaches past the 64 KiB window (see above). */
export class FarCopyError extends Error {
  override name = 'FarCopyError';
}

abstract class Lz77Stream extends BlockStream {
  /** Literal bytes of the current element still to take from the input. */
  protected literal = 0;
  protected copyLeft = 0;
  protected copyOffset = 0;

  /** Parses the next element (or step of one) from the input: sets `literal` or a copy. */
  protected abstract element(): void;
  /** Whether the stream may end here (between elements). */
  protected abstract atBoundary(): boolean;

  async finish(): Promise<void> {
    if (this.produced !== this.length || this.literal > 0 || this.copyLeft > 0 || !this.atBoundary()) this.fail(`stream ends after ${this.produced} of ${this.length} bytes`);
    if (this.consumed !== this.size) this.fail(`${this.size - this.consumed} compressed bytes after the last element`);
  }

  protected async produce(out: Buffer | null, at: number, n: number): Promise<void> {
    const ring = this.window();
    while (n > 0) {
      if (this.literal > 0) {
        if (this.avail === 0) await this.need(1);
        const k = Math.min(this.literal, this.avail, n);
        if (out !== null) this.input.copy(out, at, this.pos, this.pos + k);
        this.keep(this.input, this.pos, k);
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
}

/** Raw snappy (format_description.txt of snappy): a varint32 length, then tagged elements. */
export class SnappyStream extends Lz77Stream {
  protected readonly codec = 'snappy';

  constructor(source: CompressedReader, size: number, onInput: ((chunk: Buffer) => void) | null, where: string) {
    super(source, size, onInput, where);
  }

  async header(): Promise<boolean> {
    this.length = await this.varint32();
    return true;
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
export class Lz4Stream extends Lz77Stream {
  protected readonly codec = 'lz4';
  /** 0: at a token; 1: in literal-length bytes; 2: after the literals (an offset, or the end); 3: in match-length bytes. */
  private phase = 0;
  private run = 0;
  private matchNibble = 0;
  private matchOffset = 0;

  constructor(source: CompressedReader, size: number, where: string, onInput: ((chunk: Buffer) => void) | null, private readonly legacy: boolean) {
    super(source, size, onInput, where);
  }

  async header(): Promise<boolean> {
    if (!this.legacy) {
      this.length = await this.varint32();
      return true;
    }
    await this.need(8);
    if (this.avail < 8) this.fail('legacy LZ4 block shorter than its header');
    this.length = this.input.readUInt32LE(this.pos);
    this.pos += 8;
    return true;
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
