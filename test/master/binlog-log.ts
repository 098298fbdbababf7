import type { BinlogPosition } from '../../src/core/binlog.js';
import { compareBinlogPositions } from '../../src/core/binlog.js';
import { encodeBinlogItem } from '../../src/replication/binlog-item.js';

/**
 * The fake master's binlog, in memory but record-accurate (spec §5.6): 64 KiB blocks, an 8-byte
 * physical-record header per fragment, zero fill when fewer than 8 bytes remain in a block, a new
 * file `write2file<N+1>` once the current one exceeds `fileSize`. Offsets are what a real master
 * would send; the item header names the producer position before the item.
 */
export const BLOCK_SIZE = 65536;
const RECORD_HEADER = 8;

export interface LoggedItem {
  readonly seq: number;
  /** Producer position written into the item header (before the item). */
  readonly headerPos: BinlogPosition;
  /** File the item physically lives in and where its first fragment starts. */
  readonly filenum: number;
  readonly start: number;
  readonly end: BinlogPosition;
  readonly logicId: bigint;
  readonly item: Buffer;
}

export interface BinlogLogOptions {
  /** Roll to a new file once the current one is larger than this (Pika default 100 MiB). */
  fileSize?: number;
  /** Header bytes 6–9: server-id 1 in A, term 0 in B–D. */
  termOrServerId?: number;
  /** Logic id of the first entry: 0 in A, 1 in C. */
  firstLogicId?: bigint;
  /** Start with this file number (e.g. after a simulated older history). */
  firstFile?: number;
}

/** Bytes a record of `len` payload bytes takes when written at `offset` of a file; returns the end offset. */
export function endAfter(offset: number, len: number): number {
  let p = offset;
  let left = len;
  let first = true;
  while (first || left > 0) {
    first = false;
    const leftover = BLOCK_SIZE - (p % BLOCK_SIZE);
    if (leftover < RECORD_HEADER) p += leftover;
    const avail = BLOCK_SIZE - (p % BLOCK_SIZE) - RECORD_HEADER;
    const frag = Math.min(left, avail);
    p += RECORD_HEADER + frag;
    left -= frag;
  }
  return p;
}

export class BinlogLog {
  private items: LoggedItem[] = [];
  /** seq of items[0]. */
  private firstSeq = 0;
  private nextSeq = 0;
  private files = new Set<number>();
  private cur: BinlogPosition;
  private nextLogicId: bigint;
  readonly fileSize: number;
  private readonly termOrServerId: number;

  constructor(opts: BinlogLogOptions = {}) {
    this.fileSize = opts.fileSize ?? 100 * 1024 * 1024;
    this.termOrServerId = opts.termOrServerId ?? 1;
    this.nextLogicId = opts.firstLogicId ?? 0n;
    const f = opts.firstFile ?? 0;
    this.cur = { filenum: f, offset: 0 };
    this.files.add(f);
  }

  /** Producer position: where the next item's header points. */
  get producer(): BinlogPosition {
    return this.cur;
  }

  get fileNumbers(): number[] {
    return [...this.files].sort((a, b) => a - b);
  }

  hasFile(n: number): boolean {
    return this.files.has(n);
  }

  append(argv: ReadonlyArray<Buffer | string>, execTime = Math.floor(Date.now() / 1000)): LoggedItem {
    const headerPos = this.cur;
    const item = encodeBinlogItem({ execTime, termOrServerId: this.termOrServerId, logicId: this.nextLogicId, headerPos, argv });
    let filenum = this.cur.filenum;
    let start = this.cur.offset;
    if (start > this.fileSize) {
      filenum += 1;
      start = 0;
      this.files.add(filenum);
    }
    const end = { filenum, offset: endAfter(start, item.length) };
    const logged: LoggedItem = { seq: this.nextSeq++, headerPos, filenum, start, end, logicId: this.nextLogicId, item };
    this.nextLogicId += 1n;
    this.items.push(logged);
    this.cur = end;
    return logged;
  }

  /** True when `p` is 0 or the end of an item in file `p.filenum` (a record boundary, §3.3). */
  isBoundary(p: BinlogPosition): boolean {
    if (p.offset === 0) return true;
    return this.items.some((it) => it.end.filenum === p.filenum && it.end.offset === p.offset);
  }

  /** Seq of the first item after position `p` (a validated boundary). */
  seqAfter(p: BinlogPosition): number {
    for (const it of this.items) {
      if (p.offset === 0 ? it.filenum >= p.filenum : compareBinlogPositions(it.end, p) > 0) return it.seq;
    }
    return this.nextSeq;
  }

  get(seq: number): LoggedItem | undefined {
    return this.items[seq - this.firstSeq];
  }

  get endSeq(): number {
    return this.nextSeq;
  }

  /** Deletes files numbered below `n` (never the current one). */
  purgeBelow(n: number): number[] {
    const gone = this.fileNumbers.filter((f) => f < n && f !== this.cur.filenum);
    for (const f of gone) this.files.delete(f);
    const keepFrom = this.items.findIndex((it) => this.files.has(it.filenum));
    const drop = keepFrom < 0 ? this.items.length : keepFrom;
    this.items.splice(0, drop);
    this.firstSeq += drop;
    return gone;
  }
}
