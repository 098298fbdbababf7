import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { commandKeyText, type RedisCommand } from '../core/command.js';
import { ConfigError, FatalError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { comparePositions, formatPosition, type SourcePosition } from '../core/position.js';
import { MULTI_TYPE_NAMES_KEY, SETTLE_EXPIRED_SCRIPT, SIDE_EXPIRY_KEY, SIDE_KEY_PREFIX } from '../core/scripts.js';
import { BATCH_SCRIPT, MAX_COMMAND_ARGS, inlineName, parseAppliedValue, wipesMarkers } from './batch-script.js';
import { openConnection, peerAddress, runIdOf, targetName, type TargetEndpoint } from './connection.js';
import type { ErrorClass } from './replies.js';
import { totalOf, type CommandErrorEvent, type Sink, type SinkStats } from './sink.js';
import { ErrorTally } from './error-tally.js';
import { AckTracker } from './ack-tracker.js';
import { paced, RateLimiter } from './rate-limit.js';
import { KeyRouter } from './router.js';
import { deleteOwnKeys } from './own-keys.js';
import { nativeRefusal, serverClientOf, type ServerClient } from './native-batch.js';
import { Sender, type SenderHooks } from './sender.js';
import { ByteBudget, commandCost, DEFAULT_IN_FLIGHT_BYTES } from './byte-budget.js';
import { newWaiter, type Waiter } from '../core/waiter.js';

/** Where the target is and how to log in (TargetEndpoint), and how the sink sends to it. */
export interface SenderPoolOptions extends TargetEndpoint {
  /** redis-sender-num, default 10 */
  senders: number;
  /** sync-batch-num, default 100 */
  batchSize: number;
  /** Batches pipelined per sender, default 4; with one more closed batch and the one filling, it bounds the commands held. */
  maxInFlightBatches?: number;
  /**
   * What the commands held by all senders together may weigh (commandCost) before the producer
   * waits, default DEFAULT_IN_FLIGHT_BYTES; a batch closes at this over (maxInFlightBatches + 2), so
   * one sender alone (one big key) still keeps its pipe full.
   */
  maxInFlightBytes?: number;
  logger: Logger;
  /** Per connection attempt, default 5000. */
  connectTimeoutMs?: number;
  /** After a drop, give up (fatal) when the target stays unreachable this long; default 60000. */
  reconnectGiveUpMs?: number;
  /** Backoff for retryable errors (OOM, LOADING, BUSY, READONLY): starts at min, doubles to max. Default 50 / 2000. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Prefix of the per-sender marker keys written into the target DB (removed on close). Default `pika-migrate:sink`. */
  markerPrefix?: string;
  /** Marker expiry so that a crashed run leaves nothing behind for long; default 24 h. */
  markerTtlMs?: number;
  /** Hash in the target DB where each sender records the last position it applied. Default `pika-migrate:applied`. */
  appliedKey?: string;
  /** target-redis-wait-replicas: acknowledge a batch once this many replicas have it (WAIT); default 0. */
  waitReplicas?: number;
  /** The WAIT timeout per batch before it counts as not replicated; default 1000. */
  waitTimeoutMs?: number;
  /** Whether batches record their position there (default true); off for a one-shot load, which no restart resumes. */
  recordApplied?: boolean;
  /** target-max-ops / target-max-bytes: commands and argument bytes per second (0: no limit). */
  maxOpsPerSec?: number;
  maxBytesPerSec?: number;
  /** Pace against this limiter instead of one of the pool's own (pools of one target share one). */
  limiter?: RateLimiter;
  /** Batches of overwrites as transactions when the target allows it (native-batch.ts); default true. Tests turn it off to compare. */
  transactions?: boolean;
}

export const SINK_DEFAULTS = {
  senders: 10,
  batchSize: 100,
  maxInFlightBatches: 4,
  maxInFlightBytes: DEFAULT_IN_FLIGHT_BYTES,
  connectTimeoutMs: 5000,
  reconnectGiveUpMs: 60_000,
  waitReplicas: 0,
  waitTimeoutMs: 1000,
  retryMinMs: 50,
  retryMaxMs: 2000,
  markerPrefix: 'pika-migrate:sink',
  appliedKey: 'pika-migrate:applied',
  markerTtlMs: 24 * 3600 * 1000,
} as const;

export type { CommandErrorEvent, SinkStats } from './sink.js';

/**
 * Fans commands out over `senders` connections by key hash, so one key's commands keep their order
 * while different keys go in parallel. Every command gets a pool-wide submission number; the pool
 * turns per-sender acknowledgements into the one source position up to which everything is applied.
 *
 * Positions must not decrease in submission order (snapshot records, then binlog offsets).
 *
 * Events: `fatal` (FatalError) once when it cannot go on; `commandError` (CommandErrorEvent) for
 * every error reply of a data command, `typeConflict` (CommandErrorEvent) for WRONGTYPE ones.
 */
/** Names one SETTLE_EXPIRED_SCRIPT call looks at (a script blocks Redis: keep each short). */
const SETTLE_PER_CALL = 100;

export class SenderPool extends EventEmitter implements Sink {
  /** Redis before 6.2 has no `SET … PXAT/EXAT`: converters must use their script forms. */
  readonly legacyTarget: boolean;
  readonly sideKeys = true;
  private readonly router: KeyRouter;
  private readonly senders: Sender[];
  private readonly log: Logger;
  private readonly acks = new AckTracker();
  /** Commands held behind a barrier, in submission order; null when no barrier is pending. */
  private held: Array<{ cmd: RedisCommand; gseq: number }> | null = null;
  private heldWaiter: Waiter | null = null;
  private fatalError: FatalError | null = null;
  private closed = false;
  private readonly tally: ErrorTally;
  /** The applied hash's name (see BATCH_SCRIPT). */
  readonly appliedKey: string;
  private readonly markerPrefix: string;
  /** Per sender, commands at or below this were applied before a restart: not sent again. */
  private skipUpTo: Array<SourcePosition | null> | null = null;
  private skipMax: SourcePosition | null = null;
  private skipped = 0;
  private readonly limiter: RateLimiter;
  private readonly budget: ByteBudget;

  private constructor(
    private readonly opts: SenderPoolOptions,
    conns: Redis[],
    runId: string,
    /** The target's `redis_version`. */
    readonly targetVersion: string,
    serverRunId: string,
    /** Per connection, as the server knows it; null when batches of overwrites cannot go as transactions. */
    clients: ServerClient[] | null,
  ) {
    super();
    const [major, minor] = targetVersion.split('.').map(Number);
    this.legacyTarget = major < 6 || (major === 6 && minor < 2);
    this.log = opts.logger.child({ component: 'sink' });
    // The code too: Redis 7.0's denial inside a script reads "ERR …" and would not say NOPERM.
    this.tally = new ErrorTally(this.log, ({ cmd, code, message }) => `Redis at ${targetName(this.opts)} refused ${cmd.name} on key ${commandKeyText(cmd)} at ${formatPosition(cmd.pos)} (${code}): ${message}`);
    this.router = new KeyRouter(conns.length);
    this.appliedKey = opts.appliedKey ?? SINK_DEFAULTS.appliedKey;
    this.limiter = opts.limiter ?? new RateLimiter(opts.maxOpsPerSec ?? 0, opts.maxBytesPerSec ?? 0);
    this.budget = new ByteBudget(opts.maxInFlightBytes ?? SINK_DEFAULTS.maxInFlightBytes);
    const maxInFlightBatches = opts.maxInFlightBatches ?? SINK_DEFAULTS.maxInFlightBatches;
    const hooks: SenderHooks = {
      acked: (_s, bytes) => {
        this.advance();
        this.budget.release(bytes);
      },
      commandError: (s, cmd, code, message, cls) => this.onCommandError(s.index, cmd, code, message, cls),
      retried: (_s, code) => this.tally.count(code, 'retryable'),
      fatal: (err) => this.fail(err),
    };
    const prefix = opts.markerPrefix ?? SINK_DEFAULTS.markerPrefix;
    this.markerPrefix = prefix;
    this.senders = conns.map(
      (redis, index) =>
        new Sender(
          {
            index,
            host: opts.host,
            port: opts.port,
            password: opts.password,
            username: opts.username,
            db: opts.db,
            tls: opts.tls,
            sentinel: opts.sentinel,
            connectTimeoutMs: opts.connectTimeoutMs ?? SINK_DEFAULTS.connectTimeoutMs,
            batchSize: opts.batchSize,
            batchBytes: Math.max(1, Math.floor(this.budget.max / (maxInFlightBatches + 2))),
            maxInFlightBatches,
            markerKey: `${prefix}:${runId}:${index}`,
            markerTtlMs: opts.markerTtlMs ?? SINK_DEFAULTS.markerTtlMs,
            serverRunId,
            native: clients !== null,
            serverClient: clients?.[index] ?? null,
            applied: opts.recordApplied === false ? null : { key: this.appliedKey, field: String(index), senders: conns.length },
            reconnectGiveUpMs: opts.reconnectGiveUpMs ?? SINK_DEFAULTS.reconnectGiveUpMs,
            waitReplicas: opts.waitReplicas ?? SINK_DEFAULTS.waitReplicas,
            waitTimeoutMs: opts.waitTimeoutMs ?? SINK_DEFAULTS.waitTimeoutMs,
            retryMinMs: opts.retryMinMs ?? SINK_DEFAULTS.retryMinMs,
            retryMaxMs: opts.retryMaxMs ?? SINK_DEFAULTS.retryMaxMs,
            logger: this.log,
          },
          redis,
          hooks,
        ),
    );
  }

  /**
   * Opens every sender connection and loads the batch script. Fails fast with a FatalError naming
   * host:port when the target is unreachable, refuses our credentials, or has scripting disabled.
   */
  static async connect(opts: SenderPoolOptions): Promise<SenderPool> {
    validate(opts);
    const target = { ...opts, connectTimeoutMs: opts.connectTimeoutMs ?? SINK_DEFAULTS.connectTimeoutMs };
    const opened: Redis[] = [];
    let version: string;
    let serverRunId: string;
    try {
      // The first connection alone: a bad password fails once, not `senders` times.
      opened.push(await openConnection(target, Sender.connectionName(0)));
      try {
        await opened[0].script('LOAD', BATCH_SCRIPT);
      } catch (e) {
        throw new FatalError(`Redis at ${targetName(target)} cannot run the batch script (EVALSHA/SCRIPT needed): ${(e as Error).message}`);
      }
      const info = await opened[0].info('server');
      version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? '0.0.0';
      serverRunId = runIdOf(info);
      const rest = await Promise.allSettled(
        Array.from({ length: opts.senders - 1 }, (_, i) => openConnection(target, Sender.connectionName(i + 1))),
      );
      for (const r of rest) if (r.status === 'fulfilled') opened.push(r.value);
      const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    } catch (e) {
      for (const c of opened) c.disconnect();
      if (e instanceof FatalError) throw e;
      throw new FatalError((e as Error).message);
    }
    let clients: ServerClient[] | null = null;
    const refusal = opts.transactions === false ? 'transactions off' : await nativeRefusal(opened[0], version);
    if (refusal === null) {
      try {
        clients = await Promise.all(opened.map((c) => serverClientOf(c)));
      } catch (e) {
        for (const c of opened) c.disconnect();
        throw new FatalError(`Redis at ${targetName(target)}: CLIENT INFO failed: ${(e as Error).message}`);
      }
    }
    const pool = new SenderPool(opts, opened, randomBytes(6).toString('hex'), version, serverRunId, clients);
    pool.log.info(
      { target: targetName(target), address: peerAddress(opened[0]), tls: opts.tls !== undefined, senders: opts.senders, batchSize: opts.batchSize, overwriteBatches: refusal === null ? 'transaction' : 'script' },
      'connected to Redis',
    );
    if (refusal !== null && opts.transactions !== false) {
      pool.log.info({ reason: refusal }, 'batches of overwrites (SET, HSET, SADD, ZADD, PEXPIREAT) go through the batch script: the target does not allow sending them as transactions (Redis 6.2+ with MULTI, CLIENT INFO and CLIENT KILL allowed); Redis spends about a third more CPU on them');
    }
    return pool;
  }

  submit(cmd: RedisCommand): void | Promise<void> {
    if (this.fatalError !== null) throw this.fatalError;
    if (this.closed) throw new Error('submit after close');
    const gseq = this.acks.next(cmd.pos);

    if (this.skipUpTo !== null && this.appliedBefore(cmd)) {
      this.skipped++;
      return;
    }
    const why = unsendable(cmd);
    if (why !== null) {
      this.tally.refuse(cmd, 'ERR', why);
      return;
    }
    let wait: void | Promise<void>;
    if (this.held !== null || cmd.barrier === true || cmd.key === null) wait = this.hold(cmd, gseq);
    else {
      const s = this.senders[this.router.senderOf(cmd.key)];
      const bytes = commandCost(cmd);
      const within = this.budget.take(bytes);
      wait = !s.submit(cmd, gseq, bytes) ? s.room() : within ? undefined : this.budget.room();
    }
    return paced(this.limiter, cmd, wait);
  }

  /** The target as messages name it (`host:port`, or the Sentinel master and its sentinels). */
  get target(): string {
    return targetName(this.opts);
  }

  /** target-max-ops / target-max-bytes, changed at run time (CONFIG SET). */
  setRateLimits(maxOpsPerSec: number, maxBytesPerSec: number): void {
    this.limiter.set(maxOpsPerSec, maxBytesPerSec);
    this.log.info({ maxOpsPerSec, maxBytesPerSec }, 'rate limits changed');
  }

  get rateLimits(): { maxOps: number; maxBytes: number } {
    return this.limiter.limits;
  }

  /** Whether a restart's applied hash says this command's sender already applied it. */
  private appliedBefore(cmd: RedisCommand): boolean {
    const skip = this.skipUpTo!;
    if (comparePositions(cmd.pos, this.skipMax!) > 0) {
      // Past everything applied before the restart: the check is over for good.
      this.skipUpTo = null;
      return false;
    }
    const upTo = skip[cmd.key === null ? 0 : this.router.senderOf(cmd.key)];
    return upTo !== null && comparePositions(cmd.pos, upTo) <= 0;
  }

  /**
   * Before resuming from a checkpoint: reads what each sender recorded as applied (see
   * BATCH_SCRIPT) and from then on drops commands at or below it — binlog entries the checkpoint
   * did not yet cover, and the snapshot commands a resumed load reads again — so none is applied
   * twice. Keys keep their sender only while the sender count
   * is unchanged; after a change, only what every sender applied is skipped (at least once for
   * the rest, reported). Returns what was found, for the log.
   */
  async resumeAfter(db: number): Promise<{ positions: Array<SourcePosition | null>; sendersChanged: boolean } | null> {
    const h = await this.senders[0].client().hgetall(this.appliedKey);
    const n = Number(h.senders);
    if (!Number.isInteger(n) || n < 1) return null;
    const recorded = Array.from({ length: n }, (_, i) => parseAppliedValue(h[String(i)], db));
    const known = recorded.filter((p): p is SourcePosition => p !== null);
    if (known.length === 0) return null;
    const max = known.reduce((a, b) => (comparePositions(a, b) >= 0 ? a : b));
    const sendersChanged = n !== this.senders.length;
    let skip: Array<SourcePosition | null>;
    if (sendersChanged) {
      const min = known.length < n ? null : known.reduce((a, b) => (comparePositions(a, b) <= 0 ? a : b));
      skip = this.senders.map(() => min);
      this.log.warn({ recordedSenders: n, senders: this.senders.length }, 'redis-sender-num changed since the last run: entries after the slowest sender\'s position may be applied twice');
    } else skip = recorded;
    this.skipUpTo = skip;
    this.skipMax = max;
    return { positions: recorded, sendersChanged };
  }

  /**
   * FLUSHDB on the target (target-flush-on-full-sync), with nothing in flight. The senders'
   * markers go with it; each sender's next batch finds its marker missing and settles that by
   * resending in order (nothing was outstanding, so nothing repeats).
   */
  async flushTargetDb(): Promise<void> {
    await this.flush();
    this.skipUpTo = null;
    this.forgiveMissingMarkers();
    await this.senders[0].client().call('FLUSHDB');
  }

  /** Why the target refuses batches right now (a sender retrying OOM, LOADING, …), or null. */
  refusedWith(): string | null {
    for (const s of this.senders) {
      const r = s.refusedWith();
      if (r !== null) return `Redis at ${targetName(this.opts)} keeps refusing batches: ${r}`;
    }
    return null;
  }

  /** Our own command is about to delete the senders' markers: see Sender.forgiveMissingMarker. */
  forgiveMissingMarkers(): void {
    for (const s of this.senders) s.forgiveMissingMarker();
  }

  async settleExpiredSides(order: string): Promise<number> {
    let total = 0;
    for (;;) {
      const n = Number(await this.senders[0].client().eval(SETTLE_EXPIRED_SCRIPT, 0, order, String(SETTLE_PER_CALL)));
      total += n;
      if (n < SETTLE_PER_CALL) return total;
    }
  }

  async dropSideNames(): Promise<number> {
    const c = this.senders[0].client();
    let cursor = '0';
    let n = 0;
    do {
      // Side names hold the source's key bytes: scanned and deleted as bytes.
      const [next, keys] = await c.scanBuffer(cursor, 'MATCH', `${SIDE_KEY_PREFIX}*`, 'COUNT', 1000);
      cursor = next.toString();
      if (keys.length > 0) n += await c.unlink(...keys);
    } while (cursor !== '0');
    await c.unlink(SIDE_EXPIRY_KEY, MULTI_TYPE_NAMES_KEY);
    return n;
  }

  /** Forgets the applied positions (a new full sync, or SLAVEOF NO ONE). */
  async clearApplied(): Promise<void> {
    this.skipUpTo = null;
    await this.senders[0].client().del(this.appliedKey);
  }

  /**
   * The migration ended (SLAVEOF NO ONE): flushes, then deletes every key of ours from the target
   * DB (own-keys.ts), this run's markers and those runs killed before us left. Nothing must be
   * submitted meanwhile.
   */
  async removeOwnKeys(): Promise<number> {
    await this.flush();
    this.skipUpTo = null;
    const n = await deleteOwnKeys(this.senders[0].client(), { markerPrefix: this.markerPrefix, appliedKey: this.appliedKey });
    for (const s of this.senders) s.markerRemoved();
    return n;
  }

  flush(): Promise<void> {
    if (this.fatalError !== null) return Promise.reject(this.fatalError);
    for (const s of this.senders) s.flushPending();
    return this.until(this.acks.submitted);
  }

  appliedPosition(): SourcePosition | null {
    this.advance();
    return this.acks.applied;
  }

  senderPositions(): Array<SourcePosition | null> {
    return this.senders.map((s) => s.lastAckedPosition());
  }

  stats(): SinkStats {
    const senders = this.senders.map((s) => s.stats());
    const total = totalOf(senders, this.acks.submitted, this.held?.length ?? 0);
    return {
      senders,
      errors: { ...this.tally.errors },
      errorClasses: { ...this.tally.classes },
      typeConflicts: this.tally.classes.typeConflict,
      skippedAsApplied: this.skipped,
      keysKept: this.tally.classes.keyKept,
      refused: this.tally.refused,
      possibleRepeats: 0,
      redirections: 0,
      total,
    };
  }

  /** Flushes, then removes the marker keys and quits. After a fatal error it only disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.fatalError === null) await this.flush();
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.senders.map((s) => s.close()));
  }

  /**
   * Drops everything not yet acknowledged and disconnects at once (shutdown on a signal, or after
   * the caller gave up). Waiting producers and flushes are rejected. Idempotent; a no-op after close.
   */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    const err = new Error('sink destroyed');
    for (const s of this.senders) s.stop(err);
    this.acks.rejectAll(err);
    this.budget.reject(err);
    this.heldWaiter?.reject(err);
    this.heldWaiter = null;
  }

  /** Resolves once every command with submission number below `end` is acknowledged. */
  private until(end: number): Promise<void> {
    return this.acks.until(end, this.firstUnacked());
  }

  private firstUnacked(): number {
    let u = this.acks.submitted;
    if (this.held !== null && this.held.length > 0 && this.held[0].gseq < u) u = this.held[0].gseq;
    for (const s of this.senders) {
      const g = s.oldestUnacked();
      if (g < u) u = g;
    }
    return u;
  }

  /** Moves the applied position forward and wakes flushes; runs after every acknowledged batch. */
  private advance(): void {
    this.acks.advance(this.firstUnacked());
  }

  private hold(cmd: RedisCommand, gseq: number): Promise<void> {
    if (this.held === null) {
      this.held = [];
      this.heldWaiter = newWaiter();
      this.held.push({ cmd, gseq });
      void this.releaseHeld();
    } else {
      this.held.push({ cmd, gseq });
    }
    return (this.heldWaiter as Waiter).promise;
  }

  /**
   * Works through the held queue: a barrier command waits until everything submitted before it is
   * acknowledged, goes out alone, and is acknowledged before anything after it is released.
   */
  private async releaseHeld(): Promise<void> {
    const held = this.held as Array<{ cmd: RedisCommand; gseq: number }>;
    try {
      while (held.length > 0) {
        const { cmd, gseq } = held[0];
        if (cmd.barrier === true || cmd.key === null) {
          for (const s of this.senders) s.flushPending();
          await this.until(gseq);
          const s = this.senders[cmd.key === null ? 0 : this.router.senderOf(cmd.key)];
          if (wipesMarkers(cmd)) {
            // Before it is sent: a sender of another DB may find its marker gone before this one's reply is in.
            this.forgiveMissingMarkers();
            if (cmd.name === 'FLUSHALL') this.emit('flushAll');
          }
          const bytes = commandCost(cmd);
          this.budget.take(bytes);
          s.submit(cmd, gseq, bytes);
          held.shift();
          s.flushPending();
          await this.until(gseq + 1);
        } else {
          const s = this.senders[this.router.senderOf(cmd.key)];
          const bytes = commandCost(cmd);
          const within = this.budget.take(bytes);
          const room = s.submit(cmd, gseq, bytes);
          held.shift();
          if (!room) await s.room();
          else if (!within) await this.budget.room();
        }
        if (this.fatalError !== null) return;
      }
      this.held = null;
      const w = this.heldWaiter;
      this.heldWaiter = null;
      w?.resolve();
    } catch (e) {
      this.fail(e instanceof FatalError ? e : new FatalError((e as Error).message));
    }
  }

  private onCommandError(sender: number, cmd: RedisCommand, code: string, message: string, cls: ErrorClass): void {
    const ev: CommandErrorEvent = { cmd, code, message, class: cls, sender };
    const fatal = this.tally.commandError(ev);
    if (cls === 'typeConflict') this.emit('typeConflict', ev);
    if (fatal !== null) this.fail(fatal);
    this.emit('commandError', ev);
  }

  private fail(err: FatalError): void {
    if (this.fatalError !== null) return;
    this.fatalError = err;
    this.tally.count(err.message.includes('WRONGPASS') ? 'WRONGPASS' : err.message.includes('NOAUTH') ? 'NOAUTH' : 'FATAL', 'fatal');
    this.log.error({ err: err.message }, 'sink cannot go on');
    for (const s of this.senders) s.stop(err);
    this.acks.rejectAll(err);
    this.budget.reject(err);
    this.heldWaiter?.reject(err);
    this.heldWaiter = null;
    this.emit('fatal', err);
  }
}

function validate(o: SenderPoolOptions): void {
  const positive = (name: string, v: number | undefined): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new ConfigError(`sink: ${name} must be a positive integer, got ${v}`);
  };
  positive('senders', o.senders);
  positive('batchSize', o.batchSize);
  positive('maxInFlightBatches', o.maxInFlightBatches);
  positive('maxInFlightBytes', o.maxInFlightBytes);
  if (!Number.isInteger(o.db) || o.db < 0) throw new ConfigError(`sink: db must be a non-negative integer, got ${o.db}`);
}

/** Why a command cannot be applied exactly inside a batch, or null when it can. */
function unsendable(cmd: RedisCommand): string | null {
  if (cmd.args.length >= MAX_COMMAND_ARGS) return `more than ${MAX_COMMAND_ARGS - 1} arguments cannot be applied exactly; producers must chunk big keys`;
  if (cmd.name === 'EVAL' && inlineName(cmd) === null) return 'EVAL of a script the batch script does not inline (Redis forbids EVAL inside a script)';
  return null;
}

