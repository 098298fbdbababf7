/**
 * RocksDB log files (MANIFEST and WAL, storage.md §3.3): 32 KiB blocks of physical records,
 * reassembled into logical records. Streams the file one block at a time.
 */
import { open } from 'node:fs/promises';
import { CorruptionError } from '../../core/errors.js';
import { crc32cExtend, maskCrc } from './coding.js';

export const LOG_BLOCK_SIZE = 32768;
const LEGACY_HEADER = 7;
const RECYCLABLE_HEADER = 11;

const enum RecordType {
  Zero = 0,
  Full = 1,
  First = 2,
  Middle = 3,
  Last = 4,
  RecyclableFull = 5,
  RecyclableFirst = 6,
  RecyclableMiddle = 7,
  RecyclableLast = 8,
  SetCompressionType = 9,
  UserDefinedTimestampSize = 10,
  RecyclableUserDefinedTimestampSize = 11,
}

export interface LogRecord {
  readonly data: Buffer;
  /** File offset of the record's first physical header. */
  readonly offset: number;
}

export interface LogReadOptions {
  /** What a record cut off by the end of the file means: the end of the log, or corruption. */
  truncatedTail: 'end' | 'error';
  /** What a bad checksum or broken fragment sequence means: the end of the log, or corruption. */
  corruption: 'end' | 'error';
  /** File number, checked against recyclable records (a mismatch = stale data = end of log). */
  logNumber?: number;
  /** Called when the log ends early ('end' mode): why, and the offset of the record that ended it. */
  onStop?(reason: string, at: number): void;
}

class EndOfLog {
  constructor(
    readonly reason: string,
    readonly at: number,
  ) {}
}

/** Yields the logical records of a log file in order. */
export async function* readLogRecords(path: string, opts: LogReadOptions): AsyncGenerator<LogRecord> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const block = Buffer.allocUnsafe(LOG_BLOCK_SIZE);
    let parts: Buffer[] | null = null;
    let partsOffset = 0;
    const fail = (msg: string, at: number): never => {
      if (opts.corruption === 'end') throw new EndOfLog(msg, at);
      throw new CorruptionError(msg, `${path}@${at}`);
    };
    try {
      for (let blockStart = 0; blockStart < size; blockStart += LOG_BLOCK_SIZE) {
        const want = Math.min(LOG_BLOCK_SIZE, size - blockStart);
        const { bytesRead } = await fh.read(block, 0, want, blockStart);
        if (bytesRead !== want) throw new CorruptionError('short read', `${path}@${blockStart + bytesRead}`);
        const lastBlock = blockStart + want >= size;
        let pos = 0;
        while (pos + LEGACY_HEADER <= want) {
          const at = blockStart + pos;
          const type = block[pos + 6];
          const length = block.readUInt16LE(pos + 4);
          if (type === RecordType.Zero && length === 0) break; // preallocated/padding: rest of block unused
          const recyclable = type >= RecordType.RecyclableFull && type <= RecordType.RecyclableLast;
          const headerSize =
            recyclable || type === RecordType.RecyclableUserDefinedTimestampSize ? RECYCLABLE_HEADER : LEGACY_HEADER;
          if (pos + headerSize + length > want) {
            if (lastBlock && want < LOG_BLOCK_SIZE) {
              // a torn write at the end of the file
              const msg = `record of ${length} bytes cut off by the end of the file`;
              if (opts.truncatedTail === 'end') throw new EndOfLog(msg, at);
              throw new CorruptionError(msg, `${path}@${at}`);
            }
            fail(`record of ${length} bytes crosses a block boundary`, at);
          }
          const stored = block.readUInt32LE(pos);
          const actual = maskCrc(crc32cExtend(0, block, pos + 6, pos + headerSize + length));
          if (stored !== actual) {
            fail(`log record checksum mismatch (stored ${hex(stored)}, computed ${hex(actual)})`, at);
          }
          if (headerSize === RECYCLABLE_HEADER && opts.logNumber !== undefined) {
            const recNumber = block.readUInt32LE(pos + 7);
            // stale data of a recycled file
            if (recNumber !== opts.logNumber % 0x100000000) throw new EndOfLog(`record of recycled log ${recNumber}`, at);
          }
          const payload = block.subarray(pos + headerSize, pos + headerSize + length);
          pos += headerSize + length;
          switch (type) {
            case RecordType.Full:
            case RecordType.RecyclableFull:
              if (parts) fail('full record inside a fragmented record', at);
              yield { data: Buffer.from(payload), offset: at };
              break;
            case RecordType.First:
            case RecordType.RecyclableFirst:
              if (parts) fail('first fragment inside a fragmented record', at);
              parts = [Buffer.from(payload)];
              partsOffset = at;
              break;
            case RecordType.Middle:
            case RecordType.RecyclableMiddle:
              if (!parts) fail('middle fragment without a first fragment', at);
              else parts.push(Buffer.from(payload));
              break;
            case RecordType.Last:
            case RecordType.RecyclableLast:
              if (!parts) fail('last fragment without a first fragment', at);
              else {
                parts.push(Buffer.from(payload));
                const data = Buffer.concat(parts);
                parts = null;
                yield { data, offset: partsOffset };
              }
              break;
            case RecordType.SetCompressionType:
              throw new CorruptionError('WAL compression (record type 9) is not supported', `${path}@${at}`);
            case RecordType.UserDefinedTimestampSize:
            case RecordType.RecyclableUserDefinedTimestampSize:
              break;
            default:
              fail(`unknown log record type ${type}`, at);
          }
        }
        // Fewer bytes than a header left at the end of the file: a header cut off (a block's unused
        // tail is only padding when the block is whole).
        if (lastBlock && want < LOG_BLOCK_SIZE && pos < want && want - pos < LEGACY_HEADER && block.subarray(pos, want).some((b) => b !== 0)) {
          const msg = `record header cut off by the end of the file (${want - pos} bytes)`;
          if (opts.truncatedTail === 'end') throw new EndOfLog(msg, blockStart + pos);
          throw new CorruptionError(msg, `${path}@${blockStart + pos}`);
        }
      }
      if (parts) {
        const msg = 'fragmented record cut off by the end of the file';
        if (opts.truncatedTail === 'error') throw new CorruptionError(msg, `${path}@${partsOffset}`);
        throw new EndOfLog(msg, partsOffset);
      }
    } catch (e) {
      if (!(e instanceof EndOfLog)) throw e;
      opts.onStop?.(e.reason, e.at);
    }
  } finally {
    await fh.close();
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
