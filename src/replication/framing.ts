import { CorruptionError } from '../core/errors.js';
import { noteShortLivedBytes } from '../core/gc-pacing.js';

/**
 * Pika's frame (spec §2.1): a 4-byte big-endian length, then that many bytes of protobuf. Same on
 * the replication port (P+2000) and on the C/D rsync service (P+10001).
 */

/** Pika's receiver drops the connection when `length + 4 >= 512 MiB` (kProtoMaxMessage). */
export const MAX_FRAME_BODY = 512 * 1024 * 1024 - 4 - 1;

export function encodeFrame(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
}

/** A frame body with the byte offset of its length prefix in the stream (for error messages). */
export interface Frame {
  readonly body: Buffer;
  readonly streamOffset: number;
}

/**
 * Bytes [at, at + part.length) of the body of a frame of `length` bytes, handed on as they arrive
 * (FrameDecoder's `partsFrom`). `part` is a view of a socket read.
 */
export interface FramePart {
  readonly part: Buffer;
  readonly at: number;
  readonly length: number;
  readonly streamOffset: number;
}

/** A frame joined from this many bytes or more is reported to core/gc-pacing.ts. */
export const LARGE_FRAME = 256 << 10;

/**
 * Splits a byte stream into frames. Bodies arrive split over any number of TCP segments (3.5.5
 * writes the length and the body as two segments). Memory holds at most one frame: chunks are
 * kept as they come and joined only when the frame is complete, except a frame of LARGE_FRAME
 * bytes or more, which is copied into a buffer of its own as it arrives, so that its socket reads
 * (160 of them for a 10 MiB frame of 1 MiB values) die young instead of all living until the join.
 * With `partsFrom`, such a body is not held at all but handed on in parts (response-reader.ts).
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Stream offset of the first byte in `chunks`. */
  private base = 0;
  private need = -1;
  /** A large frame's body being filled, and how much of it has arrived. */
  private big: Buffer | null = null;
  private bigGot = 0;
  /** How much of a body handed on in parts has arrived; -1 when no such body is under way. */
  private partsGot = -1;

  /**
   * `partsFrom`: bodies of this many bytes or more are handed on in parts by `pushParts` instead of
   * being held whole (the replication link's 100-entry BinlogSync messages of large values).
   */
  constructor(
    private readonly streamName: string,
    private readonly maxBody: number = MAX_FRAME_BODY,
    private readonly partsFrom: number = Infinity,
  ) {}

  /** Bytes consumed from the stream so far (complete frames only). */
  get consumed(): number {
    return this.base;
  }

  /** Bytes held of a frame not yet complete. */
  get pending(): number {
    return this.buffered + this.bigGot;
  }

  /** Whole frames; only for a decoder without `partsFrom`. */
  push(chunk: Buffer): Frame[] {
    return this.pushParts(chunk) as Frame[];
  }

  /** Whole frames, and parts of the bodies of `partsFrom` bytes or more, in stream order. */
  pushParts(chunk: Buffer): Array<Frame | FramePart> {
    const out: Array<Frame | FramePart> = [];
    if (this.partsGot >= 0) {
      chunk = this.passPart(chunk, out);
      if (this.partsGot >= 0) return out;
    }
    if (this.big !== null) {
      const n = Math.min(this.need - this.bigGot, chunk.length);
      chunk.copy(this.big, this.bigGot, 0, n);
      this.bigGot += n;
      if (this.bigGot < this.need) return out;
      out.push({ body: this.big, streamOffset: this.base });
      this.base += 4 + this.need;
      this.need = -1;
      this.big = null;
      this.bigGot = 0;
      chunk = chunk.subarray(n);
    }
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) break;
        const head = this.peek(4);
        const len = head.readUInt32BE(0);
        if (len > this.maxBody) {
          throw new CorruptionError(
            `frame length ${len} (0x${head.toString('hex')}) exceeds the limit of ${this.maxBody} bytes`,
            `${this.streamName} byte ${this.base}`,
          );
        }
        this.need = len;
        if (len >= this.partsFrom) {
          this.take(4);
          this.partsGot = 0;
          const held = this.chunks;
          this.chunks = [];
          this.buffered = 0;
          for (const c of held) {
            const rest = this.partsGot >= 0 ? this.passPart(c, out) : c;
            if (rest.length === 0) continue;
            this.chunks.push(rest);
            this.buffered += rest.length;
          }
          if (this.partsGot >= 0) break;
          continue;
        }
      }
      if (this.buffered < 4 + this.need) {
        if (this.need >= LARGE_FRAME) this.startBig();
        break;
      }
      const whole = this.take(4 + this.need);
      out.push({ body: whole.subarray(4), streamOffset: this.base });
      this.base += whole.length;
      this.need = -1;
    }
    return out;
  }

  /** Hands on the start of `chunk` as a part of the body under way; returns what is left of it. */
  private passPart(chunk: Buffer, out: Array<Frame | FramePart>): Buffer {
    const n = Math.min(this.need - this.partsGot, chunk.length);
    if (n > 0) out.push({ part: chunk.subarray(0, n), at: this.partsGot, length: this.need, streamOffset: this.base });
    this.partsGot += n;
    if (this.partsGot === this.need) {
      this.base += 4 + this.need;
      this.need = -1;
      this.partsGot = -1;
    }
    return chunk.subarray(n);
  }

  /** Moves what has arrived of a large frame's body into a buffer of its own (see the class comment). */
  private startBig(): void {
    this.take(4);
    const body = Buffer.allocUnsafeSlow(this.need);
    noteShortLivedBytes(this.need);
    let o = 0;
    for (const c of this.chunks) o += c.copy(body, o);
    this.chunks = [];
    this.buffered = 0;
    this.big = body;
    this.bigGot = o;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.subarray(0, n);
  }

  private take(n: number): Buffer {
    let out: Buffer;
    if (this.chunks[0].length >= n) {
      out = this.chunks[0].subarray(0, n);
      const rest = this.chunks[0].subarray(n);
      if (rest.length > 0) this.chunks[0] = rest;
      else this.chunks.shift();
    } else {
      const parts: Buffer[] = [];
      let got = 0;
      while (got < n) {
        const c = this.chunks[0];
        const want = n - got;
        if (c.length <= want) {
          parts.push(c);
          got += c.length;
          this.chunks.shift();
        } else {
          parts.push(c.subarray(0, want));
          this.chunks[0] = c.subarray(want);
          got += want;
        }
      }
      out = Buffer.concat(parts, n);
      // The joined frame and the socket reads it was joined from are garbage once it is handled.
      if (n >= LARGE_FRAME) noteShortLivedBytes(2 * n);
    }
    this.buffered -= n;
    return out;
  }
}

/** Where a FrameAssembler gets a frame's body buffer (at least `n` bytes) from. */
export type BodyAllocator = (n: number) => Buffer;

/**
 * Frames assembled by copying each read into the frame's own body buffer as it arrives, for a
 * stream read into one reused buffer (net.connect's `onread`) whose bodies come from a pool the
 * consumer gives back to. The C/D snapshot pull gets megabyte frames: with a fresh 64 KiB read
 * per packet and a concatenated body per frame, a 79 MB pull left as much dead external memory
 * behind, which V8 collects only once it passes its external limit (peak RSS +35 MB).
 * FrameDecoder stays for the replication link, where many small frames share a read and views of
 * it cost no copy.
 */
export class FrameAssembler {
  private readonly head = Buffer.alloc(4);
  private headGot = 0;
  private body: Buffer | null = null;
  private need = 0;
  private got = 0;
  private base = 0;

  constructor(
    private readonly streamName: string,
    private readonly alloc: BodyAllocator,
    private readonly maxBody: number = MAX_FRAME_BODY,
  ) {}

  /**
   * Takes bytes [0, n) of `chunk` (reused by the caller after this returns) and calls `onFrame`
   * with each completed body, a view of a buffer from `alloc` that is the consumer's from then on.
   */
  push(chunk: Buffer, n: number, onFrame: (body: Buffer, streamOffset: number) => void): void {
    let p = 0;
    while (p < n) {
      if (this.body === null) {
        const h = Math.min(4 - this.headGot, n - p);
        chunk.copy(this.head, this.headGot, p, p + h);
        this.headGot += h;
        p += h;
        if (this.headGot < 4) return;
        const len = this.head.readUInt32BE(0);
        if (len > this.maxBody) {
          throw new CorruptionError(
            `frame length ${len} (0x${this.head.toString('hex')}) exceeds the limit of ${this.maxBody} bytes`,
            `${this.streamName} byte ${this.base}`,
          );
        }
        this.body = this.alloc(len).subarray(0, len);
        this.need = len;
        this.got = 0;
      }
      const take = Math.min(this.need - this.got, n - p);
      chunk.copy(this.body, this.got, p, p + take);
      this.got += take;
      p += take;
      if (this.got === this.need) {
        const body = this.body;
        const at = this.base;
        this.base += 4 + this.need;
        this.body = null;
        this.headGot = 0;
        onFrame(body, at);
      }
    }
  }
}
