/**
 * A zlib block (format_version 2 on: a varint32 size, then raw deflate, RocksDB's default window
 * bits being -14) inflated by node:zlib's streaming InflateRaw: a piece of input is written once
 * the inflater has taken the last, and the inflater waits while its output is not read (stream
 * back-pressure), so a few bytes of a run of one byte never turn into megabytes held.
 */
import { createInflateRaw, type InflateRaw } from 'node:zlib';
import { CorruptionError } from '../../../core/errors.js';
import type { CompressedReader } from './base.js';
import { ChunkedStream } from './chunked.js';

/** The inflater's output pieces. */
const OUTPUT_BYTES = 64 * 1024;

export class ZlibStream extends ChunkedStream {
  protected readonly codec = 'zlib';
  private inflater: InflateRaw | null = null;
  private output: AsyncIterator<Buffer> | null = null;
  /** Settles once the whole input was written and the inflater told its end (or the feed stopped on an error). */
  private fed: Promise<void> = Promise.resolve();
  /** Compressed bytes written to the inflater. */
  private written = 0;
  /** What failed a read of the input: the inflater was destroyed with it. */
  private inputError: unknown = null;

  constructor(source: CompressedReader, size: number, onInput: ((chunk: Buffer) => void) | null, where: string) {
    super(source, size, onInput, where);
  }

  async header(): Promise<boolean> {
    this.length = await this.varint32();
    return true;
  }

  protected async nextChunk(): Promise<Uint8Array | null> {
    // Started at the first read: a block found small at its header reads nothing more.
    const output = (this.output ??= this.start());
    try {
      const r = await output.next();
      return r.done === true ? null : r.value;
    } catch (e) {
      if (e === this.inputError || e instanceof CorruptionError) throw e;
      // Z_BUF_ERROR: the input ended inside the deflate stream.
      if ((e as { code?: unknown }).code === 'Z_BUF_ERROR') return this.fail('stream truncated');
      return this.fail(e instanceof Error ? e.message : String(e));
    }
  }

  protected async ended(): Promise<void> {
    await this.fed;
    // Inflation stops at the deflate stream's end; bytesWritten counts what it took.
    const taken = this.inflater?.bytesWritten ?? 0;
    if (taken !== this.written) this.fail(`${this.written - taken} compressed bytes after the deflate stream`);
  }

  private start(): AsyncIterator<Buffer> {
    // Window bits 15 inflate whatever window RocksDB's options chose (-8 to -15).
    const inflater = createInflateRaw({ chunkSize: OUTPUT_BYTES });
    this.inflater = inflater;
    this.fed = this.feed(inflater);
    return inflater[Symbol.asyncIterator]();
  }

  /** Writes the input to the inflater one piece at a time, each once the last was taken (the input buffer is reused). */
  private async feed(inflater: InflateRaw): Promise<void> {
    for (;;) {
      let piece: Buffer | null;
      try {
        piece = await this.takeInput();
      } catch (e) {
        const error = e instanceof Error ? e : new Error(String(e));
        this.inputError = error;
        inflater.destroy(error);
        return;
      }
      if (piece === null) break;
      this.written += piece.length;
      const taken = await new Promise<boolean>((resolve) => inflater.write(piece, (e) => resolve(e == null)));
      // A failed inflater fails its output: the reader is told.
      if (!taken) return;
    }
    inflater.end();
  }
}
