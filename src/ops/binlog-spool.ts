import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BinlogEntry, BinlogPosition } from '../core/binlog.js';
import { CorruptionError } from '../core/errors.js';

/**
 * Stop before the disk does: the spool takes no more entries when less than this would be left
 * (64 MiB, or a 16th of a smaller filesystem). Free space is checked every quarter of it.
 */
const DISK_RESERVE_BYTES = 64 * 1024 * 1024;

/** Why the spool stopped taking entries because of the disk: what was free, and what we keep free. */
export interface SpoolDiskFull {
  readonly freeBytes: number;
  readonly reserveBytes: number;
  /** The errno code when the disk itself refused a write (ENOSPC, EDQUOT); null: our own check stopped first. */
  readonly code: string | null;
}
// len, db, end (filenum, offset), header filenum, exec time, header offset, term/server id, logic id, argc
const HEADER = 4 + 4 + 4 + 8 + 4 + 4 + 8 + 4 + 8 + 4;

/**
 * The binlog received while a snapshot loads, on local disk: BinlogSync starts as soon as the
 * snapshot has arrived, so the master can be acked (and may purge) while a load of hours runs.
 * Append-only; an entry counts as spooled once fsynced (`durable`), and only that is acked. The
 * loader replays it in order once the snapshot is in Redis.
 *
 * Record (little-endian): u32 length of the rest ‖ db ‖ end filenum:u32, offset:u64 ‖ header filenum
 * ‖ exec time ‖ header offset:u64 ‖ term or server id ‖ logic id:u64 ‖ argc ‖ per argument u32 length, bytes.
 */
export class BinlogSpool {
  private fd: number;
  private size = 0;
  private dirty = false;
  private last: BinlogPosition | null = null;
  private synced: BinlogPosition | null = null;
  /** Spool size at which free space is checked next. */
  private nextDiskCheck = 0;
  private stoppedByDisk: SpoolDiskFull | null = null;
  private syncedBytes = 0;
  private closed = false;

  /** A new, empty spool at `path` (an old file there is replaced). */
  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    fd?: number,
  ) {
    this.fd = fd ?? openSync(path, 'w+');
  }

  /**
   * The spool of an interrupted load, to append to: `durableBytes` and `durable` are what a
   * checkpoint recorded as fsynced. Records after them (written, maybe acked, before the crash)
   * are kept when whole and readable; a torn last record is cut off. Fails with a CorruptionError
   * naming the file and offset when the file is shorter than the checkpoint says or a record after
   * that does not decode.
   */
  static reopen(path: string, maxBytes: number, durableBytes: number, durable: BinlogPosition | null): BinlogSpool {
    let fd: number;
    try {
      fd = openSync(path, 'r+');
    } catch (e) {
      throw new CorruptionError(`binlog spool cannot be opened: ${(e as Error).message}`, path);
    }
    const spool = new BinlogSpool(path, maxBytes, fd);
    try {
      const size = fstatSync(fd).size;
      if (size < durableBytes) throw new CorruptionError(`binlog spool holds ${size} bytes, the checkpoint says ${durableBytes} were fsynced`, path);
      // Reads may go up to the file's end while the whole records after the fsynced part are found.
      spool.size = size;
      spool.last = durable;
      let end = durableBytes;
      const head = Buffer.alloc(4);
      while (end + 4 <= size && readSync(fd, head, 0, 4, end) === 4) {
        const len = head.readUInt32LE(0);
        if (end + 4 + len > size) break;
        const { entries, next } = spool.readFrom(end, 4 + len);
        spool.last = entries[0].end;
        end = next;
      }
      spool.size = end;
      if (end < size) ftruncateSync(fd, end);
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    spool.synced = spool.last;
    spool.syncedBytes = spool.size;
    return spool;
  }

  /** Bytes spooled so far. */
  get bytes(): number {
    return this.size;
  }

  /** The end of the last entry on disk for sure (fsynced). */
  get durable(): BinlogPosition | null {
    return this.synced;
  }

  /** Bytes on disk for sure: the end of the record that ends at `durable`. */
  get durableBytes(): number {
    return this.syncedBytes;
  }

  /** Whether `spool-max-bytes` is reached: the caller then stops taking entries (acks stop). */
  get full(): boolean {
    return this.maxBytes > 0 && this.size >= this.maxBytes;
  }

  /** Set once the disk is (nearly) full: append takes no more entries from then on. */
  get diskFull(): SpoolDiskFull | null {
    return this.stoppedByDisk;
  }

  /**
   * Appends an entry; false when it was not appended because the disk is nearly full (less than
   * the reserve would be left) or refused the write (ENOSPC, EDQUOT). A refused write is cut off
   * again, so the spool keeps only whole entries; the caller keeps the entry and stops taking
   * more (acks stop, the master keeps the binlog).
   */
  append(entry: BinlogEntry): boolean {
    if (this.stoppedByDisk !== null) return false;
    const rec = encode(entry);
    if (this.size + rec.length >= this.nextDiskCheck) {
      const { free, reserve } = this.diskSpace();
      if (free - rec.length < reserve) {
        this.stoppedByDisk = { freeBytes: free, reserveBytes: reserve, code: null };
        return false;
      }
      this.nextDiskCheck = this.size + Math.max(1, Math.floor(reserve / 4));
    }
    let off = 0;
    try {
      while (off < rec.length) off += writeSync(this.fd, rec, off, rec.length - off, this.size + off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOSPC' && code !== 'EDQUOT') throw e;
      // Reads stop at `size` anyway; cutting the part-written record gives its blocks back.
      if (off > 0) ftruncateSync(this.fd, this.size);
      const { free, reserve } = this.diskSpace();
      this.stoppedByDisk = { freeBytes: free, reserveBytes: reserve, code };
      return false;
    }
    this.size += rec.length;
    this.last = entry.end;
    this.dirty = true;
    return true;
  }

  private diskSpace(): { free: number; reserve: number } {
    const st = statfsSync(dirname(this.path));
    return { free: st.bavail * st.bsize, reserve: Math.min(DISK_RESERVE_BYTES, Math.floor((st.blocks * st.bsize) / 16)) };
  }

  /** fsyncs what was appended; `durable` moves up to it. */
  sync(): void {
    if (!this.dirty || this.closed) return;
    fsyncSync(this.fd);
    this.dirty = false;
    this.synced = this.last;
    this.syncedBytes = this.size;
  }

  /** fsyncs and closes the file, which stays for a restart to resume from. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.sync();
    } finally {
      closeSync(this.fd);
    }
  }

  /** Reads entries from byte `from` up to what is appended now; returns them and where the next read starts. */
  readFrom(from: number, maxBytes = 1 << 20): { entries: BinlogEntry[]; next: number } {
    const entries: BinlogEntry[] = [];
    let pos = from;
    const want = Math.min(maxBytes, this.size - from);
    if (want <= 0) return { entries, next: from };
    const buf = Buffer.allocUnsafe(Math.max(want, HEADER));
    let got = 0;
    while (got < want) got += readSync(this.fd, buf, got, want - got, from + got);
    let o = 0;
    while (o + 4 <= got) {
      const len = buf.readUInt32LE(o);
      if (o + 4 + len > got) {
        if (o === 0) {
          // One record larger than the read: read it whole.
          const big = Buffer.allocUnsafe(4 + len);
          let n = 0;
          while (n < big.length) n += readSync(this.fd, big, n, big.length - n, from + n);
          entries.push(decode(big, 0, `${this.path}@${from}`));
          return { entries, next: from + big.length };
        }
        break;
      }
      entries.push(decode(buf, o, `${this.path}@${pos}`));
      o += 4 + len;
      pos = from + o;
    }
    return { entries, next: from + o };
  }

  /** Closes and deletes the file. */
  remove(): void {
    if (!this.closed) closeSync(this.fd);
    this.closed = true;
    rmSync(this.path, { force: true });
  }
}

function encode(e: BinlogEntry): Buffer {
  let n = HEADER;
  for (const a of e.argv) n += 4 + a.length;
  const b = Buffer.allocUnsafe(n);
  let o = b.writeUInt32LE(n - 4, 0);
  o = b.writeUInt32LE(e.db, o);
  o = b.writeUInt32LE(e.end.filenum, o);
  o = b.writeBigUInt64LE(BigInt(e.end.offset), o);
  o = b.writeUInt32LE(e.headerPos.filenum, o);
  o = b.writeUInt32LE(e.execTime >>> 0, o);
  o = b.writeBigUInt64LE(BigInt(e.headerPos.offset), o);
  o = b.writeUInt32LE(e.termOrServerId >>> 0, o);
  o = b.writeBigUInt64LE(e.logicId, o);
  o = b.writeUInt32LE(e.argv.length, o);
  for (const a of e.argv) {
    o = b.writeUInt32LE(a.length, o);
    o += a.copy(b, o);
  }
  return b;
}

function decode(b: Buffer, at: number, where: string): BinlogEntry {
  const len = b.readUInt32LE(at);
  const end = at + 4 + len;
  if (len + 4 < HEADER || end > b.length) throw new CorruptionError(`spool record of ${len} bytes does not fit`, where);
  let o = at + 4;
  const db = b.readUInt32LE(o);
  const endFile = b.readUInt32LE(o + 4);
  const endOff = Number(b.readBigUInt64LE(o + 8));
  const headFile = b.readUInt32LE(o + 16);
  const execTime = b.readUInt32LE(o + 20);
  const headOff = Number(b.readBigUInt64LE(o + 24));
  const termOrServerId = b.readUInt32LE(o + 32);
  const logicId = b.readBigUInt64LE(o + 36);
  const argc = b.readUInt32LE(o + 44);
  o += 48;
  const argv: Buffer[] = [];
  for (let i = 0; i < argc; i++) {
    if (o + 4 > end) throw new CorruptionError('spool record ends inside its arguments', where);
    const n = b.readUInt32LE(o);
    o += 4;
    if (o + n > end) throw new CorruptionError('spool argument runs past its record', where);
    argv.push(Buffer.from(b.subarray(o, o + n)));
    o += n;
  }
  return { db, execTime, termOrServerId, logicId, headerPos: { filenum: headFile, offset: headOff }, argv, end: { filenum: endFile, offset: endOff } };
}
