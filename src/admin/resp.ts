/**
 * The Redis protocol as the admin port speaks it: an incremental request parser with hard limits
 * (a client cannot make us buffer more than a few MiB, whatever it announces) and reply encoders.
 */

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

export interface ParserLimits {
  /** Longest inline command or `*`/`$` header line. */
  readonly maxLine: number;
  readonly maxArgs: number;
  readonly maxBulk: number;
  /**
   * Most bytes held for requests not yet complete (Redis's client-query-buffer-limit): past it
   * the client is refused, whatever the lengths it announced.
   */
  readonly maxBuffered: number;
  /** Limits for a client that has not authenticated yet: errors say so, as Redis's do. */
  readonly unauthenticated?: boolean;
}

/** What an authenticated client may send: admin commands are small, 1 MiB per argument is plenty. */
export const defaultLimits: ParserLimits = { maxLine: 64 * 1024, maxArgs: 1024, maxBulk: 1024 * 1024, maxBuffered: 4 * 1024 * 1024 };

/**
 * Before AUTH (when a password is set): Redis 7's limits (10 arguments, 16 KiB per bulk), and no more
 * than 64 KiB held, so thousands of connections that never authenticate cost little memory.
 */
export const unauthenticatedLimits: ParserLimits = { maxLine: 16 * 1024, maxArgs: 10, maxBulk: 16 * 1024, maxBuffered: 64 * 1024, unauthenticated: true };

/**
 * Feed bytes with `push`, take complete commands with `next` (undefined when more bytes are
 * needed). Accepts RESP arrays of bulk strings and inline commands (telnet), as Redis does. Every
 * length is checked when its header arrives, before its bytes are waited for.
 */
export class RequestParser {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;

  /** The limits for the next request; the server switches them once the client authenticates. */
  limits: ParserLimits;

  constructor(limits: ParserLimits = defaultLimits) {
    this.limits = limits;
  }

  push(chunk: Buffer): void {
    const rest = this.buf.length - this.pos;
    // A chunk is never more than a socket read; refusing here only guards a caller that pushes
    // without ever calling next().
    if (rest > this.limits.maxBuffered) throw new ProtocolError(this.tag('query buffer limit exceeded'));
    this.buf = rest === 0 ? chunk : Buffer.concat([this.buf.subarray(this.pos), chunk]);
    this.pos = 0;
  }

  /** Bytes buffered and not yet consumed (for tests and memory accounting). */
  get buffered(): number {
    return this.buf.length - this.pos;
  }

  next(): Buffer[] | undefined {
    for (;;) {
      if (this.pos >= this.buf.length) return undefined;
      const start = this.pos;
      const cmd = this.buf[start] === 0x2a /* '*' */ ? this.parseMultibulk() : this.parseInline();
      if (cmd === undefined) {
        this.pos = start;
        if (this.buffered > this.limits.maxBuffered) throw new ProtocolError(this.tag('query buffer limit exceeded'));
        return undefined;
      }
      if (cmd.length > 0) return cmd;
      // empty inline line or `*0`: nothing to run, keep going
    }
  }

  private readLine(): string | undefined {
    const eol = this.buf.indexOf(0x0a, this.pos);
    if (eol < 0) {
      if (this.buf.length - this.pos > this.limits.maxLine) throw new ProtocolError('too big inline request');
      return undefined;
    }
    if (eol - this.pos > this.limits.maxLine) throw new ProtocolError('too big inline request');
    const end = eol > this.pos && this.buf[eol - 1] === 0x0d ? eol - 1 : eol;
    const line = this.buf.toString('latin1', this.pos, end);
    this.pos = eol + 1;
    return line;
  }

  private parseInline(): Buffer[] | undefined {
    const line = this.readLine();
    if (line === undefined) return undefined;
    const args = splitInline(line);
    if (args.length > this.limits.maxArgs) throw new ProtocolError(this.tag('invalid multibulk length'));
    return args.map((a) => Buffer.from(a, 'latin1'));
  }

  private parseMultibulk(): Buffer[] | undefined {
    const header = this.readLine();
    if (header === undefined) return undefined;
    const count = strictInt(header.slice(1));
    if (count === null || count > this.limits.maxArgs) throw new ProtocolError(this.tag('invalid multibulk length'));
    const args: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      if (this.pos >= this.buf.length) return undefined;
      if (this.buf[this.pos] !== 0x24 /* '$' */) {
        throw new ProtocolError(`expected '$', got '${String.fromCharCode(this.buf[this.pos])}'`);
      }
      const lenLine = this.readLine();
      if (lenLine === undefined) return undefined;
      const len = strictInt(lenLine.slice(1));
      if (len === null || len < 0 || len > this.limits.maxBulk) throw new ProtocolError(this.tag('invalid bulk length'));
      if (this.buf.length - this.pos < len + 2) return undefined;
      if (this.buf[this.pos + len] !== 0x0d || this.buf[this.pos + len + 1] !== 0x0a) {
        throw new ProtocolError('bulk string not terminated by CRLF');
      }
      args.push(Buffer.from(this.buf.subarray(this.pos, this.pos + len)));
      this.pos += len + 2;
    }
    return args;
  }

  /** Redis words it `unauthenticated multibulk length` for a client that has not authenticated. */
  private tag(msg: string): string {
    return this.limits.unauthenticated === true ? msg.replace(/^invalid /, 'unauthenticated ') : msg;
  }
}

function strictInt(s: string): number | null {
  if (!/^-?\d{1,10}$/.test(s)) return null;
  return Number(s);
}

/** Inline commands split on spaces; double quotes group words, as in redis-cli and Redis. */
function splitInline(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) {
    out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]);
  }
  return out;
}

/** Reply values; `Error` instances are sent as error replies. */
export type Reply = string | number | Buffer | null | Error | SimpleString | Reply[];

export class SimpleString {
  constructor(readonly text: string) {}
}

export const OK = new SimpleString('OK');

export function encodeReply(r: Reply): Buffer {
  const parts: Buffer[] = [];
  encodeInto(r, parts);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

function encodeInto(r: Reply, out: Buffer[]): void {
  if (r === null) out.push(Buffer.from('$-1\r\n'));
  else if (r instanceof SimpleString) out.push(Buffer.from(`+${oneLine(r.text)}\r\n`));
  else if (r instanceof Error) out.push(Buffer.from(`-${oneLine(r.message)}\r\n`));
  else if (typeof r === 'number') out.push(Buffer.from(`:${Math.trunc(r)}\r\n`));
  else if (typeof r === 'string' || Buffer.isBuffer(r)) {
    const b = typeof r === 'string' ? Buffer.from(r) : r;
    out.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  } else {
    out.push(Buffer.from(`*${r.length}\r\n`));
    for (const x of r) encodeInto(x, out);
  }
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}
