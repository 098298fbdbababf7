import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import type { RedisCommand } from '../core/command.js';
import { writeChunks } from './raw-write.js';
import { encodeCommands } from './resp.js';

/** An error reply of Redis, named as ioredis names them so the sender tells it from a lost reply. */
export class WireReplyError extends Error {
  override readonly name = 'ReplyError';
}

const CRLF = 0x0d;

/** End of the line starting at `i` (the index of its `\r`), or -1 when it has not all arrived. */
function lineEnd(buf: Buffer, i: number): number {
  const e = buf.indexOf(CRLF, i);
  return e < 0 || e + 1 >= buf.length ? -1 : e;
}

/**
 * Skips one RESP2 reply at `i`: the offset after it and its error (or null), or null when it has
 * not all arrived. Values are not kept: a write batch only needs to know which commands failed.
 */
function skipReply(buf: Buffer, i: number): { end: number; err: Error | null } | null {
  if (i >= buf.length) return null;
  const e = lineEnd(buf, i + 1);
  if (e < 0) return null;
  const t = buf[i];
  if (t === 0x2b /* + */ || t === 0x3a /* : */) return { end: e + 2, err: null };
  if (t === 0x2d /* - */) return { end: e + 2, err: new WireReplyError(buf.toString('utf8', i + 1, e)) };
  const n = Number(buf.toString('latin1', i + 1, e));
  if (t === 0x24 /* $ */) {
    if (n < 0) return { end: e + 2, err: null };
    const end = e + 2 + n + 2;
    return end > buf.length ? null : { end, err: null };
  }
  if (t === 0x2a /* * */) {
    let at = e + 2;
    for (let k = 0; k < n; k++) {
      const r = skipReply(buf, at);
      if (r === null) return null;
      at = r.end;
    }
    return { end: at, err: null };
  }
  throw new Error(`unexpected reply type ${JSON.stringify(String.fromCharCode(t))} from Redis`);
}

interface Pending {
  readonly results: Array<Error | null>;
  readonly count: number;
  readonly done: (results: Array<Error | null>) => void;
}

/**
 * The data path of one cluster sender on a connection that ioredis opened (TLS, AUTH, CLIENT
 * SETNAME done) and has no command in flight on: its socket's replies go to this reader instead
 * of ioredis's, which then sees only the connection's end. Replies still owed when the socket
 * closes come back as lost (plain Errors), never as successes.
 */
export class WirePipe {
  private readonly socket: Socket;
  private readonly pending: Pending[] = [];
  private rest: Buffer | null = null;
  private closed = false;

  constructor(redis: Redis) {
    this.socket = redis.stream as Socket;
    this.socket.removeAllListeners('data');
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.once('close', () => this.lose(new Error('connection to the cluster node closed before its reply')));
  }

  /** Writes the batch; `done` gets one entry per command: null when it succeeded, else its error. */
  send(cmds: readonly RedisCommand[], done: (results: Array<Error | null>) => void): void {
    if (this.closed) {
      done(cmds.map(() => new Error('connection to the cluster node closed')));
      return;
    }
    this.pending.push({ results: [], count: cmds.length, done });
    writeChunks(this.socket, encodeCommands(cmds));
  }

  private onData(chunk: Buffer): void {
    let buf = this.rest === null ? chunk : Buffer.concat([this.rest, chunk]);
    let at = 0;
    try {
      for (;;) {
        const r = skipReply(buf, at);
        if (r === null) break;
        at = r.end;
        const p = this.pending[0];
        if (p === undefined) throw new Error('a reply from Redis that no command asked for');
        p.results.push(r.err);
        if (p.results.length === p.count) {
          this.pending.shift();
          p.done(p.results);
        }
      }
    } catch (e) {
      this.rest = null;
      this.socket.destroy(e as Error);
      return;
    }
    buf = buf.subarray(at);
    this.rest = buf.length === 0 ? null : buf;
  }

  private lose(err: Error): void {
    this.closed = true;
    for (const p of this.pending.splice(0)) {
      while (p.results.length < p.count) p.results.push(err);
      p.done(p.results);
    }
  }
}
