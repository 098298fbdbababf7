/**
 * Reads blocks of one SST: a bounded read-ahead window for sequential scans, the 5-byte trailer
 * check (compression type + checksum, storage.md §3.6.2) and decompression.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { CorruptionError } from '../../../core/errors.js';
import { blockChecksum, checksumTypeName, contextChecksumModifier } from '../coding.js';
import { decompressBlock } from './compression.js';
import { BLOCK_TRAILER_SIZE, type BlockHandle, type Footer } from './format.js';

/** Read-ahead window size for sequential reads; memory per open file is about this. */
export const READ_AHEAD = 1 << 20;

export class SstFile {
  private winBuf: Buffer = Buffer.alloc(0);
  private winStart = 0;
  private winEnd = 0;
  private pending: { start: number; len: number; promise: Promise<Buffer> } | null = null;

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

  /** Bytes [offset, offset+len) of the file; `sequential` reads ahead. The result stays valid. */
  async read(offset: number, len: number, sequential: boolean): Promise<Buffer> {
    if (offset < 0 || offset + len > this.size) {
      throw new CorruptionError(
        `read of ${len} bytes at ${offset} runs past the end of the ${this.size}-byte file`,
        `${this.path}@${offset}`,
      );
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
    let buf: Buffer | null = null;
    if (pending && pending.start === offset && pending.len >= len) {
      buf = await pending.promise;
    } else if (
      pending &&
      pending.start === this.winEnd &&
      offset >= this.winStart &&
      offset < pending.start &&
      offset + len <= pending.start + pending.len
    ) {
      // the block straddles the current window and the one read ahead
      const head = this.winBuf.subarray(offset - this.winStart);
      buf = Buffer.concat([head, await pending.promise]);
    } else {
      if (pending) await pending.promise.catch(() => undefined);
      const want = Math.min(Math.max(len, READ_AHEAD), this.size - offset);
      // a fresh buffer each time: views handed out earlier (values) must stay intact
      buf = Buffer.allocUnsafe(want);
      await this.readFully(buf, want, offset);
    }
    this.winBuf = buf;
    this.winStart = offset;
    this.winEnd = offset + buf.length;
    // read the next window while this one is decoded
    if (this.winEnd < this.size) {
      const start = this.winEnd;
      const n = Math.min(READ_AHEAD, this.size - start);
      const next = Buffer.allocUnsafe(n);
      const promise = this.readFully(next, n, start).then(() => next);
      promise.catch(() => undefined);
      this.pending = { start, len: n, promise };
    }
    return buf.subarray(0, len);
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
    const pending = this.pending;
    this.pending = null;
    if (pending) await pending.promise.catch(() => undefined);
    const fh = this.fh;
    this.fh = null;
    this.winBuf = Buffer.alloc(0);
    this.winStart = this.winEnd = 0;
    if (fh) await fh.close();
  }
}

export type BlockKind = 'data' | 'index' | 'metaindex' | 'properties' | 'range-del' | 'footer';

/** Fetches, verifies and decompresses the block at `h`. */
export async function readBlock(
  file: SstFile,
  footer: Footer,
  h: BlockHandle,
  kind: BlockKind,
  sequential: boolean,
  verify = true,
): Promise<Buffer> {
  const raw = await file.read(h.offset, h.size + BLOCK_TRAILER_SIZE, sequential);
  const data = raw.subarray(0, h.size);
  const type = raw[h.size];
  if (verify) {
    const stored = raw.readUInt32LE(h.size + 1);
    let computed = blockChecksum(footer.checksumType, data, type);
    if (computed === null) {
      throw new CorruptionError(`unknown checksum type ${footer.checksumType}`, `${file.path}@${h.offset}`);
    }
    if (footer.baseContextChecksum !== 0) {
      computed = (computed + contextChecksumModifier(footer.baseContextChecksum, h.offset)) >>> 0;
    }
    if (footer.checksumType !== 0 && computed !== stored) {
      throw new CorruptionError(
        `${kind} block checksum mismatch (${checksumTypeName(footer.checksumType)}: stored ${hex(stored)}, ` +
          `computed ${hex(computed)}; block of ${h.size} bytes)`,
        `${file.path}@${h.offset}`,
      );
    }
  }
  if (type === 0) return data;
  return decompressBlock(type, data, footer.formatVersion, `${file.path}@${h.offset}`);
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
