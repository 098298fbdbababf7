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
 * `db0 item ending at 3:1104`); every error adds the byte offset inside the item.
 */
export function decodeBinlogItem(buf: Buffer, db: number, end: BinlogPosition, where: string): BinlogEntry {
  if (buf.length < BINLOG_ITEM_HEADER_LEN) {
    throw new CorruptionError(`binlog item of ${buf.length} bytes is shorter than its ${BINLOG_ITEM_HEADER_LEN}-byte header`, `${where} byte 0`);
  }
  const type = buf.readUInt16LE(0);
  if (type !== BINLOG_ITEM_TYPE) {
    throw new CorruptionError(`binlog item type ${type}, expected ${BINLOG_ITEM_TYPE}`, `${where} byte 0`);
  }
  const contentLength = buf.readUInt32LE(30);
  if (contentLength !== buf.length - BINLOG_ITEM_HEADER_LEN) {
    throw new CorruptionError(
      `content_length ${contentLength} but ${buf.length - BINLOG_ITEM_HEADER_LEN} content bytes follow the header`,
      `${where} byte 30`,
    );
  }
  const argv = parseRespCommand(buf, BINLOG_ITEM_HEADER_LEN, where);
  return {
    db,
    execTime: buf.readUInt32LE(2),
    termOrServerId: buf.readUInt32LE(6),
    logicId: buf.readBigUInt64LE(10),
    headerPos: { filenum: buf.readUInt32LE(18), offset: Number(buf.readBigUInt64LE(22)) },
    argv,
    end,
  };
}

/**
 * Parses `buf[start..]` as exactly one RESP array of bulk strings, nothing before or after it.
 * Lengths may carry leading zeros: Pika's padding items write `$00123` (§5.4).
 */
export function parseRespCommand(buf: Buffer, start: number, where: string): Buffer[] {
  let i = start;
  const fail = (msg: string, at: number): never => {
    throw new CorruptionError(msg, `${where} byte ${at}`);
  };
  const readLength = (marker: number, what: string): number => {
    if (i >= buf.length) fail(`content ends where ${what} header was expected`, i);
    if (buf[i] !== marker) fail(`expected '${String.fromCharCode(marker)}' for ${what}, found 0x${buf[i].toString(16).padStart(2, '0')}`, i);
    const at = i;
    i++;
    let n = 0;
    let digits = 0;
    while (i < buf.length && buf[i] >= 0x30 && buf[i] <= 0x39) {
      n = n * 10 + (buf[i] - 0x30);
      if (n > 0xffffffff) fail(`${what} length too large`, at);
      digits++;
      i++;
    }
    if (digits === 0) fail(`${what} length has no digits`, at);
    if (buf[i] !== 0x0d || buf[i + 1] !== 0x0a) fail(`${what} length not terminated by CRLF`, i);
    i += 2;
    return n;
  };

  const argc = readLength(0x2a /* * */, 'array');
  if (argc === 0) fail('empty command array', start);
  // Each bulk string takes at least 6 bytes ("$0\r\n\r\n"): refuse counts the content cannot hold.
  if (argc * 6 > buf.length - i) fail(`array claims ${argc} elements, more than the content can hold`, start);
  const argv: Buffer[] = new Array<Buffer>(argc);
  for (let a = 0; a < argc; a++) {
    const len = readLength(0x24 /* $ */, `bulk string ${a}`);
    if (i + len + 2 > buf.length) fail(`bulk string ${a} of ${len} bytes runs past the end of the item`, i);
    argv[a] = buf.subarray(i, i + len);
    i += len;
    if (buf[i] !== 0x0d || buf[i + 1] !== 0x0a) fail(`bulk string ${a} not followed by CRLF`, i);
    i += 2;
  }
  if (i !== buf.length) fail(`${buf.length - i} bytes after the command array`, i);
  return argv;
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
