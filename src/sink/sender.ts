import type { Redis } from 'ioredis';
import { commandKeyText, type RedisCommand } from '../core/command.js';
import { FatalError, TargetLostWritesError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { formatPosition, type SourcePosition } from '../core/position.js';
import { BATCH_SCRIPT, encodeBatch, type AppliedRecord } from './batch-script.js';
import { BufferPool } from './buffer-pool.js';
import { writeCommand } from './raw-write.js';
import { encodeNativeBatch, GATE_SCRIPT, killServerClient, nativeCall, nativeEligible, sendNative, serverClientOf, transactionHead, type NativeBatch, type ServerClient } from './native-batch.js';
import { openConnection, peerAddress, runIdOf, targetName, TargetUnreachableError, type TargetOptions } from './connection.js';
import { classifyCode, errorCode, type ErrorClass } from './replies.js';
import { newWaiter, type Waiter } from '../core/waiter.js';
import { Backoff } from './backoff.js';

export interface SenderOptions extends TargetOptions {
  readonly index: number;
  readonly batchSize: number;
  /** A batch is closed once its commands weigh this much (commandCost), whatever their count. */
  readonly batchBytes: number;
  readonly maxInFlightBatches: number;
  /** Key holding the sequence number of the last batch this sender applied (unique per run). */
  readonly markerKey: string;
  readonly markerTtlMs: number;
  /** The target's `run_id` when the pool connected: another one after a reconnect means it restarted. */
  readonly serverRunId: string;
  /** Where each batch records its last position (exactly once across restarts); null: nowhere. */
  readonly applied: AppliedRecord | null;
  /** Give up (fatal) when the target stays unreachable this long after a drop. */
  readonly reconnectGiveUpMs: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  /**
   * Acknowledge a batch only once this many replicas of the target have it (WAIT after each
   * batch); 0: on the target's own reply. With it, a failover to one of those replicas loses none.
   */
  readonly waitReplicas: number;
  readonly waitTimeoutMs: number;
  readonly logger: Logger;
  /** Batches of overwrites go as transactions (native-batch.ts); the pool found the target allows it. */
  readonly native: boolean;
  /** The first connection as the server knows it (native only), to kill it if it is given up on. */
  readonly serverClient: ServerClient | null;
}

/** What a sender tells its pool. Plain callbacks: they run once per batch on the hot path. */
export interface SenderHooks {
  /** A batch was acknowledged; `bytes`: what its commands weighed when submitted. */
  acked(sender: Sender, bytes: number): void;
  commandError(sender: Sender, cmd: RedisCommand, code: string, message: string, cls: ErrorClass): void;
  retried(sender: Sender, code: string): void;
  fatal(err: FatalError): void;
}

export interface SenderStats {
  /** Commands accepted but not yet written to Redis. */
  readonly queued: number;
  /** Commands written to Redis and not yet acknowledged. */
  readonly inFlight: number;
  /** Commands written at least once. */
  readonly sent: number;
  /** Batches (EVALSHA calls) written at least once: sent / batches is the mean batch size. */
  readonly batches: number;
  readonly acked: number;
  /** Batches written again (after a retryable error, a refused gate or a reconnect). */
  readonly retries: number;
  readonly reconnects: number;
  /** Batches known applied from the marker because their reply was lost with the connection. */
  readonly lostReplies: number;
}

interface Batch {
  readonly seq: number;
  /**
   * The commands; null once a batch of overwrites is laid out as a transaction (`native` holds
   * it): the sender then lets go of the command objects and the blocks their values point into
   * while the batch waits for its reply, which halves what every young-generation GC must copy.
   */
  cmds: RedisCommand[] | null;
  readonly count: number;
  /** What its commands weighed when submitted (commandCost). */
  readonly bytes: number;
  /** The first command and the last position, for logs and the acknowledged position. */
  readonly first: RedisCommand;
  readonly lastPos: SourcePosition;
  /** Pool-wide submission number of cmds[0]; the rest follow in order. */
  readonly firstGseq: number;
  everSent: boolean;
  /** Maps script call index → command index when SET runs were merged. */
  origin: number[] | null;
  /** The batch as a transaction (native-batch.ts), with each command's position for error reports. */
  native: { readonly enc: NativeBatch; readonly positions: SourcePosition[] } | null;
}

/** Why the sender stopped sending and must find out what Redis applied. */
interface Resync {
  reconnect: boolean;
  reloadScript: boolean;
  backoff: boolean;
}

const SKIPPED = -1;
const REFUSAL_LOG_EVERY_MS = 5000;

/**
 * One Redis connection and its queue. Commands are grouped into batches of `batchSize`; each batch
 * is one EVALSHA of the batch script (see batch-script.ts), with up to `maxInFlightBatches`
 * pipelined. Any doubt (a lost connection, a refused batch, a gate that did not match) stops
 * sending until every outstanding reply is in; then one GET of the marker says exactly which
 * batches Redis applied, those are acknowledged, and the rest are sent again in order.
 */
export class Sender {
  readonly index: number;
  private redis: Redis | null;
  private pending: RedisCommand[] = [];
  private pendingFirstGseq = 0;
  private pendingBytes = 0;
  /** Closed, unacknowledged batches in order; the first `sentCount` are written on this epoch. */
  private batches: Batch[] = [];
  private sentCount = 0;
  private inFlightCalls = 0;
  private nextSeq = 1;
  /** The marker value the next batch expects ('-': no marker yet). */
  private chainTail = '-';
  private epoch = 0;
  private resync: Resync | null = null;
  private resyncRunning = false;
  private retryDelay: number;
  private immediate = false;
  private roomWaiter: Waiter | null = null;
  private stopped = false;
  private lastAcked: SourcePosition | null = null;
  /** The last batch acknowledged: the marker can never be behind it unless the target lost writes. */
  private lastAckedSeq = 0;
  private lastAckedAt = 0;
  /** The target's run_id as last seen; `restarted` once a reconnect found another one, until the marker is checked. */
  private serverRunId: string;
  private restarted = false;
  /** One of our own commands (FLUSHDB, FLUSHALL, …) may have deleted the marker: its absence is no loss. */
  private markerForgiven = false;
  /** Refusals in a row (OOM, LOADING, …) since the last accepted batch, and the last one's reply. */
  private refusals = 0;
  private refusedSince = 0;
  private lastRefusal = '';
  private lastRefusalLogAt = 0;
  /** This connection, and the one given up on and not yet killed (native only: see native-batch.ts). */
  private self: ServerClient | null;
  private stale: ServerClient | null = null;
  private counters = { sent: 0, batches: 0, acked: 0, retries: 0, reconnects: 0, lostReplies: 0, queuedCmds: 0 };
  private readonly log: Logger;
  /** Batch script layouts; one per batch in flight, and one being laid out. */
  private readonly blobs: BufferPool;

  constructor(
    private readonly opts: SenderOptions,
    redis: Redis,
    private readonly hooks: SenderHooks,
  ) {
    this.index = opts.index;
    this.log = opts.logger.child({ sender: opts.index });
    this.retryDelay = opts.retryMinMs;
    this.serverRunId = opts.serverRunId;
    this.self = opts.serverClient;
    this.redis = redis;
    this.blobs = new BufferPool(opts.maxInFlightBatches + 1);
    this.watch(redis);
  }

  /** The live connection, for a pool-level read or delete outside the batches. */
  client(): Redis {
    if (this.redis === null) throw new FatalError(`sender ${this.index} has no connection to Redis at ${targetName(this.opts)}`);
    return this.redis;
  }

  static connectionName(index: number): string {
    return `pika-migrate-sink-${index}`;
  }

  /**
   * Queues a command weighing `bytes` (commandCost); false when the sender is over its bound and
   * the producer should wait.
   */
  submit(cmd: RedisCommand, gseq: number, bytes: number): boolean {
    if (this.pending.length === 0) {
      this.pendingFirstGseq = gseq;
      if (!this.immediate) {
        this.immediate = true;
        setImmediate(this.onImmediate);
      }
    }
    this.pending.push(cmd);
    this.pendingBytes += bytes;
    this.counters.queuedCmds++;
    if (this.pending.length >= this.opts.batchSize || this.pendingBytes >= this.opts.batchBytes) {
      this.closePending();
      this.pump(false);
    }
    return this.batches.length <= this.opts.maxInFlightBatches;
  }

  /** Resolves when the sender is back under its bound. One shared promise: cheap for many waiters. */
  room(): Promise<void> {
    if (this.batches.length <= this.opts.maxInFlightBatches) return Promise.resolve();
    if (this.roomWaiter === null) {
      this.roomWaiter = newWaiter();
    }
    return this.roomWaiter.promise;
  }

  /** Sends the partial batch now instead of waiting for it to fill. */
  flushPending(): void {
    if (this.pending.length > 0) this.closePending();
    this.pump(false);
  }

  /** Submission number of the oldest command not yet acknowledged, or Infinity. */
  oldestUnacked(): number {
    if (this.batches.length > 0) return this.batches[0].firstGseq;
    return this.pending.length > 0 ? this.pendingFirstGseq : Infinity;
  }

  lastAckedPosition(): SourcePosition | null {
    return this.lastAcked;
  }

  stats(): SenderStats {
    let inFlight = 0;
    for (let i = 0; i < this.sentCount; i++) inFlight += this.batches[i].count;
    const c = this.counters;
    return {
      queued: c.queuedCmds - c.acked - inFlight,
      inFlight,
      sent: c.sent,
      batches: c.batches,
      acked: c.acked,
      retries: c.retries,
      reconnects: c.reconnects,
      lostReplies: c.lostReplies,
    };
  }

  /**
   * Its marker was deleted (the migration ended) with nothing in flight: the next batch expects
   * none, instead of bouncing off the missing marker and resynchronising, and a reconnect that
   * finds none is not a target that lost our writes.
   */
  markerRemoved(): void {
    if (this.batches.length > 0) throw new Error(`sender ${this.index}: marker removed with batches in flight`);
    this.chainTail = '-';
    this.markerForgiven = true;
  }

  /**
   * The pool is about to send a command that deletes keys it does not name (FLUSHDB, FLUSHALL, a
   * pattern delete), this sender's marker among them: the next time the marker is found missing,
   * that is the reason, not a target that lost our writes.
   */
  forgiveMissingMarker(): void {
    this.markerForgiven = true;
  }

  /**
   * The error Redis keeps refusing batches with (OOM, LOADING, …) while the sender retries, or null
   * when its last batch went through: a stop need not wait for a flush that cannot end.
   */
  refusedWith(): string | null {
    return this.refusals > 0 ? this.lastRefusal : null;
  }

  /** Best effort: removes the marker and closes the connection. */
  async close(): Promise<void> {
    this.stop();
    const redis = this.redis;
    this.redis = null;
    if (redis === null) return;
    try {
      if (redis.status === 'ready') {
        await redis.del(this.opts.markerKey);
        await redis.quit();
      }
    } catch {
      // closing anyway
    } finally {
      redis.disconnect();
    }
  }

  /** Stops sending and rejects waiters; the pool calls this on fatal errors. */
  stop(err?: Error): void {
    this.stopped = true;
    if (err !== undefined && this.roomWaiter !== null) {
      this.roomWaiter.reject(err);
      this.roomWaiter = null;
    }
    if (err !== undefined && this.redis !== null) {
      this.redis.disconnect();
      this.redis = null;
    }
  }

  private readonly takeBlob = (size: number): Buffer => this.blobs.take(size);

  private readonly onImmediate = (): void => {
    this.immediate = false;
    if (this.sentCount === 0) this.pump(true);
  };

  private closePending(): void {
    const cmds = this.pending;
    this.batches.push({
      seq: this.nextSeq++, cmds, count: cmds.length, bytes: this.pendingBytes, first: cmds[0], lastPos: cmds[cmds.length - 1].pos,
      firstGseq: this.pendingFirstGseq, everSent: false, origin: null, native: null,
    });
    this.pending = [];
    this.pendingBytes = 0;
  }

  /**
   * Writes closed batches while there is room in flight. A partial batch goes out only when the
   * pipe is empty: under load batches fill up, when idle nothing waits longer than one reply.
   */
  private pump(partialOk: boolean): void {
    if (this.resync !== null || this.stopped || this.redis === null) return;
    const max = this.opts.maxInFlightBatches;
    while (this.sentCount < this.batches.length && this.sentCount < max) this.send(this.batches[this.sentCount]);
    if (partialOk && this.sentCount === 0 && this.pending.length > 0) {
      this.closePending();
      this.send(this.batches[0]);
    }
  }

  private send(batch: Batch): void {
    const redis = this.redis as Redis;
    if (batch.native === null && batch.cmds !== null && this.opts.native && nativeEligible(batch.cmds)) {
      const enc = encodeNativeBatch(batch.cmds);
      batch.native = { enc, positions: batch.cmds.map((c) => c.pos) };
      batch.origin = enc.origin;
      batch.cmds = null;
    }
    let applied: Promise<unknown>;
    if (batch.native !== null) {
      const head = transactionHead(this.opts.markerKey, this.chainTail, batch.seq, this.opts.markerTtlMs, this.opts.applied, batch.lastPos);
      applied = this.sendTransaction(redis, head, batch.native.enc);
    } else if (redis.status !== 'ready' || !redis.stream.writable) {
      applied = Promise.reject(new Error('connection to Redis is not writable'));
    } else {
      const enc = encodeBatch(batch.cmds!, this.opts.markerKey, this.chainTail, batch.seq, this.opts.markerTtlMs, this.opts.applied, this.takeBlob);
      batch.origin = enc.origin;
      // Any reply, an error one too, means Redis read the whole call: its layout can be reused. A
      // lost connection may still hold it in its write queue, so then it is left to the GC.
      const blob = enc.blob;
      applied = writeCommand(redis, 'EVALSHA', enc.args).then(
        (reply) => {
          this.blobs.give(blob);
          return reply;
        },
        (err: Error) => {
          if (err.name === 'ReplyError') this.blobs.give(blob);
          throw err;
        },
      );
    }
    this.chainTail = String(batch.seq);
    if (batch.everSent) this.counters.retries++;
    else {
      batch.everSent = true;
      this.counters.sent += batch.count;
      this.counters.batches++;
    }
    this.sentCount++;
    this.inFlightCalls++;
    const epoch = this.epoch;
    if (this.opts.waitReplicas === 0) {
      applied.then(
        (reply) => this.onReply(batch, epoch, reply),
        (err: Error) => this.onFailure(batch, epoch, err),
      );
      return;
    }
    // Pipelined right behind the batch, on the same connection: it covers this batch and all before it.
    const waited = redis.call('WAIT', String(this.opts.waitReplicas), String(this.opts.waitTimeoutMs));
    applied.then(
      (reply) =>
        waited.then(
          (n) => (Number(n) >= this.opts.waitReplicas ? this.onReply(batch, epoch, reply) : this.onShortWait(batch, epoch, Number(n))),
          (err: Error) => this.onFailure(batch, epoch, err),
        ),
      (err: Error) => {
        waited.catch(() => {});
        this.onFailure(batch, epoch, err);
      },
    );
  }

  /**
   * Writes a batch of overwrites as one transaction (native-batch.ts) and answers like the batch
   * script would: `{-1, marker}` when the gate found another batch's marker, else the flat list of
   * (call index, error) pairs. A refusal while queueing (OOM) or of EXEC itself rejects with that
   * refusal's own error, so it is retried like a refused batch script.
   */
  private sendTransaction(redis: Redis, head: Buffer, enc: NativeBatch): Promise<unknown> {
    if (redis.status !== 'ready' || !redis.stream.writable) return Promise.reject(new Error('connection to Redis is not writable'));
    const { queued, exec } = sendNative(redis, head, enc);
    let refusal: Error | null = null;
    for (const q of queued) q.catch((e: Error) => (refusal ??= e));
    return exec.then(
      (reply) => {
        const r = reply as unknown[];
        const gate = r[0];
        if (gate instanceof Error) throw gate;
        if (Array.isArray(gate) && gate.length === 2 && gate[0] === SKIPPED) return gate;
        const errs: Array<number | string> = [];
        for (let i = 1; i < r.length; i++) if (r[i] instanceof Error) errs.push(i - 1, (r[i] as Error).message);
        return errs;
      },
      (e: Error) => {
        throw refusal ?? execRefusal(e);
      },
    );
  }

  /**
   * Applied by the target but not yet by enough replicas: not acknowledged. A replica lagging comes
   * back; a failover does not, so with Sentinel the resync asks the sentinels for the master again
   * and the marker there says what survived.
   */
  private onShortWait(batch: Batch, epoch: number, replicas: number): void {
    this.inFlightCalls--;
    if (epoch !== this.epoch || this.stopped) {
      this.continueResync();
      return;
    }
    this.log.warn(
      { seq: batch.seq, replicas, wanted: this.opts.waitReplicas, target: targetName(this.opts), retryInMs: this.retryDelay },
      'fewer replicas than target-redis-wait-replicas have the batch; not acknowledging it until they do',
    );
    this.startResync({ reconnect: this.opts.sentinel !== undefined, reloadScript: false, backoff: true });
  }

  private onReply(batch: Batch, epoch: number, reply: unknown): void {
    this.inFlightCalls--;
    if (epoch !== this.epoch || this.stopped) {
      this.continueResync();
      return;
    }
    const r = reply as Array<number | string>;
    if (r.length === 2 && r[0] === SKIPPED) {
      // The batch before it was not applied (refused, or the marker vanished): find out and resend.
      this.startResync({ reconnect: false, reloadScript: false, backoff: false });
      return;
    }
    if (batch !== this.batches[0]) {
      // Cannot happen with in-order replies; let the marker settle it rather than guess.
      this.log.error({ seq: batch.seq }, 'reply out of order; resynchronising from the marker');
      this.startResync({ reconnect: false, reloadScript: false, backoff: false });
      return;
    }
    this.retryDelay = this.opts.retryMinMs;
    if (this.refusals > 0) {
      this.log.info({ attempts: this.refusals, refusedForMs: Date.now() - this.refusedSince, target: targetName(this.opts) }, 'Redis accepts batches again');
      this.refusals = 0;
    }
    this.ack(batch, r);
    this.pump(true);
  }

  private onFailure(batch: Batch, epoch: number, err: Error): void {
    this.inFlightCalls--;
    if (epoch !== this.epoch || this.stopped) {
      this.continueResync();
      return;
    }
    if (err.name !== 'ReplyError') {
      this.log.warn({ err: err.message, seq: batch.seq, target: targetName(this.opts) }, 'connection to Redis lost; will reconnect and resend what was not applied');
      this.startResync({ reconnect: true, reloadScript: false, backoff: false });
      return;
    }
    const code = errorCode(err.message);
    if (code === 'NOSCRIPT') {
      this.startResync({ reconnect: false, reloadScript: true, backoff: false });
      return;
    }
    const cls = classifyCode(code);
    if (cls === 'retryable') {
      const first = batch.first;
      const now = Date.now();
      if (this.refusals === 0) this.refusedSince = now;
      this.refusals++;
      this.lastRefusal = err.message;
      // A refusal that lasts (OOM until memory is freed) is retried without end: say so every few seconds, not every retry.
      if (this.refusals === 1 || now - this.lastRefusalLogAt >= REFUSAL_LOG_EVERY_MS) {
        this.lastRefusalLogAt = now;
        this.log.warn(
          {
            code, err: err.message, attempt: this.refusals, refusedForMs: now - this.refusedSince, target: targetName(this.opts),
            seq: batch.seq, commands: batch.count, key: commandKeyText(first), pos: formatPosition(first.pos), retryInMs: this.retryDelay,
          },
          'Redis refused a batch for now; retrying it and everything after it in order (SIGTERM stops)',
        );
      }
      this.hooks.retried(this, code);
      // A master turned replica: with Sentinel a new connection goes to whichever node is master now.
      this.startResync({ reconnect: code === 'READONLY' && this.opts.sentinel !== undefined, reloadScript: false, backoff: true });
      return;
    }
    if (cls === 'fatal') {
      this.fail(new FatalError(`Redis at ${targetName(this.opts)} refused our commands: ${err.message}`));
      return;
    }
    // The script itself failed: Redis may have applied part of the batch, so nothing exact is left.
    this.fail(new FatalError(`batch script failed on Redis at ${targetName(this.opts)} (sender ${this.index}, batch ${batch.seq}): ${err.message}`));
  }

  /** The command a script or transaction call stands for (the first of a merged run), for error reports. */
  private commandOf(batch: Batch, call: number): RedisCommand {
    const index = batch.origin === null ? call : batch.origin[call];
    if (batch.cmds !== null) return batch.cmds[index];
    const { enc, positions } = batch.native!;
    const { name, args } = nativeCall(enc.data, call);
    return { name, args, key: args[0], pos: positions[index] };
  }

  private ack(batch: Batch, errs: ReadonlyArray<number | string> | null): void {
    this.batches.shift();
    if (this.sentCount > 0) this.sentCount--;
    if (errs !== null) {
      for (let i = 0; i + 1 < errs.length; i += 2) {
        const call = errs[i] as number;
        const cmd = this.commandOf(batch, call);
        const message = String(errs[i + 1]);
        const code = errorCode(message);
        this.hooks.commandError(this, cmd, code, message, classifyCode(code));
      }
    }
    this.counters.acked += batch.count;
    this.lastAcked = batch.lastPos;
    this.lastAckedSeq = batch.seq;
    this.lastAckedAt = Date.now();
    this.hooks.acked(this, batch.bytes);
    if (this.roomWaiter !== null && this.batches.length <= this.opts.maxInFlightBatches) {
      const w = this.roomWaiter;
      this.roomWaiter = null;
      w.resolve();
    }
  }

  private startResync(why: Resync): void {
    if (this.resync === null) {
      this.resync = { ...why };
      // Replies still on their way belong to the old epoch: the marker decides for them.
      this.epoch++;
    } else {
      this.resync.reconnect ||= why.reconnect;
      this.resync.reloadScript ||= why.reloadScript;
      this.resync.backoff ||= why.backoff;
    }
    this.continueResync();
  }

  private continueResync(): void {
    if (this.resync === null || this.resyncRunning || this.inFlightCalls > 0 || this.stopped) return;
    this.resyncRunning = true;
    this.runResync().then(
      () => {
        this.resyncRunning = false;
        this.pump(true);
      },
      (e: Error) => {
        this.resyncRunning = false;
        this.fail(e instanceof FatalError ? e : new FatalError(`sender ${this.index}: ${e.message}`));
      },
    );
  }

  private async runResync(): Promise<void> {
    const why = this.resync as Resync;
    if (why.backoff) {
      await sleep(this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, this.opts.retryMaxMs);
    }
    let marker: string | null;
    const giveUpAt = Date.now() + this.opts.reconnectGiveUpMs;
    for (;;) {
      if (this.stopped) return;
      if (why.reconnect || this.redis === null || this.redis.status !== 'ready') {
        await this.reconnect();
        why.reconnect = false;
      }
      const redis = this.redis as Redis;
      try {
        if (why.reloadScript) {
          await redis.script('LOAD', BATCH_SCRIPT);
          if (this.opts.native) await redis.script('LOAD', GATE_SCRIPT);
          why.reloadScript = false;
        }
        if (this.stale !== null) {
          // A restarted target took the old connection with it; otherwise it may still hold a transaction.
          if (!this.restarted) await killServerClient(redis, this.stale);
          this.stale = null;
        }
        marker = await redis.get(this.opts.markerKey);
        if (this.opts.waitReplicas > 0) {
          // The marker counts only once the replicas have it too: else a failover could still undo it.
          const replicas = Number(await redis.call('WAIT', String(this.opts.waitReplicas), String(this.opts.waitTimeoutMs)));
          if (replicas < this.opts.waitReplicas) {
            if (Date.now() > giveUpAt) {
              throw new FatalError(
                `Redis at ${targetName(this.opts)} has had only ${replicas} of the ${this.opts.waitReplicas} replicas target-redis-wait-replicas asks for, for ${Math.round(this.opts.reconnectGiveUpMs / 1000)} s`,
              );
            }
            await sleep(this.retryDelay);
            this.retryDelay = Math.min(this.retryDelay * 2, this.opts.retryMaxMs);
            why.reconnect = this.opts.sentinel !== undefined;
            continue;
          }
        }
        break;
      } catch (e) {
        const err = e as Error;
        if (err.name === 'ReplyError') {
          const cls = classifyCode(errorCode(err.message));
          if (cls === 'fatal') throw new FatalError(`Redis at ${targetName(this.opts)} refused our commands: ${err.message}`);
          if (cls !== 'retryable') throw new FatalError(`Redis at ${targetName(this.opts)} failed reading the sender marker: ${err.message}`);
          await sleep(this.retryDelay);
          this.retryDelay = Math.min(this.retryDelay * 2, this.opts.retryMaxMs);
        } else {
          why.reconnect = true;
        }
      }
    }
    const lost = this.lostWrites(marker);
    if (lost !== null) throw new TargetLostWritesError(lost);
    this.markerForgiven = false;
    this.restarted = false;
    const applied = marker === null ? 0 : Number(marker);
    this.sentCount = 0;
    while (this.batches.length > 0 && this.batches[0].seq <= applied) {
      const b = this.batches[0];
      this.counters.lostReplies++;
      this.log.warn(
        { seq: b.seq, commands: b.count, firstKey: commandKeyText(b.first), firstPos: formatPosition(b.first.pos), lastPos: formatPosition(b.lastPos) },
        'batch was applied by Redis but its reply was lost with the connection; per-command errors of this batch are unknown',
      );
      this.ack(b, null);
    }
    this.chainTail = marker === null ? '-' : marker;
    this.sentCount = 0;
    this.resync = null;
  }

  /**
   * Why the marker just read means acknowledged writes are gone, or null when it does not. A
   * marker behind the last acknowledged batch: a failover to a replica that had not received them,
   * or a restart from an older dump. No marker at all, after batches were acknowledged: the target
   * restarted empty or was flushed — unless our own FLUSHDB took it, or it may have expired (no
   * batch for a whole marker TTL) on a target that did not restart.
   */
  private lostWrites(marker: string | null): string | null {
    if (this.lastAckedSeq === 0) return null;
    const had = `sender ${this.index} had batches up to ${this.lastAckedSeq} acknowledged (${this.counters.acked} commands)`;
    const fix = 'The target misses writes: a load must be run again; the daemon waits for SLAVEOF <master> force (see the README, "Target lost writes")';
    const why = this.restarted ? 'its run_id changed: it restarted, or another node took over' : 'it was flushed, restarted or failed over';
    if (marker !== null) {
      const applied = Number(marker);
      if (applied >= this.lastAckedSeq) return null;
      return (
        `Redis at ${targetName(this.opts)} lost writes it had acknowledged: ${had}, the target now holds up to ${applied} ` +
        `(${this.restarted ? why : 'a failover to a replica that had not received them?'}). ${fix}; target-redis-wait-replicas prevents a failover from losing them`
      );
    }
    if (this.markerForgiven && !this.restarted) return null;
    const ttl = this.opts.markerTtlMs;
    if (!this.restarted && Date.now() - this.lastAckedAt >= ttl - Math.min(60_000, ttl / 10)) return null;
    return `Redis at ${targetName(this.opts)} lost writes it had acknowledged: ${had}, and its marker ${this.opts.markerKey} is gone: ${why}. ${fix}`;
  }

  private async reconnect(): Promise<void> {
    if (this.redis !== null) {
      this.redis.removeAllListeners('end');
      this.redis.disconnect();
      this.redis = null;
    }
    if (this.self !== null) {
      this.stale = this.self;
      this.self = null;
    }
    const backoff = new Backoff(this.opts.reconnectGiveUpMs, 100, 5000);
    for (;;) {
      if (this.stopped) throw new FatalError(`sender ${this.index} stopped`);
      let opened: Redis | null = null;
      try {
        const redis = await openConnection(this.opts, Sender.connectionName(this.index));
        opened = redis;
        await redis.script('LOAD', BATCH_SCRIPT);
        let self: ServerClient | null = null;
        if (this.opts.native) {
          await redis.script('LOAD', GATE_SCRIPT);
          self = await serverClientOf(redis);
        }
        // One INFO per reconnect, none per batch: a target that came back empty has a new run_id.
        const runId = runIdOf(await redis.info('server'));
        if (runId !== this.serverRunId) {
          this.log.warn({ target: targetName(this.opts), runId, was: this.serverRunId }, 'the target restarted (its run_id changed); its marker says whether it kept our writes');
          this.serverRunId = runId;
          this.restarted = true;
        }
        this.self = self;
        this.redis = redis;
        this.watch(redis);
        this.counters.reconnects++;
        this.log.info({ target: targetName(this.opts), address: peerAddress(redis) }, 'reconnected to Redis');
        return;
      } catch (e) {
        opened?.disconnect();
        if (e instanceof FatalError) throw e;
        const msg = (e as Error).message;
        if (!(e instanceof TargetUnreachableError) && (e as Error).name === 'ReplyError') {
          throw new FatalError(`Redis at ${targetName(this.opts)} refused the batch script or CLIENT INFO: ${msg}`);
        }
        if (backoff.exhausted) {
          throw new FatalError(`lost the connection to Redis at ${targetName(this.opts)} and could not reconnect for ${Math.round(this.opts.reconnectGiveUpMs / 1000)} s: ${msg}`);
        }
        this.log.warn({ err: msg, retryInMs: backoff.delayMs }, 'reconnecting to Redis');
        await backoff.sleep();
      }
    }
  }

  /** An idle connection that closes (server `timeout`, a proxy) is noticed at once, not on next use. */
  private watch(redis: Redis): void {
    redis.on('error', (e: Error) => this.log.debug({ err: e.message }, 'redis connection error'));
    redis.once('end', () => {
      if (this.redis !== redis || this.stopped) return;
      this.startResync({ reconnect: true, reloadScript: false, backoff: false });
    });
  }

  private fail(err: FatalError): void {
    if (this.stopped) return;
    this.hooks.fatal(err);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * EXEC refused as a whole answers `EXECABORT Transaction discarded because of: <the refusal>`
 * (Redis 7: OOM at EXEC time): the refusal inside decides what the sender does.
 */
function execRefusal(e: Error): Error {
  if (e.name !== 'ReplyError') return e;
  const m = /^EXECABORT .*because of: -?(.*)$/s.exec(e.message);
  if (m === null) return e;
  const inner = new Error(m[1]);
  inner.name = 'ReplyError';
  return inner;
}
