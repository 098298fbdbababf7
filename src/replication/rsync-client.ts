import { constants, mkdirSync, openSync, closeSync, fsyncSync, writeSync, fstatSync, readFileSync, writeFileSync, renameSync, rmSync, ftruncateSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname, join, normalize, isAbsolute } from 'node:path';
import { CorruptionError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { FrameAssembler } from './framing.js';
import { RsyncStatus, RsyncType, decodeRsyncResponse, encodeRsyncRequest, type RsyncRequest, type RsyncResponse } from './messages.js';

/**
 * The C/D snapshot pull (spec §4.2): one connection to master P+10001, a meta request for the file
 * list and the snapshot uuid, then up to 4 readers (distinct `reader_index` 0…3) fetching chunks.
 * Completed files are recorded in `DUMP_META_DATA` (Pika's format), so a restarted pull of the same
 * uuid skips them and resumes a partial file at its current size.
 */
export interface PullOptions {
  readonly host: string;
  readonly port: number;
  readonly dbName: string;
  /** Destination: `<db-sync-path>/db0`. */
  readonly dir: string;
  readonly parallel?: number;
  readonly chunkBytes?: number;
  /** 0 = unlimited. */
  readonly throttleBytesPerSec?: number;
  readonly requestTimeoutMs?: number;
  /** Consecutive timeouts on one request before the transfer fails. */
  readonly maxTimeouts?: number;
  /**
   * Longest wait between two meta requests while the master dumps (default 1 s, as Pika's own
   * replica). The first retries come sooner and double up to it: a real 3.5.5 master has a dump of
   * a million keys ready 0.2–0.4 s after DBSync, and a fixed second was a third of the full sync.
   */
  readonly metaRetryMs?: number;
  /** How long to keep asking for the meta while the master builds its dump. */
  readonly metaBudgetMs?: number;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: PullProgress) => void;
}

export interface PullProgress {
  uuid: string;
  filesTotal: number;
  filesDone: number;
  bytesReceived: number;
}

export class SnapshotChangedError extends Error {
  override name = 'SnapshotChangedError';
}
export class TransferError extends Error {
  override name = 'TransferError';
}

const META_FILE = 'DUMP_META_DATA';

/** Bytes of a file response around its data (uuid, names, offsets): room left in a pooled body. */
const RESPONSE_SLACK = 64 * 1024;
/**
 * Largest response taken (besides a chunk-sized one): the master answers only what was asked, and
 * a meta list of 64 MiB would name a million files. A body's buffer is allocated when its length
 * arrives, so a bad length must not get to ask for Pika's 512 MiB limit.
 */
const MAX_RESPONSE_BODY = 64 * 1024 * 1024;
/** Frames up to this size get a one-off buffer (meta lists, kErr replies). */
const SMALL_FRAME = 64 * 1024;
/** Bytes asked for per file request (Pika's own replica asks for 4 MiB). */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;

/**
 * The bodies of chunk responses, reused: each reader holds at most one between its response and
 * the write to disk, so the pull keeps a few chunk-sized buffers instead of leaving one dead per
 * chunk (see FrameAssembler).
 */
class BodyPool {
  private readonly free: ArrayBuffer[] = [];

  constructor(
    readonly size: number,
    private readonly keep: number,
  ) {}

  take(n: number): Buffer {
    if (n <= SMALL_FRAME || n > this.size) return Buffer.allocUnsafeSlow(n);
    return Buffer.from(this.free.pop() ?? new ArrayBuffer(this.size));
  }

  /** Gives back the buffer `view` lies in, when it is one of the pool's; the caller no longer reads it. */
  give(view: Buffer): void {
    const ab = view.buffer;
    if (ab instanceof ArrayBuffer && ab.byteLength === this.size && this.free.length < this.keep && !this.free.includes(ab)) this.free.push(ab);
  }
}

class ServiceConnection {
  private socket: Socket | null = null;
  private waiters = new Map<number, { match: (r: RsyncResponse) => boolean; resolve: (r: RsyncResponse) => void; reject: (e: Error) => void }>();
  private connecting: Promise<void> | null = null;
  private readonly pool: BodyPool;
  /** Every read of the socket lands here (onread): no 64 KiB buffer per packet. */
  private readonly readBuf = Buffer.allocUnsafeSlow(64 * 1024);

  constructor(
    private readonly opts: PullOptions,
    chunkBytes: number,
    readers: number,
  ) {
    this.pool = new BodyPool(chunkBytes + RESPONSE_SLACK, readers);
  }

  private get name(): string {
    return `rsync service ${this.opts.host}:${this.opts.port}`;
  }

  /** A response's data is written: its buffer may take the next chunk. */
  release(data: Buffer): void {
    this.pool.give(data);
  }

  private ensure(): Promise<void> {
    if (this.socket !== null && !this.socket.destroyed) return Promise.resolve();
    if (this.connecting) return this.connecting;
    this.connecting = new Promise<void>((resolve, reject) => {
      const frames = new FrameAssembler(this.name, (n) => this.pool.take(n), Math.max(MAX_RESPONSE_BODY, this.pool.size));
      const onFrame = (body: Buffer, at: number): void => {
        const r = decodeRsyncResponse(body, `${this.name} byte ${at}`);
        const w = this.waiters.get(r.reader_index);
        if (w && w.match(r)) {
          this.waiters.delete(r.reader_index);
          w.resolve(r);
        } else {
          this.pool.give(body);
          this.opts.logger.debug({ reader: r.reader_index }, 'stale rsync service response dropped');
        }
      };
      const s = connect({
        host: this.opts.host,
        port: this.opts.port,
        onread: {
          buffer: this.readBuf,
          callback: (n: number, buf: Uint8Array): boolean => {
            try {
              frames.push(buf as Buffer, n, onFrame);
            } catch (e) {
              this.fail(e as Error);
              s.destroy();
              return false;
            }
            return true;
          },
        },
      });
      s.setNoDelay(true);
      const t = setTimeout(() => s.destroy(new Error(`connect timeout`)), this.opts.requestTimeoutMs ?? 5000);
      s.once('connect', () => {
        clearTimeout(t);
        this.socket = s;
        this.connecting = null;
        resolve();
      });
      s.once('error', (e) => {
        clearTimeout(t);
        this.connecting = null;
        this.fail(new TransferError(`${this.name}: ${e.message}`));
        reject(new TransferError(`cannot reach ${this.name} (C/D full sync pulls from master port+10001): ${e.message}`));
      });
      s.once('close', () => {
        if (this.socket === s) this.socket = null;
        this.fail(new TransferError(`${this.name} closed the connection`));
      });
    });
    return this.connecting;
  }

  private fail(e: Error): void {
    const ws = [...this.waiters.values()];
    this.waiters.clear();
    for (const w of ws) w.reject(e);
  }

  /** Sends a request and waits for the response of the same reader that `match` accepts. */
  async request(req: RsyncRequest, match: (r: RsyncResponse) => boolean, timeoutMs: number): Promise<RsyncResponse | null> {
    await this.ensure();
    const socket = this.socket;
    if (socket === null) throw new TransferError(`${this.name} not connected`);
    return new Promise<RsyncResponse | null>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters.delete(req.reader_index);
        resolve(null);
      }, timeoutMs);
      this.waiters.set(req.reader_index, {
        match,
        resolve: (r) => {
          clearTimeout(t);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      socket.write(encodeRsyncRequest(req));
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
    this.fail(new TransferError('closed'));
  }
}

/** A shared budget: `bytesPerSec / 10` per 100 ms slot, as Pika's throttle does. */
class Throttle {
  private slotStart = 0;
  private used = 0;
  constructor(private readonly bytesPerSec: number) {}
  async take(want: number, signal?: AbortSignal): Promise<number> {
    if (this.bytesPerSec <= 0) return want;
    const perSlot = Math.max(1, Math.floor(this.bytesPerSec / 10));
    for (;;) {
      const now = Date.now();
      if (now - this.slotStart >= 100) {
        this.slotStart = now - ((now - this.slotStart) % 100);
        this.used = 0;
      }
      const left = perSlot - this.used;
      if (left > 0) {
        const n = Math.min(want, left);
        this.used += n;
        return n;
      }
      if (signal?.aborted) throw new TransferError('aborted');
      await new Promise((r) => setTimeout(r, 100 - (now - this.slotStart)));
    }
  }
}

function safeName(name: string, where: string): string {
  const n = normalize(name);
  if (name === '' || isAbsolute(name) || n.startsWith('..') || name.split('/').includes('..') || name.includes('\0')) {
    throw new CorruptionError(`refusing file name ${JSON.stringify(name)} from the master`, where);
  }
  return n;
}

interface Resume {
  uuid: string;
  done: Set<string>;
}

function readResume(dir: string): Resume | null {
  try {
    const lines = readFileSync(join(dir, META_FILE), 'utf8').split('\n');
    const m = /^snapshot-uuid:(.*)$/.exec(lines[0] ?? '');
    if (!m) return null;
    const done = new Set<string>();
    for (const l of lines.slice(1)) if (l.startsWith('filename:')) done.add(l.slice('filename:'.length));
    return { uuid: m[1], done };
  } catch {
    return null;
  }
}

function writeResume(dir: string, r: Resume): void {
  const text = [`snapshot-uuid:${r.uuid}`, ...[...r.done].map((f) => `filename:${f}`), ''].join('\n');
  // rename is atomic: a crash leaves either the old or the new list
  writeFileSync(join(dir, META_FILE + '.tmp'), text);
  renameSync(join(dir, META_FILE + '.tmp'), join(dir, META_FILE));
}

/**
 * The shortest wait before asking for the meta again. The wait is a tenth of the time waited so
 * far, at least this and at most metaRetryMs: the dump is seen at most ~10 % after it is ready.
 * Doubled waits (25, 50, … 400 ms) saw a 4.0.1 master's dump of 1M keys, ready ~0.4–0.8 s after
 * DBSync, up to 0.4 s late; an ask the master answers kErr costs it next to nothing.
 */
const META_FIRST_RETRY_MS = 25;

/**
 * Pulls the master's current dump of `dbName` into `dir`. Resolves with the uuid and file list once
 * every file reached `eof`; rejects with SnapshotChangedError when the master made a new dump
 * meanwhile (the caller restarts: a new dump has a new `info`).
 */
export async function pullSnapshot(opts: PullOptions): Promise<{ uuid: string; files: string[] }> {
  const log = opts.logger;
  const parallel = Math.min(4, Math.max(1, opts.parallel ?? 4));
  const chunk = Math.max(1, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  const conn = new ServiceConnection(opts, chunk, parallel);
  const timeout = opts.requestTimeoutMs ?? 5000;
  const where = `rsync service ${opts.host}:${opts.port}`;
  try {
    // 1. meta, retried while the master is still dumping (kErr, or no answer from 3.5.0–3.5.2)
    const metaDeadline = Date.now() + (opts.metaBudgetMs ?? 300_000);
    let uuid = '';
    let files: string[] = [];
    const maxRetryMs = opts.metaRetryMs ?? 1000;
    const firstAsk = Date.now();
    let retries = 0;
    for (;;) {
      if (opts.signal?.aborted) throw new TransferError('aborted');
      const r = await conn.request(
        { type: RsyncType.Meta, reader_index: 0, db_name: opts.dbName, slot_id: 0 },
        (x) => x.type === RsyncType.Meta,
        timeout,
      );
      if (r !== null && r.code === RsyncStatus.Ok && r.snapshot_uuid) {
        uuid = r.snapshot_uuid;
        files = (r.meta_resp?.filenames ?? []).map((f) => safeName(f, where));
        break;
      }
      if (Date.now() > metaDeadline) {
        throw new TransferError(`${where} gave no snapshot file list within ${opts.metaBudgetMs ?? 300_000} ms (last: ${r === null ? 'no reply' : 'kErr'})`);
      }
      // Said once; the retries that follow it are the same news.
      if (retries++ === 0) log.info({ reply: r === null ? 'none' : 'kErr' }, 'master dump not ready yet, retrying the meta request');
      else log.debug({ reply: r === null ? 'none' : 'kErr', retries }, 'master dump still not ready');
      const retryMs = Math.min(maxRetryMs, Math.max(META_FIRST_RETRY_MS, (Date.now() - firstAsk) / 10));
      await new Promise((res) => setTimeout(res, retryMs));
    }
    if (!files.includes('info')) throw new CorruptionError(`snapshot file list of uuid ${uuid} has no info file`, where);
    mkdirSync(opts.dir, { recursive: true });
    let resume = readResume(opts.dir);
    if (resume === null || resume.uuid !== uuid) {
      // Another dump's files are useless: start clean.
      for (const f of files) rmSync(join(opts.dir, f), { force: true });
      resume = { uuid, done: new Set() };
      writeResume(opts.dir, resume);
    }
    log.info({ uuid, files: files.length, alreadyDone: resume.done.size }, 'pulling snapshot from the master rsync service');

    // 2. files, sorted and dealt round-robin to the readers as Pika does
    const sorted = [...files].sort();
    const throttle = new Throttle(opts.throttleBytesPerSec ?? 0);
    const progress: PullProgress = { uuid, filesTotal: files.length, filesDone: resume.done.size, bytesReceived: 0 };
    const res = resume;

    const fetchFile = async (reader: number, name: string): Promise<void> => {
      const path = join(opts.dir, name);
      mkdirSync(dirname(path), { recursive: true });
      // O_APPEND would ignore positional writes: open read-write and write at the resume offset.
      const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
      try {
        let offset = fstatSync(fd).size;
        let timeouts = 0;
        for (;;) {
          if (opts.signal?.aborted) throw new TransferError('aborted');
          const count = await throttle.take(chunk, opts.signal);
          const r = await conn.request(
            { type: RsyncType.File, reader_index: reader, db_name: opts.dbName, slot_id: 0, file_req: { filename: name, count, offset } },
            (x) => x.type === RsyncType.File && x.file_resp?.filename === name && x.file_resp.offset === offset,
            timeout,
          );
          if (r === null) {
            if (++timeouts >= (opts.maxTimeouts ?? 10)) throw new TransferError(`${where}: ${timeouts} timeouts of ${timeout} ms fetching ${name} at offset ${offset}`);
            continue;
          }
          timeouts = 0;
          if (r.code !== RsyncStatus.Ok) throw new TransferError(`${where}: kErr for ${name} at offset ${offset}`);
          if (r.snapshot_uuid !== uuid) throw new SnapshotChangedError(`master made a new dump (uuid ${r.snapshot_uuid}, was ${uuid}) while ${name} was being pulled`);
          const fr = r.file_resp;
          if (!fr) throw new CorruptionError(`file response without file_resp for ${name}`, `${where} reader ${reader}`);
          const data = fr.data ?? Buffer.alloc(0);
          if (fr.count !== data.length || fr.count > count) {
            throw new CorruptionError(`file response for ${name} at ${offset}: count ${fr.count}, ${data.length} data bytes, asked ${count}`, `${where} reader ${reader}`);
          }
          if (data.length > 0) {
            writeSync(fd, data, 0, data.length, offset);
            offset += data.length;
            progress.bytesReceived += data.length;
          }
          conn.release(data);
          if (fr.eof === 1) break;
          if (data.length === 0) throw new CorruptionError(`empty chunk without eof for ${name} at ${offset}`, `${where} reader ${reader}`);
        }
        ftruncateSync(fd, offset);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      res.done.add(name);
      writeResume(opts.dir, res);
      progress.filesDone = res.done.size;
      opts.onProgress?.({ ...progress });
    };

    const queues: string[][] = Array.from({ length: parallel }, () => []);
    sorted.forEach((f, i) => {
      if (!res.done.has(f)) queues[i % parallel].push(f);
    });
    const workers = queues.map(async (q, reader) => {
      for (const f of q) await fetchFile(reader, f);
    });
    const results = await Promise.allSettled(workers);
    const failed = results.find((x): x is PromiseRejectedResult => x.status === 'rejected');
    if (failed) throw failed.reason;
    return { uuid, files };
  } finally {
    conn.close();
  }
}
