/**
 * Block contents (storage.md §3.6.4): prefix-compressed entries, a restart array and a footer
 * word. One iterator class serves data, metaindex and properties blocks (values length-prefixed)
 * and index blocks (block handles, optionally value-delta-encoded, optionally with first keys).
 */
import { CorruptionError } from '../../../core/errors.js';
import { BLOCK_TRAILER_SIZE } from './format.js';

export interface BlockIterOptions {
  /** Index block with `index.value.is.delta.encoded`: no value length, handles delta-coded. */
  readonly deltaHandles?: boolean;
  /** Index block: values are handles (decoded into handleOffset/handleSize). */
  readonly handles?: boolean;
  /** Index type 3 (binary search with first key): a length-prefixed first key follows the handle. */
  readonly firstKey?: boolean;
}

/** Compares the key in buf[start, start+len) with a seek target: < 0 when the key sorts first. */
export type KeyVsTarget = (buf: Buffer, start: number, len: number) => number;

export class BlockIter {
  readonly block: Buffer;
  private readonly restartsOff: number;
  private readonly numRestarts: number;
  private nextPos = 0;
  private readonly deltaHandles: boolean;
  private readonly handles: boolean;
  private readonly firstKey: boolean;
  /** Current key in key[0, klen) (a scratch buffer reused between entries). */
  key: Buffer = Buffer.allocUnsafe(64);
  klen = 0;
  valStart = 0;
  valEnd = 0;
  handleOffset = 0;
  handleSize = 0;

  constructor(
    block: Buffer,
    private readonly file: string,
    private readonly blockOffset: number,
    opts: BlockIterOptions = {},
  ) {
    this.block = block;
    this.deltaHandles = opts.deltaHandles ?? false;
    this.handles = opts.handles ?? this.deltaHandles;
    this.firstKey = opts.firstKey ?? false;
    if (block.length < 4) this.fail('block shorter than its footer', 0);
    const footer = block.readUInt32LE(block.length - 4);
    let end = block.length - 4;
    if (footer & 0x80000000) {
      // data-block hash index: buckets (1 byte each) then num_buckets:u16 before the footer word
      if (end < 2) this.fail('block too short for its hash index', 0);
      const numBuckets = block.readUInt16LE(end - 2);
      end -= 2 + numBuckets;
    }
    this.numRestarts = footer & 0x7fffffff;
    this.restartsOff = end - this.numRestarts * 4;
    if (this.restartsOff < 0) this.fail(`restart array of ${this.numRestarts} entries does not fit the block`, 0);
  }

  fail(msg: string, at: number): never {
    throw new CorruptionError(msg, `${this.file}@${this.blockOffset}+${at}`);
  }

  /** Moves to the next entry; false at the end of the block. */
  next(): boolean {
    let p = this.nextPos;
    const limit = this.restartsOff;
    if (p >= limit) return false;
    const b = this.block;
    let shared: number;
    let nonShared: number;
    let vlen = 0;
    const entryAt = p;
    if (this.deltaHandles) {
      shared = b[p];
      nonShared = b[p + 1];
      if ((shared | nonShared) < 128 && p + 2 <= limit) p += 2;
      else {
        p = this.varint(p);
        shared = V;
        p = this.varint(p);
        nonShared = V;
      }
    } else {
      shared = b[p];
      nonShared = b[p + 1];
      vlen = b[p + 2];
      if ((shared | nonShared | vlen) < 128 && p + 3 <= limit) p += 3;
      else {
        p = this.varint(p);
        shared = V;
        p = this.varint(p);
        nonShared = V;
        p = this.varint(p);
        vlen = V;
      }
    }
    if (shared > this.klen || p + nonShared > limit) {
      this.fail(`bad entry (shared ${shared}, non-shared ${nonShared}, key so far ${this.klen})`, entryAt);
    }
    const klen = shared + nonShared;
    if (klen > this.key.length) {
      const nk = Buffer.allocUnsafe(Math.max(klen, this.key.length * 2));
      this.key.copy(nk, 0, 0, shared);
      this.key = nk;
    }
    const key = this.key;
    // A JS loop beats the native copy well past the length of most keys (4.0 meta keys: ~30 new bytes each).
    if (nonShared < 64) {
      for (let i = 0; i < nonShared; i++) key[shared + i] = b[p + i];
    } else {
      b.copy(key, shared, p, p + nonShared);
    }
    this.klen = klen;
    p += nonShared;
    if (this.deltaHandles) {
      this.valStart = p;
      if (shared === 0) {
        p = this.varint(p);
        this.handleOffset = V;
        p = this.varint(p);
        this.handleSize = V;
      } else {
        p = this.varint(p);
        const z = V;
        const delta = z % 2 === 0 ? z / 2 : -(z + 1) / 2;
        this.handleOffset = this.handleOffset + this.handleSize + BLOCK_TRAILER_SIZE;
        this.handleSize = this.handleSize + delta;
      }
      if (this.firstKey) {
        p = this.varint(p);
        p += V;
      }
      if (p > limit) this.fail('index value runs past the entries', entryAt);
      this.valEnd = p;
    } else {
      if (p + vlen > limit) this.fail(`value of ${vlen} bytes runs past the entries`, entryAt);
      this.valStart = p;
      this.valEnd = p + vlen;
      if (this.handles) {
        let q = this.varint(p);
        this.handleOffset = V;
        q = this.varint(q);
        this.handleSize = V;
        if (q > p + vlen) this.fail('index value shorter than its block handle', entryAt);
      }
      p += vlen;
    }
    this.nextPos = p;
    return true;
  }

  /** Decodes a varint at p (≤ 2^53) into V; returns the position after it. */
  private varint(p: number): number {
    const b = this.block;
    const limit = this.restartsOff;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= limit) this.fail('varint runs past the entries', p);
      const x = b[p++];
      result += (x & 0x7f) * mul;
      if (x < 0x80) {
        V = result;
        return p;
      }
      mul *= 128;
    }
    return this.fail('varint longer than 10 bytes', p);
  }

  /** Value of the current entry as a view into the block. */
  value(): Buffer {
    return this.block.subarray(this.valStart, this.valEnd);
  }

  /** Copy of the current key. */
  keyCopy(): Buffer {
    return Buffer.from(this.key.subarray(0, this.klen));
  }

  private restartOffset(i: number): number {
    const r = this.block.readUInt32LE(this.restartsOff + 4 * i);
    if (r >= this.restartsOff) this.fail(`restart point ${i} (${r}) lies past the entries`, this.restartsOff + 4 * i);
    return r;
  }

  /**
   * Positions on the first entry whose key is ≥ the target (per `cmp`); false if there is none.
   * Uses the restart array (keys at restart points are stored whole).
   */
  seek(cmp: KeyVsTarget): boolean {
    let lo = 0;
    let hi = this.numRestarts - 1;
    // find the last restart point whose key is < target
    let start = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const off = this.restartOffset(mid);
      let p = off;
      p = this.varint(p);
      const shared = V;
      p = this.varint(p);
      const nonShared = V;
      if (!this.deltaHandles) p = this.varint(p);
      if (shared !== 0 || p + nonShared > this.restartsOff) this.fail('bad restart entry', off);
      if (cmp(this.block, p, nonShared) < 0) {
        start = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    this.nextPos = this.numRestarts > 0 ? this.restartOffset(start) : this.restartsOff;
    this.klen = 0;
    while (this.next()) {
      if (cmp(this.key, 0, this.klen) >= 0) return true;
    }
    return false;
  }

  /** Restarts iteration from the first entry. */
  rewind(): void {
    this.nextPos = 0;
    this.klen = 0;
  }
}

/** Scratch for varint results (single-threaded; read right after each call). */
let V = 0;

/** Decodes a whole small block (metaindex, properties) into a name → value map. */
export function readNamedEntries(block: Buffer, file: string, blockOffset: number): Map<string, Buffer> {
  const it = new BlockIter(block, file, blockOffset);
  const out = new Map<string, Buffer>();
  while (it.next()) out.set(it.key.toString('latin1', 0, it.klen), it.value());
  return out;
}
