/**
 * Reads blocks of one SST: a bounded read-ahead window for sequential scans, the 5-byte trailer
 * check (compression type + checksum, storage.md §3.6.2) and decompression.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { CorruptionError } from '../../../core/errors.js';
import { noteShortLivedBytes } from '../../../core/gc-pacing.js';
import { blockChecksum, checksumTypeName, contextChecksumModifier } from '../coding.js';
import { blockBuffer, declaredSize, decompressBlock } from './compression.js';
import { BLOCK_TRAILER_SIZE, type BlockHandle, type Footer } from './format.js';

/** Read-ahead window size for sequential reads; memory per open file is about twice this. */
export const READ_AHEAD = 1 << 18;

/**
 * One open SST. Sequential reads go through two window buffers, the one being decoded and the
 * one read ahead, recycled from window to window: a fresh 1 MiB buffer per window became garbage
 * that outlived the young generation and held RSS up until the next full GC.
 *
 * Lifetime rule: the bytes `read` returns are valid only until the next `read` on this file
 * (the window is overwritten), except a read longer than READ_AHEAD, which gets a buffer of its
 * own (`ownsRead`) that stays valid; readBlock copies what it hands on (an uncompressed block) unless
 * it owns it, and decompresses the rest into fresh buffers, so blocks, and the values viewed in
 * them, stay intact.
 * Reads are serialised so that a read never recycles a window another read is still returning.
 */
export class SstFile {
  private winBuf: Buffer = Buffer.alloc(0);
  private winStart = 0;
  private winEnd = 0;
  private pending: { start: number; len: number; buf: Buffer; promise: Promise<void> } | null = null;
  /** A window buffer no read refers to any more, reused for the next read-ahead. */
  private spare: Buffer | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private active = 0;

  private constructor(
    private fh: FileHandle | null,
    readonly path: string,
    readonly size: number,
  ) {}

  static async open(path: string): Promise<SstFile> {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      return new SstFile(fh, path, size);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Bytes [offset, offset+len) of the file; `sequential` reads ahead. Valid until the next read (see above). */
  read(offset: number, len: number, sequential: boolean): Promise<Buffer> {
    if (offset < 0 || offset + len > this.size) {
      return Promise.reject(
        new CorruptionError(`read of ${len} bytes at ${offset} runs past the end of the ${this.size}-byte file`, `${this.path}@${offset}`),
      );
    }
    // No read in progress: nothing can recycle the window before the caller has used it.
    if (this.active === 0 && offset >= this.winStart && offset + len <= this.winEnd) {
      return Promise.resolve(this.winBuf.subarray(offset - this.winStart, offset - this.winStart + len));
    }
    this.active++;
    const p = this.queue.then(() => this.readQueued(offset, len, sequential)).finally(() => this.active--);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async readQueued(offset: number, len: number, sequential: boolean): Promise<Buffer> {
    if (ownsRead(len)) {
      // A block bigger than a window (a 1 MiB value): read once into the buffer readBlock hands on,
      // not into a window, then copied out of it, then copied again (2 MiB of garbage per value).
      const buf = Buffer.allocUnsafeSlow(len);
      noteShortLivedBytes(len);
      await this.readFully(buf, len, offset);
      return buf;
    }
    if (offset >= this.winStart && offset + len <= this.winEnd) {
      return this.winBuf.subarray(offset - this.winStart, offset - this.winStart + len);
    }
    if (!sequential) {
      const buf = Buffer.allocUnsafe(len);
      await this.readFully(buf, len, offset);
      return buf;
    }
    const pending = this.pending;
    this.pending = null;
    let out: Buffer | null = null;
    if (pending) await pending.promise;
    if (pending && pending.start === offset && pending.len >= len) {
      this.setWindow(pending.buf, offset);
    } else if (
      pending &&
      pending.start === this.winEnd &&
      offset >= this.winStart &&
      offset < pending.start &&
      offset + len <= pending.start + pending.len
    ) {
      // The block straddles the current window and the one read ahead: a copy of its own, and the
      // read-ahead window becomes the current one.
      out = Buffer.allocUnsafe(len);
      const headLen = this.winEnd - offset;
      this.winBuf.copy(out, 0, offset - this.winStart);
      pending.buf.copy(out, headLen, 0, len - headLen);
      this.setWindow(pending.buf, pending.start);
    } else {
      if (pending) this.recycle(pending.buf);
      const want = Math.min(Math.max(len, READ_AHEAD), this.size - offset);
      const buf = this.take(want);
      await this.readFully(buf, want, offset);
      this.setWindow(buf, offset);
    }
    // read the next window while this one is decoded
    if (this.winEnd < this.size) {
      const start = this.winEnd;
      const n = Math.min(READ_AHEAD, this.size - start);
      const next = this.take(n);
      const promise = this.readFully(next, n, start);
      promise.catch(() => undefined);
      this.pending = { start, len: n, buf: next, promise };
    }
    return out ?? this.winBuf.subarray(offset - this.winStart, offset - this.winStart + len);
  }

  private setWindow(buf: Buffer, start: number): void {
    if (buf !== this.winBuf) this.recycle(this.winBuf);
    this.winBuf = buf;
    this.winStart = start;
    this.winEnd = start + buf.length;
  }

  private recycle(buf: Buffer): void {
    if (buf.buffer.byteLength >= READ_AHEAD && (this.spare === null || buf.buffer.byteLength > this.spare.length)) {
      this.spare = Buffer.from(buf.buffer, 0, buf.buffer.byteLength);
    }
  }

  /** A buffer of exactly n bytes, in the spare window when it is big enough. */
  private take(n: number): Buffer {
    const spare = this.spare;
    if (spare !== null && spare.length >= n) {
      this.spare = null;
      return spare.subarray(0, n);
    }
    return Buffer.allocUnsafeSlow(Math.max(n, READ_AHEAD)).subarray(0, n);
  }

  /**
   * Bytes [offset, offset+len) into `buf` (from its start), outside the windows: for reads in
   * pieces of a block too big to hold (sst/large-block.ts). Checked against the file's size.
   */
  async readAt(buf: Buffer, offset: number, len: number): Promise<void> {
    if (offset < 0 || offset + len > this.size) {
      throw new CorruptionError(`read of ${len} bytes at ${offset} runs past the end of the ${this.size}-byte file`, `${this.path}@${offset}`);
    }
    await this.readFully(buf, len, offset);
  }

  private async readFully(buf: Buffer, want: number, offset: number): Promise<void> {
    if (!this.fh) throw new Error(`${this.path}: read after close`);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(buf, got, want - got, offset + got);
      if (bytesRead === 0) throw new CorruptionError('unexpected end of file', `${this.path}@${offset + got}`);
      got += bytesRead;
    }
  }

  async close(): Promise<void> {
    await this.queue;
    const pending = this.pending;
    this.pending = null;
    if (pending) await pending.promise.catch(() => undefined);
    const fh = this.fh;
    this.fh = null;
    this.spare = null;
    this.winBuf = Buffer.alloc(0);
    this.winStart = this.winEnd = 0;
    if (fh) await fh.close();
  }
}

/** Whether `read` of `len` bytes returns a buffer of its own, valid after the next read. */
export function ownsRead(len: number): boolean {
  return len > READ_AHEAD;
}

export type BlockKind = 'data' | 'index' | 'metaindex' | 'properties' | 'range-del' | 'footer';

/**
 * Fetches, verifies and decompresses the block at `h`. With `decodedLimit`: null instead when it
 * is a compressed block whose header declares more than that many bytes (see sst/large-block.ts).
 */
export async function readBlock(file: SstFile, footer: Footer, h: BlockHandle, kind: BlockKind, sequential: boolean, verify?: boolean): Promise<Buffer>;
export async function readBlock(file: SstFile, footer: Footer, h: BlockHandle, kind: BlockKind, sequential: boolean, verify: boolean, decodedLimit: number): Promise<Buffer | null>;
export async function readBlock(
  file: SstFile,
  footer: Footer,
  h: BlockHandle,
  kind: BlockKind,
  sequential: boolean,
  verify = true,
  decodedLimit = Infinity,
): Promise<Buffer | null> {
  const raw = await file.read(h.offset, h.size + BLOCK_TRAILER_SIZE, sequential);
  const data = raw.subarray(0, h.size);
  const type = raw[h.size];
  if (verify) checkBlockChecksum(file.path, footer, h, kind, blockChecksum(footer.checksumType, data, type), raw.readUInt32LE(h.size + 1));
  // The window under `raw` is overwritten by the next read: an uncompressed block gets its own copy.
  if (type === 0) {
    if (ownsRead(raw.length)) return data;
    const copy = blockBuffer(data.length);
    data.copy(copy);
    return copy;
  }
  if ((declaredSize(type, data, footer.formatVersion) ?? 0) > decodedLimit) return null;
  return decompressBlock(type, data, footer.formatVersion, `${file.path}@${h.offset}`);
}

/** Throws unless `computed` (blockChecksum's result over the block at `h`) matches the trailer's `stored`. */
export function checkBlockChecksum(path: string, footer: Footer, h: BlockHandle, kind: BlockKind, computed: number | null, stored: number): void {
  if (computed === null) {
    throw new CorruptionError(`unknown checksum type ${footer.checksumType}`, `${path}@${h.offset}`);
  }
  if (footer.baseContextChecksum !== 0) {
    computed = (computed + contextChecksumModifier(footer.baseContextChecksum, h.offset)) >>> 0;
  }
  if (footer.checksumType !== 0 && computed !== stored) {
    throw new CorruptionError(
      `${kind} block checksum mismatch (${checksumTypeName(footer.checksumType)}: stored ${hex(stored)}, ` +
        `computed ${hex(computed)}; block of ${h.size} bytes)`,
      `${path}@${h.offset}`,
    );
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
