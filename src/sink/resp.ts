import type { RedisCommand } from '../core/command.js';

/**
 * Commands written as RESP straight into one buffer, sized first: one allocation and one socket
 * write per batch, where a client library builds an object, a promise and a buffer per command.
 * Used by the standalone sink's transactions (native-batch.ts) and the cluster sink's pipelines
 * (cluster-wire.ts). Hot: a million keys are two million bulk strings.
 */

export function byteLen(a: WireArg): number {
  return typeof a === 'string' ? Buffer.byteLength(a) : a.length;
}

export function digits(n: number): number {
  // Comparisons first: the lengths of keys and values are nearly always below 1000.
  if (n < 10) return 1;
  if (n < 100) return 2;
  if (n < 1000) return 3;
  let d = 4;
  for (n = Math.floor(n / 10000); n > 0; n = Math.floor(n / 10)) d++;
  return d;
}

/** Bytes of a `*n` or `$n` header line. */
export function headerSize(n: number): number {
  return 1 + digits(n) + 2;
}

/** Bytes of `$len\r\n…\r\n`. */
export function bulkSize(n: number): number {
  return headerSize(n) + n + 2;
}

/**
 * Buffer arguments at least this long are not copied into a writer's buffer: `chunks()` hands
 * them on by reference, between the copied bytes. Copying a 1 MiB value made a second 1 MiB
 * allocation per value, which V8 frees only when its external memory passes a limit (~64 MB).
 */
export const BY_REFERENCE = 16 << 10;

/**
 * One bulk string laid out in several buffers: the batch script's commands argument, whose long
 * values stay where they are between the bytes laid out around them (batch-script.ts). Copied
 * into one buffer, a 48 MiB value from the binlog was held twice until Redis had read it.
 */
export class SplitArg {
  constructor(
    readonly parts: readonly Buffer[],
    readonly length: number,
  ) {}
}

/** Any argument a RespWriter takes. */
export type WireArg = Buffer | string | SplitArg;

/** Bytes `bulk(a)` copies into the writer's buffer: the framing alone for an argument written by reference. */
export function copiedSize(a: WireArg): number {
  if (typeof a === 'string') return bulkSize(Buffer.byteLength(a));
  return a instanceof SplitArg || a.length >= BY_REFERENCE ? headerSize(a.length) + 2 : bulkSize(a.length);
}

/**
 * Bytes of one command (name and arguments) as a RESP array; with `byReference`, the bytes a writer
 * that hands long arguments on by reference copies (see RespWriter).
 */
export function commandSize(name: string, args: ReadonlyArray<WireArg>, byReference = false): number {
  let size = headerSize(args.length + 1) + bulkSize(Buffer.byteLength(name));
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    size += byReference ? copiedSize(a) : bulkSize(byteLen(a));
  }
  return size;
}

/**
 * `*n` or `$n` and CRLF at o; returns the offset after it. Digits byte by byte, several times
 * cheaper than String(n) + Buffer#write.
 */
function putHeader(out: Buffer, o: number, c: number, n: number): number {
  out[o++] = c;
  // One and two digits without the loop: the length of nearly every small key and value.
  if (n < 10) out[o++] = 48 + n;
  else if (n < 100) {
    const t = (n / 10) | 0;
    out[o++] = 48 + t;
    out[o++] = 48 + n - 10 * t;
  } else {
    const d = digits(n);
    for (let i = o + d - 1; i >= o; i--) {
      out[i] = 48 + (n % 10);
      n = Math.floor(n / 10);
    }
    o += d;
  }
  out[o] = 13;
  out[o + 1] = 10;
  return o + 2;
}

export class RespWriter {
  readonly out: Buffer;
  o = 0;
  /** With `byReference`: the copied bytes up to each long argument, and that argument. */
  private readonly parts: Buffer[] | null;
  private partStart = 0;

  /**
   * `size`: the bytes the writer copies (`bulkSize`, or `copiedSize` with `byReference`, which
   * leaves Buffer arguments of BY_REFERENCE bytes or more out of the buffer; see `chunks`).
   */
  constructor(size: number, byReference = false) {
    this.out = Buffer.allocUnsafe(size);
    this.parts = byReference ? [] : null;
  }

  /** `*n` or `$n` and CRLF. */
  header(c: number, n: number): void {
    this.o = putHeader(this.out, this.o, c, n);
  }

  bulk(a: WireArg): void {
    const out = this.out;
    let o: number;
    if (typeof a === 'string') {
      const n = Buffer.byteLength(a);
      o = putHeader(out, this.o, 36, n);
      o += out.write(a, o, n);
    } else if (a instanceof SplitArg) {
      o = putHeader(out, this.o, 36, a.length);
      if (this.parts !== null) {
        this.parts.push(out.subarray(this.partStart, o), ...a.parts);
        this.partStart = o;
      } else {
        for (const p of a.parts) {
          out.set(p, o);
          o += p.length;
        }
      }
    } else if (this.parts !== null && a.length >= BY_REFERENCE) {
      o = putHeader(out, this.o, 36, a.length);
      this.parts.push(out.subarray(this.partStart, o), a);
      this.partStart = o;
    } else {
      o = putHeader(out, this.o, 36, a.length);
      // TypedArray#set: a memcpy without Buffer#copy's argument checks, faster even for a few bytes
      // than a loop (measured on 9- and 15-byte keys and values).
      out.set(a, o);
      o += a.length;
    }
    out[o] = 13;
    out[o + 1] = 10;
    this.o = o + 2;
  }

  command(name: string, args: ReadonlyArray<WireArg>): void {
    this.header(42, args.length + 1);
    this.bulk(name);
    for (let i = 0; i < args.length; i++) this.bulk(args[i]);
  }

  done(): Buffer {
    if (this.parts !== null && this.parts.length > 0) throw new Error('RESP: arguments were written by reference; use chunks()');
    if (this.o !== this.out.length) throw new Error(`RESP: laid out ${this.o} of ${this.out.length} bytes`);
    return this.out;
  }

  /** What was written, in order: slices of the writer's buffer and the long arguments themselves. */
  chunks(): Buffer[] {
    if (this.o !== this.out.length) throw new Error(`RESP: laid out ${this.o} of ${this.out.length} bytes`);
    // Never empty at the end: a long argument's CRLF follows it.
    return [...(this.parts ?? []), this.out.subarray(this.partStart)];
  }
}

/** The commands in RESP, long values by reference (see `chunks`). */
export function encodeCommands(cmds: readonly RedisCommand[]): Buffer[] {
  let size = 0;
  for (const c of cmds) size += commandSize(c.name, c.args, true);
  const w = new RespWriter(size, true);
  for (const c of cmds) w.command(c.name, c.args);
  return w.chunks();
}
