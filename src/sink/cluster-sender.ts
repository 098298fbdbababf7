import type { Redis } from 'ioredis';
import type { RedisCommand } from '../core/command.js';
import { FatalError, TargetLostWritesError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { parseRedirect } from './cluster-slots.js';
import { openConnection, runIdOf, targetName, type TargetOptions } from './connection.js';
import { classifyCode, errorCode, type ErrorClass } from './replies.js';
import type { SenderStats } from './sender.js';
import { newWaiter, type Waiter } from '../core/waiter.js';
import { Backoff } from './backoff.js';
import { WirePipe } from './cluster-wire.js';

/** A command on its way to a cluster master, with its pool-wide submission number and its slot. */
export interface ClusterEntry {
  readonly cmd: RedisCommand;
  readonly gseq: number;
  readonly slot: number;
  /** A multi-key command: sent alone, nothing of its node pipelined after it until its reply. */
  readonly alone: boolean;
  /** What it weighs while held (commandCost), given back to the pool's budget once it is done with. */
  readonly bytes: number;
}

/**
 * A command to send again, in order, before anything after it on its key. `redirect` is the
 * `host:port` a MOVED or ASK named; `maybeApplied` says whether Redis may have run it already
 * (its reply was lost, or it succeeded but an earlier command of its key must run first).
 */
export interface RetryEntry {
  readonly entry: ClusterEntry;
  readonly redirect: string | null;
  readonly asking: boolean;
  readonly maybeApplied: boolean;
}

export interface NodeSenderOptions extends TargetOptions {
  readonly index: number;
  readonly batchSize: number;
  /** A batch is cut once its commands weigh this much (commandCost), whatever their count. */
  readonly batchBytes: number;
  readonly maxInFlightBatches: number;
  readonly reconnectGiveUpMs: number;
  readonly logger: Logger;
}

export interface NodeSenderHooks {
  /** Commands are done with (applied, or their error reported); `bytes`: what they weighed. */
  acked(bytes: number): void;
  commandError(sender: NodeSender, cmd: RedisCommand, code: string, message: string, cls: ErrorClass): void;
  /** Sends `retries` again one by one, following redirections, then re-homes the sender's slots. */
  settle(sender: NodeSender, retries: RetryEntry[]): Promise<void>;
  /** Asks the cluster who serves the sender's slots now and moves its queue where they went. */
  rehome(sender: NodeSender): Promise<void>;
  /** Whether any slot still routes to this sender. */
  serves(sender: NodeSender): boolean;
  fatal(err: FatalError): void;
}

interface Batch {
  readonly entries: ClusterEntry[];
  readonly minGseq: number;
  results: Array<Error | null> | null;
}

function keyId(e: ClusterEntry): string {
  return (e.cmd.key as Buffer).toString('latin1');
}

/**
 * One connection to one cluster master. Commands are pipelined as plain commands in batches of
 * `batchSize`, up to `maxInFlightBatches` in flight, each batch one pre-encoded write whose replies
 * the WirePipe reads (ioredis only opens the connection). Any reply that asks for a resend (MOVED,
 * ASK, TRYAGAIN, CLUSTERDOWN, OOM, LOADING, … or a reply lost with the connection) stops the
 * sender: once every outstanding reply is in, the pool sends those commands again one at a time
 * (redirections followed), together with every later command of the same key that was in flight,
 * so that no command overtakes an earlier one of its key; then it moves the sender's queue to
 * wherever its slots went and the sender goes on.
 */
export class NodeSender {
  readonly index: number;
  readonly addr: string;
  private redis: Redis | null;
  /** The batches' path on `redis`, once ioredis has nothing in flight on it. */
  private wire: WirePipe | null = null;
  private queue: ClusterEntry[] = [];
  private queueMin = Infinity;
  private inFlight: Batch[] = [];
  private retries: RetryEntry[] = [];
  /**
   * Keys with a command to resend in the current window: later commands of theirs are resent too.
   * Per key, not per slot: other keys of the slot cannot be reordered against it, and resending
   * them would only add repeats. (A multi-key command is alone in its window.)
   */
  private readonly poisoned = new Set<string>();
  private settling: RetryEntry[] | null = null;
  private connecting = false;
  private stopped = false;
  private immediate = false;
  private roomWaiter: Waiter | null = null;
  private readonly counters = { sent: 0, batches: 0, acked: 0, retries: 0, reconnects: 0, lostReplies: 0 };
  private readonly log: Logger;
  /** The node's run_id when first reached; null until known. */
  private serverRunId: string | null = null;

  constructor(
    private readonly opts: NodeSenderOptions,
    redis: Redis | null,
    private readonly hooks: NodeSenderHooks,
  ) {
    this.index = opts.index;
    this.addr = targetName(opts);
    this.log = opts.logger.child({ sender: opts.index, node: this.addr });
    this.redis = redis;
    if (redis !== null) {
      this.watch(redis);
      redis
        .info('server')
        .then(
          (info) => (this.serverRunId ??= runIdOf(info)),
          () => {},
        )
        .finally(() => {
          if (this.redis !== redis || this.stopped) return;
          this.wire = new WirePipe(redis);
          this.pump(false);
        });
    }
  }

  static connectionName(index: number): string {
    return `pika-migrate-cluster-${index}`;
  }

  /** Queues a command; false when the sender is over its bound and the producer should wait. */
  submit(e: ClusterEntry): boolean {
    this.push(e);
    if (this.queue.length >= this.opts.batchSize) this.pump(false);
    return this.hasRoom();
  }

  /** Takes over commands of slots that moved here, in their order. */
  adopt(entries: readonly ClusterEntry[]): void {
    for (const e of entries) this.push(e);
    this.pump(false);
  }

  /** Removes and returns, in order, the queued commands `moved` selects. */
  take(moved: (e: ClusterEntry) => boolean): ClusterEntry[] {
    const out: ClusterEntry[] = [];
    const keep: ClusterEntry[] = [];
    for (const e of this.queue) (moved(e) ? out : keep).push(e);
    this.queue = keep;
    this.queueMin = keep.reduce((m, e) => Math.min(m, e.gseq), Infinity);
    this.wakeRoom();
    return out;
  }

  room(): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    if (this.roomWaiter === null) {
      this.roomWaiter = newWaiter();
    }
    return this.roomWaiter.promise;
  }

  flushPending(): void {
    this.pump(true);
  }

  /** Submission number of the oldest command not yet acknowledged, or Infinity. */
  oldestUnacked(): number {
    let u = this.queueMin;
    for (const b of this.inFlight) if (b.minGseq < u) u = b.minGseq;
    for (const r of this.retries) if (r.entry.gseq < u) u = r.entry.gseq;
    if (this.settling !== null) for (const r of this.settling) if (r.entry.gseq < u) u = r.entry.gseq;
    return u;
  }

  stats(): SenderStats {
    let inFlight = this.retries.length + (this.settling?.length ?? 0);
    for (const b of this.inFlight) inFlight += b.entries.length;
    const c = this.counters;
    return { queued: this.queue.length, inFlight, sent: c.sent, batches: c.batches, acked: c.acked, retries: c.retries, reconnects: c.reconnects, lostReplies: c.lostReplies };
  }

  async close(): Promise<void> {
    this.stopped = true;
    const redis = this.redis;
    this.redis = null;
    const wired = this.wire !== null;
    this.wire = null;
    if (redis === null) return;
    try {
      // Once the wire reads the socket ioredis would not see QUIT's reply.
      if (redis.status === 'ready' && !wired) await redis.quit();
    } catch {
      // closing anyway
    } finally {
      redis.disconnect();
    }
  }

  stop(err: Error): void {
    this.stopped = true;
    this.roomWaiter?.reject(err);
    this.roomWaiter = null;
    this.redis?.disconnect();
    this.redis = null;
    this.wire = null;
  }

  private push(e: ClusterEntry): void {
    this.queue.push(e);
    if (e.gseq < this.queueMin) this.queueMin = e.gseq;
    if (!this.immediate) {
      this.immediate = true;
      setImmediate(this.onImmediate);
    }
  }

  private hasRoom(): boolean {
    return this.queue.length <= this.opts.batchSize * (this.opts.maxInFlightBatches + 1);
  }

  private wakeRoom(): void {
    if (this.roomWaiter !== null && this.hasRoom()) {
      const w = this.roomWaiter;
      this.roomWaiter = null;
      w.resolve();
    }
  }

  private readonly onImmediate = (): void => {
    this.immediate = false;
    this.pump(false);
  };

  /**
   * Writes batches while there is room in flight. A partial batch goes out only when the pipe is
   * empty (or on a flush): under load batches fill up, when idle nothing waits longer than one reply.
   */
  private pump(partialOk: boolean): void {
    if (this.stopped || this.settling !== null || this.retries.length > 0 || this.queue.length === 0) return;
    if (this.redis === null || this.redis.status !== 'ready') {
      // Not before every reply of the old connection is in: a new one must not overtake their resends.
      if (this.inFlight.length === 0) this.connect();
      return;
    }
    if (this.wire === null) return;
    const max = this.opts.maxInFlightBatches;
    while (this.queue.length > 0 && this.inFlight.length < max) {
      const lastAlone = this.inFlight.length > 0 && this.inFlight[this.inFlight.length - 1].entries[0].alone;
      if (lastAlone) return;
      if (this.queue[0].alone) {
        if (this.inFlight.length > 0) return;
        this.send(this.queue.splice(0, 1));
        continue;
      }
      let n = 0;
      let bytes = 0;
      while (n < this.queue.length && n < this.opts.batchSize && bytes < this.opts.batchBytes && !this.queue[n].alone) bytes += this.queue[n++].bytes;
      if (n < this.opts.batchSize && n === this.queue.length && !partialOk && this.inFlight.length > 0) return;
      this.send(this.queue.splice(0, n));
    }
  }

  private send(entries: ClusterEntry[]): void {
    const wire = this.wire as WirePipe;
    if (this.queue.length === 0) this.queueMin = Infinity;
    else if (entries.some((e) => e.gseq === this.queueMin)) this.queueMin = this.queue.reduce((m, e) => Math.min(m, e.gseq), Infinity);
    let minGseq = Infinity;
    const cmds = new Array<RedisCommand>(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e.gseq < minGseq) minGseq = e.gseq;
      cmds[i] = e.cmd;
    }
    const batch: Batch = { entries, minGseq, results: null };
    this.inFlight.push(batch);
    this.counters.sent += entries.length;
    this.counters.batches++;
    this.wakeRoom();
    wire.send(cmds, (results) => {
      batch.results = results;
      this.drain();
    });
  }

  /** Handles the replies of the batches at the head of the pipe, in order. */
  private drain(): void {
    let acked = false;
    let bytes = 0;
    while (this.inFlight.length > 0 && this.inFlight[0].results !== null) {
      const b = this.inFlight.shift() as Batch;
      const results = b.results as Array<Error | null>;
      for (let i = 0; i < b.entries.length; i++) {
        if (this.stopped) return;
        // A reply missing from the pipeline's results is a lost one, never a success.
        const r = results[i];
        if (this.handle(b.entries[i], r === undefined ? new Error('no reply') : r)) {
          acked = true;
          bytes += b.entries[i].bytes;
        }
      }
    }
    if (acked) this.hooks.acked(bytes);
    if (this.retries.length > 0) {
      if (this.inFlight.length === 0) this.settle();
      return;
    }
    this.pump(false);
  }

  /** One reply; true when the command is done with (applied, or its error reported). */
  private handle(e: ClusterEntry, err: Error | null): boolean {
    const isReply = err !== null && err.name === 'ReplyError';
    if (this.poisoned.size > 0 && this.poisoned.has(keyId(e))) {
      // An earlier command of this key will run again: this one must run again after it.
      this.retries.push({ entry: e, redirect: null, asking: false, maybeApplied: err === null || !isReply });
      if (err !== null && !isReply) this.counters.lostReplies++;
      return false;
    }
    if (err === null) {
      this.counters.acked++;
      return true;
    }
    if (!isReply) {
      this.counters.lostReplies++;
      this.retry(e, null, false, true);
      return false;
    }
    const redirect = parseRedirect(err.message, this.opts.host);
    if (redirect !== null) {
      this.retry(e, redirect.addr, redirect.asking, false);
      return false;
    }
    const code = errorCode(err.message);
    const cls = classifyCode(code);
    if (cls === 'retryable') {
      this.retry(e, null, false, false);
      return false;
    }
    if (cls === 'fatal') {
      this.hooks.fatal(new FatalError(`Redis at ${this.addr} refused our commands: ${err.message}`));
      return false;
    }
    this.hooks.commandError(this, e.cmd, code, err.message, cls);
    this.counters.acked++;
    return true;
  }

  private retry(entry: ClusterEntry, redirect: string | null, asking: boolean, maybeApplied: boolean): void {
    this.retries.push({ entry, redirect, asking, maybeApplied });
    this.poisoned.add(keyId(entry));
  }

  private settle(): void {
    const retries = this.retries;
    this.retries = [];
    this.poisoned.clear();
    this.settling = retries;
    this.counters.retries += retries.length;
    this.hooks.settle(this, retries).then(
      () => {
        this.counters.acked += retries.length;
        this.settling = null;
        this.hooks.acked(retries.reduce((n, r) => n + r.entry.bytes, 0));
        this.wakeRoom();
        this.pump(false);
      },
      (e: Error) => {
        this.settling = null;
        this.fail(e instanceof FatalError ? e : new FatalError(`sender ${this.index} (${this.addr}): ${e.message}`));
      },
    );
  }

  /** Opens the connection again after a drop; while the node stays away, asks whether its slots moved. */
  private connect(): void {
    if (this.connecting || this.stopped) return;
    this.connecting = true;
    const reconnect = this.redis !== null || this.counters.batches > 0;
    if (this.redis !== null) {
      this.redis.removeAllListeners('end');
      this.redis.disconnect();
      this.redis = null;
      this.wire = null;
    }
    const backoff = new Backoff(this.opts.reconnectGiveUpMs, 100, 2000);
    const attempt = async (): Promise<void> => {
      for (;;) {
        if (this.stopped) return;
        try {
          const redis = await openConnection(this.opts, NodeSender.connectionName(this.index));
          if (this.stopped) {
            redis.disconnect();
            return;
          }
          await this.checkSameServer(redis);
          this.redis = redis;
          this.wire = new WirePipe(redis);
          this.watch(redis);
          if (reconnect) {
            this.counters.reconnects++;
            this.log.info('reconnected to the cluster node');
          }
          return;
        } catch (e) {
          if (e instanceof FatalError) throw e;
          const msg = (e as Error).message;
          if (backoff.exhausted) {
            throw new FatalError(`lost the connection to cluster node ${this.addr} and could not reconnect for ${Math.round(this.opts.reconnectGiveUpMs / 1000)} s: ${msg}`);
          }
          await this.hooks.rehome(this);
          if (!this.hooks.serves(this) && this.queue.length === 0) {
            this.log.info('the node serves none of our slots any more; its queue moved');
            return;
          }
          this.log.warn({ err: msg, retryInMs: backoff.delayMs }, 'reconnecting to the cluster node');
          await backoff.sleep();
        }
      }
    };
    attempt().then(
      () => {
        this.connecting = false;
        this.pump(false);
      },
      (e: Error) => {
        this.connecting = false;
        this.fail(e instanceof FatalError ? e : new FatalError(e.message));
      },
    );
  }

  /**
   * A master that comes back with another run_id restarted (or was replaced). If it loaded no keys
   * at its start (`rdb_last_load_keys_loaded:0`; Redis before 7.0 does not say, so any restart
   * counts) after it had acknowledged commands of ours, it lost them: cluster batches leave no
   * marker to tell exactly, and at-least-once cannot resend what was acknowledged. One that loaded
   * its data is taken as it is: a restart from an older save is not seen.
   */
  private async checkSameServer(redis: Redis): Promise<void> {
    let runId: string;
    let loaded: number | null = null;
    try {
      runId = runIdOf(await redis.info('server'));
      if (this.serverRunId !== null && runId !== this.serverRunId) {
        const m = /^rdb_last_load_keys_loaded:(\d+)/m.exec(await redis.info('persistence'));
        loaded = m === null ? null : Number(m[1]);
      }
    } catch (e) {
      redis.disconnect();
      throw e;
    }
    const was = this.serverRunId;
    this.serverRunId = runId;
    if (was === null || was === runId) return;
    if (this.counters.acked === 0 || (loaded !== null && loaded > 0)) {
      this.log.warn({ runId, was, keysLoaded: loaded }, 'the cluster node restarted (its run_id changed) with its data: commands it acknowledged after its last save may be lost (a cluster target is at-least-once)');
      return;
    }
    redis.disconnect();
    const how = loaded === null ? 'it restarted (its Redis does not say what it loaded)' : 'it restarted empty';
    throw new TargetLostWritesError(
      `cluster node ${this.addr} lost writes it had acknowledged: ${how} (run_id ${was} is now ${runId}) after acknowledging ${this.counters.acked} commands of sender ${this.index}. ` +
        'A load must be run again; the daemon waits for SLAVEOF <master> force (see the README, "Target lost writes")',
    );
  }

  private watch(redis: Redis): void {
    redis.on('error', (e: Error) => this.log.debug({ err: e.message }, 'redis connection error'));
    redis.once('end', () => {
      if (this.redis !== redis || this.stopped) return;
      this.log.warn('connection to the cluster node lost; will reconnect and resend what was not acknowledged');
      this.redis = null;
      this.wire = null;
      // Replies still owed come back as errors and are resent; a queue waiting for room reconnects now.
      if (this.inFlight.length === 0) this.pump(false);
    });
  }

  private fail(err: FatalError): void {
    if (this.stopped) return;
    this.hooks.fatal(err);
  }
}
