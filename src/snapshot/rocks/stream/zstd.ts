/**
 * A zstd block (a varint32 size, then one zstd frame: RFC 8878) decoded by fzstd's streaming
 * Decompress, which holds the frame's window (2 MiB at RocksDB's default level 3) and hands out
 * each block's output as the block is pushed. The frame header and the 3-byte block headers are
 * read here so that each push is exactly one whole block: one push of many small RLE blocks
 * (4 bytes each, for up to 128 KiB of output) would hand out megabytes at once, and fzstd joins a
 * pushed part of a block to the next part by copying, which small pushes make quadratic. A content
 * checksum after the last block is skipped, as fzstd's whole-frame decoding skips it: the block's
 * own checksum covers those bytes.
 *
 * A frame whose window is its whole content (single-segment: zstd's choice when the content fits
 * the level's window, e.g. any value under 2 MiB at level 3), or larger than MAX_WINDOW, is not
 * streamed: its block is read whole.
 */
import { Decompress } from 'fzstd';
import type { CompressedReader } from './base.js';
import { ChunkedStream } from './chunked.js';

const MAGIC = 0xfd2fb528;
/** zstd's largest block (smaller only for a smaller window). */
const BLOCK_BYTES = 128 * 1024;
/**
 * The largest window streamed, what zstd levels up to 19 use: fzstd allocates the window at the
 * frame header, before the block's checksum is known, so a damaged descriptor must not ask for
 * a gigabyte. The ultra levels' (20–22) blocks are read whole.
 */
const MAX_WINDOW = 8 << 20;

export class ZstdStream extends ChunkedStream {
  protected readonly codec = 'zstd';
  /** Output of the last push, not read yet. */
  private readonly decoded: Uint8Array[] = [];
  private readonly decoder = new Decompress((chunk) => {
    if (chunk.length > 0) this.decoded.push(chunk);
  });
  /** Bytes of the frame header, pushed with the first block. */
  private frameHeader = 0;
  private blockMax = BLOCK_BYTES;
  /** Whether 4 bytes of content checksum follow the last block (pushed with it). */
  private checksum = false;
  private last = false;

  constructor(source: CompressedReader, size: number, onInput: ((chunk: Buffer) => void) | null, where: string) {
    super(source, size, onInput, where);
  }

  async header(): Promise<boolean> {
    this.length = await this.varint32();
    await this.need(6);
    if (this.avail < 6) this.fail('stream truncated');
    const b = this.input;
    const p = this.pos;
    if (b.readUInt32LE(p) !== MAGIC) this.fail('no zstd frame');
    const fhd = b[p + 4];
    if (fhd & 8) this.fail('reserved bit of the frame header set');
    const single = (fhd & 0x20) !== 0;
    const dictBytes = [0, 1, 2, 4][fhd & 3];
    const fcsBytes = fhd >> 6 === 0 ? (single ? 1 : 0) : 1 << (fhd >> 6);
    const headerBytes = 5 + (single ? 0 : 1) + dictBytes + fcsBytes;
    await this.need(headerBytes);
    if (this.avail < headerBytes) this.fail('stream truncated');
    if (fcsBytes > 0) {
      const q = p + headerBytes - fcsBytes;
      const fcs = fcsBytes === 1 ? b[q] : fcsBytes === 2 ? b.readUInt16LE(q) + 256 : fcsBytes === 4 ? b.readUInt32LE(q) : b.readUInt32LE(q + 4) * 2 ** 32 + b.readUInt32LE(q);
      if (fcs !== this.length) this.fail(`frame of ${fcs} bytes in a block of ${this.length}`);
    }
    // A dictionary's frames are not RocksDB's without one (a table with one is refused at open).
    if (single || dictBytes > 0) return false;
    const exponent = 2 ** (10 + (b[p + 5] >> 3));
    const window = exponent + (exponent / 8) * (b[p + 5] & 7);
    // A window as big as the content holds as much as the whole-block read.
    if (window >= this.length || window > MAX_WINDOW) return false;
    this.blockMax = Math.min(BLOCK_BYTES, window);
    this.checksum = (fhd & 4) !== 0;
    this.frameHeader = headerBytes;
    return true;
  }

  protected async nextChunk(): Promise<Uint8Array | null> {
    for (;;) {
      const chunk = this.decoded.shift();
      if (chunk !== undefined) return chunk;
      if (this.last) return null;
      await this.pushBlock();
    }
  }

  protected async ended(): Promise<void> {
    if (this.consumed !== this.size) this.fail(`${this.size - this.consumed} compressed bytes after the frame`);
  }

  /** Pushes the next block whole: the frame header before the first, the content checksum after the last. */
  private async pushBlock(): Promise<void> {
    const h = this.frameHeader;
    await this.need(h + 3);
    if (this.avail < h + 3) this.fail('stream truncated');
    const b = this.input;
    const p = this.pos + h;
    const blockHeader = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16);
    const last = (blockHeader & 1) === 1;
    const type = (blockHeader >> 1) & 3;
    const size = blockHeader >>> 3;
    if (type === 3) this.fail(`reserved block type at compressed byte ${this.consumed + h}`);
    // Raw and RLE blocks' output, compressed blocks' input: never more than a block.
    if (size > this.blockMax) this.fail(`block of ${size} bytes, more than ${this.blockMax}`);
    const n = h + 3 + (type === 1 ? 1 : size) + (last && this.checksum ? 4 : 0);
    await this.need(n);
    if (this.avail < n) this.fail('stream truncated');
    // fzstd holds a first push under 18 bytes to join it to the next, and the input buffer is
    // reused: that one is a copy. Later pushes are whole blocks, decoded at once.
    const whole = this.input.subarray(this.pos, this.pos + n);
    const piece = h > 0 ? Uint8Array.prototype.slice.call(whole) : whole;
    this.pos += n;
    this.frameHeader = 0;
    this.last = last;
    try {
      this.decoder.push(piece, last);
    } catch (e) {
      this.fail(e instanceof Error ? e.message : String(e));
    }
  }
}
