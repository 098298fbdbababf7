import type { RedisCommand } from '../core/command.js';

/**
 * Commands written as RESP straight into one buffer, sized first: one allocation and one socket
 * write per batch, where a client library builds an object, a promise and a buffer per command.
 * Used by the standalone sink's transactions (native-batch.ts) and the cluster sink's pipelines
 * (cluster-wire.ts). Hot: a million keys are two million bulk strings.
 */

export function byteLen(a: Buffer | string): number {
  return typeof a === 'string' ? Buffer.byteLength(a) : a.length;
}

export function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
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

/** Bytes of one command (name and arguments) as a RESP array. */
export function commandSize(name: string, args: ReadonlyArray<Buffer | string>): number {
  let size = headerSize(args.length + 1) + bulkSize(Buffer.byteLength(name));
  for (let i = 0; i < args.length; i++) size += bulkSize(byteLen(args[i]));
  return size;
}

export class RespWriter {
  readonly out: Buffer;
  o = 0;

  constructor(size: number) {
    this.out = Buffer.allocUnsafe(size);
  }

  /** `*n` or `$n` and CRLF; digits byte by byte, several times cheaper than String(n) + Buffer#write. */
  header(c: number, n: number): void {
    const out = this.out;
    out[this.o++] = c;
    const d = digits(n);
    for (let i = this.o + d - 1; i >= this.o; i--) {
      out[i] = 48 + (n % 10);
      n = Math.floor(n / 10);
    }
    this.o += d;
    out[this.o++] = 13;
    out[this.o++] = 10;
  }

  bulk(a: Buffer | string): void {
    const out = this.out;
    if (typeof a === 'string') {
      const n = Buffer.byteLength(a);
      this.header(36, n);
      this.o += out.write(a, this.o, n);
    } else {
      const n = a.length;
      this.header(36, n);
      // Short keys and values byte by byte: cheaper than Buffer#copy's call for a few bytes.
      if (n <= 64) for (let i = 0, o = this.o; i < n; i++) out[o + i] = a[i];
      else a.copy(out, this.o);
      this.o += n;
    }
    out[this.o++] = 13;
    out[this.o++] = 10;
  }

  command(name: string, args: ReadonlyArray<Buffer | string>): void {
    this.header(42, args.length + 1);
    this.bulk(name);
    for (let i = 0; i < args.length; i++) this.bulk(args[i]);
  }

  done(): Buffer {
    if (this.o !== this.out.length) throw new Error(`RESP: laid out ${this.o} of ${this.out.length} bytes`);
    return this.out;
  }
}

/** The commands as one RESP buffer. */
export function encodeCommands(cmds: readonly RedisCommand[]): Buffer {
  let size = 0;
  for (const c of cmds) size += commandSize(c.name, c.args);
  const w = new RespWriter(size);
  for (const c of cmds) w.command(c.name, c.args);
  return w.done();
}
