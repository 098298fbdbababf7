import { CorruptionError } from '../core/errors.js';
import { noteShortLivedBytes } from '../core/gc-pacing.js';
import { FrameDecoder, LARGE_FRAME } from './framing.js';
import { MsgType, decodeBinlogSyncElement, type InnerResponse } from './messages.js';

/**
 * What the replication link reads, in stream order: a frame to decode whole, or one element of a
 * large BinlogSync message, decoded as soon as its bytes are in. A master catching up sends up to
 * 100 entries per message (replication.md, kBinlogSendBatchNum): with 1 MiB values that is a 100
 * MiB frame, which read whole took the daemon to 210 MB. Element by element, the link holds one
 * entry being read plus what it reads ahead (repl-connection.ts's MAX_HELD_BYTES).
 */
export type LinkItem =
  | { readonly kind: 'frame'; readonly body: Buffer; readonly streamOffset: number }
  | {
      readonly kind: 'element';
      /** The message's type, code and reply, with this one element as its `binlog_sync`. */
      readonly response: InnerResponse;
      /** Of the element's field in the stream, for error messages. */
      readonly streamOffset: number;
      readonly bytes: number;
      /** The element is the last bytes of its message: what the replica does once per message is due. */
      readonly endsMessage: boolean;
    };

/** Splits the master's stream into LinkItems: frames under LARGE_FRAME whole, larger ones as they arrive. */
export class ResponseReader {
  private readonly frames: FrameDecoder;
  private message: StreamedResponse | null = null;

  constructor(
    private readonly streamName: string,
    maxBody?: number,
  ) {
    this.frames = new FrameDecoder(streamName, maxBody, LARGE_FRAME);
  }

  /** Bytes held of a frame or element not yet complete. */
  get pending(): number {
    return this.frames.pending + (this.message?.held ?? 0);
  }

  push(chunk: Buffer): LinkItem[] {
    const out: LinkItem[] = [];
    for (const f of this.frames.pushParts(chunk)) {
      if ('body' in f) {
        out.push({ kind: 'frame', body: f.body, streamOffset: f.streamOffset });
        continue;
      }
      if (f.at === 0) this.message = new StreamedResponse(f.length, f.streamOffset, this.streamName);
      const m = this.message!;
      m.push(f.part, out);
      if (f.at + f.part.length === f.length) {
        this.message = null;
        m.end(out);
      }
    }
    return out;
  }
}

const enum Step {
  Tag,
  Varint,
  Length,
  Bytes,
}

/** InnerResponse's fields that a streamed BinlogSync message keeps (schema.ts): the rest are skipped. */
const TYPE = 1;
const CODE = 2;
const REPLY = 3;
const BINLOG_SYNC = 7;

/**
 * One InnerResponse body read as it arrives. A BinlogSync message, whose first bytes are its type
 * (`08 04`, as Pika's C++ encoder writes fields in number order), is scanned field by field and
 * each `binlog_sync` element handed on once complete; any other message is held and handed on
 * whole, to be decoded like a small frame.
 */
class StreamedResponse {
  private mode: 'deciding' | 'elements' | 'whole' = 'deciding';
  private head: Buffer[] = [];
  private headBytes = 0;
  private whole: Buffer | null = null;
  private wholeGot = 0;
  /** Body bytes scanned so far. */
  private pos = 0;
  private step = Step.Tag;
  private varint = 0;
  private varintBytes = 0;
  private field = 0;
  private fieldAt = 0;
  /** Bytes of the current length-delimited or fixed-size field still to come. */
  private left = 0;
  /** That field's bytes, when kept (reply, binlog_sync); null when skipped. */
  private value: Buffer | null = null;
  private valueGot = 0;
  private code: number | undefined;
  private reply: string | undefined;

  constructor(
    private readonly length: number,
    private readonly frameOffset: number,
    private readonly streamName: string,
  ) {}

  get held(): number {
    return this.headBytes + this.wholeGot + this.valueGot;
  }

  push(part: Buffer, out: LinkItem[]): void {
    if (this.mode === 'elements') return this.scan(part, out);
    if (this.mode === 'whole') return this.fill(part);
    this.head.push(part);
    this.headBytes += part.length;
    if (this.headBytes < 2) return;
    const first = this.head.length === 1 ? part : Buffer.concat(this.head);
    const parts = this.head;
    this.head = [];
    this.headBytes = 0;
    if (first[0] === 0x08 && first[1] === MsgType.BinlogSync) {
      this.mode = 'elements';
      for (const p of parts) this.scan(p, out);
    } else {
      this.mode = 'whole';
      this.whole = Buffer.allocUnsafeSlow(this.length);
      for (const p of parts) this.fill(p);
    }
  }

  end(out: LinkItem[]): void {
    if (this.mode === 'whole') {
      out.push({ kind: 'frame', body: this.whole!, streamOffset: this.frameOffset });
      this.whole = null;
      this.wholeGot = 0;
      return;
    }
    if (this.step !== Step.Tag || this.varintBytes !== 0) throw this.corrupt(`the message ends inside field ${this.field}`);
  }

  private fill(part: Buffer): void {
    part.copy(this.whole!, this.wholeGot);
    this.wholeGot += part.length;
    noteShortLivedBytes(part.length);
  }

  private scan(part: Buffer, out: LinkItem[]): void {
    let p = 0;
    for (;;) {
      if (this.step === Step.Bytes) {
        const n = Math.min(this.left, part.length - p);
        if (this.value !== null) {
          part.copy(this.value, this.valueGot, p, p + n);
          // Noted as the socket's reads are copied, which is when they die: noted once at the
          // allocation, the GC came before any had, and a 48 MiB entry left 48 MB of them behind.
          if (this.value.length >= LARGE_FRAME) noteShortLivedBytes(n);
        }
        this.valueGot += n;
        p += n;
        this.pos += n;
        this.left -= n;
        if (this.left > 0) return;
        this.fieldDone(out);
        continue;
      }
      if (p === part.length) return;
      const b = part[p++];
      if (this.step === Step.Tag && this.varintBytes === 0) this.fieldAt = this.pos;
      this.pos++;
      this.varint += (b & 0x7f) * 2 ** (7 * this.varintBytes);
      this.varintBytes++;
      if (b & 0x80) {
        if (this.varintBytes === 10) throw this.corrupt('a varint longer than 10 bytes');
        continue;
      }
      const v = this.varint;
      this.varint = 0;
      this.varintBytes = 0;
      if (this.step === Step.Tag) this.onTag(v);
      else if (this.step === Step.Length) this.startBytes(v, this.field === REPLY || this.field === BINLOG_SYNC);
      else this.onVarint(v);
    }
  }

  private onTag(tag: number): void {
    this.field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (this.field === 0) throw this.corrupt('field number 0');
    if (wire === 0) this.step = Step.Varint;
    else if (wire === 2) this.step = Step.Length;
    else if (wire === 1) this.startBytes(8, false);
    else if (wire === 5) this.startBytes(4, false);
    else throw this.corrupt(`wire type ${wire} in field ${this.field}`);
  }

  private onVarint(v: number): void {
    this.step = Step.Tag;
    if (this.field === TYPE && v !== MsgType.BinlogSync) throw this.corrupt(`a second type, ${v}, in a BinlogSync message`);
    if (this.field === CODE) this.code = v;
  }

  private startBytes(n: number, keep: boolean): void {
    if (n > this.length - this.pos) throw this.corrupt(`field ${this.field} of ${n} bytes runs past the end of the ${this.length}-byte message`);
    this.step = Step.Bytes;
    this.left = n;
    this.valueGot = 0;
    this.value = null;
    if (!keep) return;
    this.value = n >= LARGE_FRAME ? Buffer.allocUnsafeSlow(n) : Buffer.allocUnsafe(n);
  }

  private fieldDone(out: LinkItem[]): void {
    this.step = Step.Tag;
    const v = this.value;
    this.value = null;
    this.valueGot = 0;
    if (v === null) return;
    if (this.field === REPLY) {
      this.reply = v.toString('utf8');
      return;
    }
    // Pika writes code (field 2) first; without it, what the element means is unknown.
    if (this.code === undefined) throw this.corrupt('a binlog_sync element before the message code');
    const el = decodeBinlogSyncElement(v, this.where(this.fieldAt));
    const response: InnerResponse = { type: MsgType.BinlogSync, code: this.code, binlog_sync: [el] };
    if (this.reply !== undefined) response.reply = this.reply;
    out.push({ kind: 'element', response, streamOffset: this.frameOffset + 4 + this.fieldAt, bytes: v.length, endsMessage: this.pos === this.length });
  }

  private where(bodyOffset: number): string {
    return `${this.streamName} byte ${this.frameOffset + 4 + bodyOffset}`;
  }

  private corrupt(what: string): CorruptionError {
    return new CorruptionError(`BinlogSync message of ${this.length} bytes at byte ${this.frameOffset}: ${what}`, this.where(this.fieldAt));
  }
}
