import type { BinlogEntry, BinlogPosition } from '../core/binlog.js';
import { CorruptionError } from '../core/errors.js';

/**
 * One Pika binlog item (replication.md §5.1): a 34-byte little-endian header, then the command as
 * one RESP array of bulk strings (§5.2). Identical in families A–D.
 */
export const BINLOG_ITEM_HEADER_LEN = 34;
/** `TypeFirst`, the only item type Pika ever writes. */
export const BINLOG_ITEM_TYPE = 1;

export interface BinlogItemHeader {
  readonly execTime: number;
  readonly termOrServerId: number;
  readonly logicId: bigint;
  /** Producer position before the item was written (informational). */
  readonly headerPos: BinlogPosition;
}

/**
 * Decodes a binlog item strictly: type 1, `content_length` equal to what follows the header, and
 * content that is exactly one RESP array of bulk strings. `where` names the item in errors (e.g.
 * `db0 item ending at 3:1104`), and is called only for one; every error adds the byte offset
 * inside the item.
 */
export function decodeBinlogItem(buf: Buffer, db: number, end: BinlogPosition, where: () => string): BinlogEntry {
  if (buf.length < BINLOG_ITEM_HEADER_LEN) {
    throw new CorruptionError(`binlog item of ${buf.length} bytes is shorter than its ${BINLOG_ITEM_HEADER_LEN}-byte header`, `${where()} byte 0`);
  }
  const type = buf.readUInt16LE(0);
  if (type !== BINLOG_ITEM_TYPE) {
    throw new CorruptionError(`binlog item type ${type}, expected ${BINLOG_ITEM_TYPE}`, `${where()} byte 0`);
  }
  const contentLength = buf.readUInt32LE(30);
  if (contentLength !== buf.length - BINLOG_ITEM_HEADER_LEN) {
    throw new CorruptionError(
      `content_length ${contentLength} but ${buf.length - BINLOG_ITEM_HEADER_LEN} content bytes follow the header`,
      `${where()} byte 30`,
    );
  }
  const argv = parseRespCommand(buf, BINLOG_ITEM_HEADER_LEN, where);
  return {
    db,
    execTime: buf.readUInt32LE(2),
    termOrServerId: buf.readUInt32LE(6),
    logicId: buf.readBigUInt64LE(10),
    // Two 32-bit halves: a BigInt here was four allocations per entry for a number.
    headerPos: { filenum: buf.readUInt32LE(18), offset: buf.readUInt32LE(22) + buf.readUInt32LE(26) * 2 ** 32 },
    argv,
    end,
  };
}

/**
 * Parses `buf[start..]` as exactly one RESP array of bulk strings, nothing before or after it.
 * Lengths may carry leading zeros: Pika's padding items write `$00123` (§5.4). Runs once per
 * streamed entry, so error texts are made only when one is thrown.
 */
export function parseRespCommand(buf: Buffer, start: number, where: () => string): Buffer[] {
  const r = new RespHeaders(buf, start, where);
  const argc = r.length(0x2a /* * */, ARRAY);
  if (argc === 0) r.fail('empty command array', start);
  // Each bulk string takes at least 6 bytes ("$0\r\n\r\n"): refuse counts the content cannot hold.
  if (argc * 6 > buf.length - r.i) r.fail(`array claims ${argc} elements, more than the content can hold`, start);
  const argv: Buffer[] = new Array<Buffer>(argc);
  for (let a = 0; a < argc; a++) {
    const len = r.length(0x24 /* $ */, a);
    let i = r.i;
    if (i + len + 2 > buf.length) r.fail(`bulk string ${a} of ${len} bytes runs past the end of the item`, i);
    argv[a] = buf.subarray(i, i + len);
    i += len;
    if (buf[i] !== 0x0d || buf[i + 1] !== 0x0a) r.fail(`bulk string ${a} not followed by CRLF`, i);
    r.i = i + 2;
  }
  if (r.i !== buf.length) r.fail(`${buf.length - r.i} bytes after the command array`, r.i);
  return argv;
}

/** `RespHeaders.length`'s header: the array's, else the index of the bulk string. */
const ARRAY = -1;

const headerName = (header: number): string => (header === ARRAY ? 'array' : `bulk string ${header}`);

/** The `*n` / `$n` header lines of one RESP command, read from `i` on. */
class RespHeaders {
  constructor(
    readonly buf: Buffer,
    public i: number,
    private readonly where: () => string,
  ) {}

  fail(msg: string, at: number): never {
    throw new CorruptionError(msg, `${this.where()} byte ${at}`);
  }

  /** The length in the header at `i`, which must start with `marker`; `i` moves past its CRLF. */
  length(marker: number, header: number): number {
    const buf = this.buf;
    let i = this.i;
    if (i >= buf.length) this.fail(`content ends where ${headerName(header)} header was expected`, i);
    if (buf[i] !== marker) this.fail(`expected '${String.fromCharCode(marker)}' for ${headerName(header)}, found 0x${buf[i].toString(16).padStart(2, '0')}`, i);
    const at = i;
    i++;
    let n = 0;
    let digits = 0;
    while (i < buf.length && buf[i] >= 0x30 && buf[i] <= 0x39) {
      n = n * 10 + (buf[i] - 0x30);
      if (n > 0xffffffff) this.fail(`${headerName(header)} length too large`, at);
      digits++;
      i++;
    }
    if (digits === 0) this.fail(`${headerName(header)} length has no digits`, at);
    if (buf[i] !== 0x0d || buf[i + 1] !== 0x0a) this.fail(`${headerName(header)} length not terminated by CRLF`, i);
    this.i = i + 2;
    return n;
  }
}

export interface EncodeBinlogItemInput extends BinlogItemHeader {
  readonly argv: ReadonlyArray<Buffer | string>;
}

/** Encodes an item as Pika's `PikaBinlogTransverter::BinlogEncode` does (header + RESP array). */
export function encodeBinlogItem(input: EncodeBinlogItemInput): Buffer {
  return encodeItemWithContent(input, encodeRespCommand(input.argv));
}

/** Serialises argv as a RESP array of bulk strings. */
export function encodeRespCommand(argv: ReadonlyArray<Buffer | string>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${argv.length}\r\n`)];
  for (const a of argv) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
  }
  return Buffer.concat(parts);
}

const CRLF = Buffer.from('\r\n');
const PADDING_PROTOCOL_SIZE = 22; // "*2\r\n$7\r\npadding\r\n$" + "\r\n" + "\r\n"
const PADDING_LENGTH_DIGITS = 5;

/**
 * A padding item of exactly `size` bytes (header included), as a Pika replica writes them after a
 * full sync: every header field 0 but type and content_length, argument length zero-padded to
 * five digits (`$00123`).
 */
export function encodePaddingItem(size: number): Buffer {
  const stars = size - BINLOG_ITEM_HEADER_LEN - PADDING_PROTOCOL_SIZE - PADDING_LENGTH_DIGITS;
  if (stars < 0 || String(stars).length > PADDING_LENGTH_DIGITS) throw new RangeError(`no padding item has ${size} bytes`);
  const content = Buffer.concat([
    Buffer.from(`*2\r\n$7\r\npadding\r\n$${String(stars).padStart(PADDING_LENGTH_DIGITS, '0')}\r\n`),
    Buffer.alloc(stars, '*'),
    CRLF,
  ]);
  return encodeItemWithContent({ execTime: 0, termOrServerId: 0, logicId: 0n, headerPos: { filenum: 0, offset: 0 } }, content);
}

function encodeItemWithContent(h: BinlogItemHeader, content: Buffer): Buffer {
  const head = Buffer.alloc(BINLOG_ITEM_HEADER_LEN);
  head.writeUInt16LE(BINLOG_ITEM_TYPE, 0);
  head.writeUInt32LE(h.execTime >>> 0, 2);
  head.writeUInt32LE(h.termOrServerId >>> 0, 6);
  head.writeBigUInt64LE(h.logicId, 10);
  head.writeUInt32LE(h.headerPos.filenum >>> 0, 18);
  head.writeBigUInt64LE(BigInt(h.headerPos.offset), 22);
  head.writeUInt32LE(content.length, 30);
  return Buffer.concat([head, content]);
}
