import { connect, type Socket } from 'node:net';
import { CorruptionError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { ResponseReader, type LinkItem } from './response-reader.js';
import { MsgType, decodeResponse, encodeRequest, type InnerRequest, type InnerResponse } from './messages.js';

/** The connection was closed (by either side, or because of a protocol error). */
export class LinkClosedError extends Error {
  override name = 'LinkClosedError';
}

/** Bytes of received frames the connection holds before it stops reading (one frame always fits). */
export const MAX_HELD_BYTES = 4 << 20;

/**
 * The replica's one connection to master P+2000. Responses are processed strictly in arrival order,
 * one at a time: BinlogSync messages go to `onBinlog` (which may return a promise — reading from the
 * socket pauses meanwhile, the master's window does the rest), replies to our requests go to the one
 * waiter of `expect`. A large BinlogSync message comes to `onBinlog` one element at a time, as its
 * bytes arrive (response-reader.ts); `endsMessage` tells the last one.
 */
export class ReplConnection {
  private socket: Socket | null = null;
  private readonly reader: ResponseReader;
  private queue: LinkItem[] = [];
  /** Bytes of the items in `queue`. */
  private queuedBytes = 0;
  private pumping = false;
  private waiters = new Map<number, { resolve: (r: InnerResponse) => void; reject: (e: Error) => void }>();
  private closeReason: Error | null = null;
  private closedResolve!: (e: Error) => void;
  /** Resolves (never rejects) with the reason once the connection is gone. */
  readonly closed: Promise<Error>;
  onBinlog: (r: InnerResponse, streamOffset: number, endsMessage: boolean) => void | Promise<void> = () => {};
  lastRecvAt = Date.now();
  lastSentAt = Date.now();
  bytesReceived = 0;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly logger: Logger,
    maxFrameBody?: number,
  ) {
    this.reader = new ResponseReader(`master ${host}:${port} stream`, maxFrameBody);
    this.closed = new Promise<Error>((r) => (this.closedResolve = r));
  }

  get name(): string {
    return `${this.host}:${this.port}`;
  }
  get isClosed(): boolean {
    return this.closeReason !== null;
  }
  get localAddress(): string | undefined {
    return this.socket?.localAddress;
  }
  /** The master's address as this connection reached it. */
  get remoteAddress(): string | undefined {
    return this.socket?.remoteAddress;
  }

  connect(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.host, port: this.port });
      s.setNoDelay(true);
      const timer = setTimeout(() => s.destroy(new Error(`connect timeout after ${timeoutMs} ms`)), timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        this.socket = s;
        resolve();
      });
      s.on('data', (chunk: Buffer) => this.onData(chunk));
      s.once('error', (e) => {
        clearTimeout(timer);
        const err = new LinkClosedError(`master ${this.name}: ${e.message}`);
        if (this.socket === null) reject(err);
        this.close(err);
      });
      s.once('close', () => this.close(new LinkClosedError(`master ${this.name} closed the connection`)));
    });
  }

  send(req: InnerRequest): void {
    if (this.socket === null || this.isClosed) return;
    this.socket.write(encodeRequest(req));
    this.lastSentAt = Date.now();
  }

  /** Waits for the next reply of `type` (not BinlogSync). Rejects on timeout or close. */
  expect(type: number, timeoutMs: number): Promise<InnerResponse> {
    if (this.closeReason) return Promise.reject(this.closeReason);
    return new Promise((resolve, reject) => {
      const prev = this.waiters.get(type);
      if (prev) prev.reject(new LinkClosedError(`a second wait for reply type ${type} replaced the first`));
      const timer = setTimeout(() => {
        this.waiters.delete(type);
        reject(new LinkClosedError(`no reply of type ${type} from master ${this.name} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(type, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  close(reason: Error = new LinkClosedError('closed by us')): void {
    if (this.closeReason) return;
    this.closeReason = reason;
    this.socket?.destroy();
    this.queue = [];
    this.queuedBytes = 0;
    const ws = [...this.waiters.values()];
    this.waiters.clear();
    for (const w of ws) w.reject(reason);
    this.closedResolve(reason);
  }

  private onData(chunk: Buffer): void {
    if (this.closeReason) return;
    this.lastRecvAt = Date.now();
    this.bytesReceived += chunk.length;
    try {
      for (const item of this.reader.push(chunk)) {
        this.queue.push(item);
        this.queuedBytes += itemBytes(item);
      }
    } catch (e) {
      this.logger.error({ err: e }, 'corrupt frame from the master');
      this.close(e as Error);
      return;
    }
    // While an item is being handled, stop reading once the items after it (and the start of the
    // next) hold too much: with 1 MiB values (10 MiB frames), 64 frames held 70 MB before the
    // count alone paused the socket.
    const busy = this.pumping || this.queue.length > 0;
    if (this.queue.length > 64 || (busy && this.queuedBytes + this.reader.pending > MAX_HELD_BYTES)) this.socket?.pause();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.closeReason) {
        const item = this.queue.shift()!;
        this.queuedBytes -= itemBytes(item);
        let r: InnerResponse;
        if (item.kind === 'element') {
          r = item.response;
        } else {
          try {
            r = decodeResponse(item.body, `master ${this.name} stream byte ${item.streamOffset}`);
          } catch (e) {
            this.logger.error({ err: e }, 'undecodable message from the master');
            this.close(e as Error);
            return;
          }
        }
        if (r.type === MsgType.BinlogSync) {
          try {
            const p = this.onBinlog(r, item.streamOffset, item.kind === 'frame' || item.endsMessage);
            if (p) await p;
          } catch (e) {
            if (!(e instanceof CorruptionError)) this.logger.error({ err: e }, 'failed handling a binlog message');
            this.close(e as Error);
            return;
          }
        } else if (this.waiters.has(r.type)) {
          const w = this.waiters.get(r.type)!;
          this.waiters.delete(r.type);
          w.resolve(r);
          // let the awaiting handshake step run before the next frame (e.g. store the session id)
          await new Promise((res) => setImmediate(res));
        } else {
          this.logger.warn({ type: r.type, code: r.code, reply: r.reply }, 'unexpected reply from the master ignored');
        }
      }
    } finally {
      this.pumping = false;
      if (this.queue.length === 0) this.socket?.resume();
    }
  }
}

function itemBytes(item: LinkItem): number {
  return item.kind === 'frame' ? item.body.length : item.bytes;
}
