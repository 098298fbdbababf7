import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { commandKeyText, type RedisCommand } from '../core/command.js';
import { ConfigError, FatalError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { formatPosition, type SourcePosition } from '../core/position.js';
import { AckTracker } from './ack-tracker.js';
import { commandKeys, commonSlot, withSlotGuard } from './cluster-keys.js';
import { NodeSender, type ClusterEntry, type NodeSenderHooks, type RetryEntry } from './cluster-sender.js';
import { NodeLinks } from './cluster-links.js';
import { clusterSlot, SLOTS } from '../core/cluster-slot.js';
import { parseClusterSlots, parseRedirect, splitAddr, type SlotMap } from './cluster-slots.js';
import { openConnection, TargetUnreachableError, type TargetOptions } from './connection.js';
import { paced, RateLimiter } from './rate-limit.js';
import { ByteBudget, commandCost, DEFAULT_IN_FLIGHT_BYTES } from './byte-budget.js';
import { classifyCode, errorCode, type ErrorClass } from './replies.js';
import { ErrorTally } from './error-tally.js';
import { totalOf, type CommandErrorEvent, type Sink, type SinkStats } from './sink.js';
import { newWaiter, type Waiter } from '../core/waiter.js';
import { Backoff } from './backoff.js';
import { deleteOwnKeys } from './own-keys.js';
import { SINK_DEFAULTS } from './pool.js';
import type { ConnectionOptions } from 'node:tls';

export interface ClusterPoolOptions {
  /** Nodes to ask for the slot map; any one answering is enough. */
  seeds: ReadonlyArray<{ host: string; port: number }>;
  password?: string;
  username?: string;
  /** TLS to every node (a cluster with tls-cluster, whose CLUSTER SLOTS names the TLS ports). */
  tls?: ConnectionOptions;
  /** sync-batch-num: commands per pipelined batch. */
  batchSize: number;
  /** Batches pipelined per master, default 4. */
  maxInFlightBatches?: number;
  /** What the commands held by all masters' senders may weigh before the producer waits: as SenderPool's. */
  maxInFlightBytes?: number;
  logger: Logger;
  connectTimeoutMs?: number;
  /** Give up (fatal) when a node stays unreachable this long and its slots did not move; default 60000. */
  reconnectGiveUpMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  maxOpsPerSec?: number;
  maxBytesPerSec?: number;
  /** A rate limiter shared with other sinks of the same target (then maxOps/maxBytesPerSec are ignored). */
  limiter?: RateLimiter;
  /** Redirections followed for one command before it counts as a failure; default 16. */
  maxRedirections?: number;
}

const DEFAULTS = { maxInFlightBatches: 4, connectTimeoutMs: 5000, reconnectGiveUpMs: 60_000, retryMinMs: 50, retryMaxMs: 2000, maxRedirections: 16 } as const;

interface Held {
  readonly cmd: RedisCommand;
  readonly entry: ClusterEntry | null;
  readonly gseq: number;
}

/**
 * The sink for a Redis Cluster target: one NodeSender per master, each command routed by its
 * slot (hash tags included). Commands go out as plain pipelined commands, not in the batch script
 * of the standalone sink: a script may only touch keys of one slot, and batches of one slot would
 * be a few commands each. The price is at-least-once: a reply lost with its connection, or a
 * command resent behind an earlier one of its key, may run twice; each such resend is counted in
 * `possibleRepeats`. Per-key order holds across MOVED/ASK (see NodeSender). The slot table moves a
 * slot to its new master only while its old sender has nothing in flight, so no command of a key
 * can reach the new master before the older ones sent to the old master are settled.
 *
 * Multi-key commands run as they are when all their keys share a slot (sent alone on their node),
 * and are refused (counted in `refused`, logged with the command) otherwise. Keyless commands
 * (FLUSHDB, FLUSHALL, the pattern-delete script) wait for everything before them and run on every
 * master.
 */
export class ClusterPool extends EventEmitter implements Sink {
  readonly legacyTarget: boolean;
  readonly sideKeys = false;
  private readonly log: Logger;
  /** Routing: the sender of each slot. Changes only as described above. */
  private readonly route: NodeSender[];
  private readonly senders = new Map<string, NodeSender>();
  /** Connections for resends and pool-level commands. */
  private readonly links: NodeLinks;
  private readonly acks = new AckTracker();
  private held: Held[] | null = null;
  private heldWaiter: Waiter | null = null;
  private fatalError: FatalError | null = null;
  private closed = false;
  private readonly tally: ErrorTally;
  private possibleRepeats = 0;
  private redirections = 0;
  private readonly limiter: RateLimiter;
  private readonly budget: ByteBudget;
  private readonly hooks: NodeSenderHooks;
  private warnedResume = false;

  /** The cluster as messages name it: by the seeds it was found from. */
  get target(): string {
    return `cluster ${this.opts.seeds.map((x) => `${x.host}:${x.port}`).join(',')}`;
  }

  private constructor(
    private readonly opts: ClusterPoolOptions,
    map: SlotMap,
    conns: Map<string, Redis>,
    readonly targetVersion: string,
  ) {
    super();
    const [major, minor] = targetVersion.split('.').map(Number);
    this.legacyTarget = major < 6 || (major === 6 && minor < 2);
    this.log = opts.logger.child({ component: 'sink', target: 'cluster' });
    this.tally = new ErrorTally(this.log, ({ cmd, message }) => `the Redis Cluster refused ${cmd.name} on key ${commandKeyText(cmd)} at ${formatPosition(cmd.pos)}: ${message}`);
    this.limiter = opts.limiter ?? new RateLimiter(opts.maxOpsPerSec ?? 0, opts.maxBytesPerSec ?? 0);
    this.budget = new ByteBudget(opts.maxInFlightBytes ?? DEFAULT_IN_FLIGHT_BYTES);
    this.hooks = {
      acked: (bytes) => {
        this.advance();
        this.budget.release(bytes);
      },
      commandError: (s, cmd, code, message, cls) => this.onCommandError(s.index, cmd, code, message, cls),
      settle: (s, retries) => this.settle(s, retries),
      rehome: (s) => this.rehome(s),
      serves: (s) => this.route.includes(s),
      fatal: (err) => this.fail(err),
    };
    this.links = new NodeLinks(
      (addr) => nodeTarget(opts, splitAddr(addr)),
      () => [...this.senders.keys(), ...opts.seeds.map((x) => `${x.host}:${x.port}`)],
    );
    for (const [addr, redis] of conns) this.senderFor(addr, redis);
    this.route = map.map((addr) => this.senderFor(addr));
  }

  /**
   * Reads the slot map from the first seed that answers, then connects to every master. Fails fast
   * (FatalError) when no seed answers, a seed is not a cluster node, the cluster has unserved slots,
   * or a master refuses our credentials.
   */
  static async connect(opts: ClusterPoolOptions): Promise<ClusterPool> {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new ConfigError(`sink: batchSize must be a positive integer, got ${opts.batchSize}`);
    const maxBytes = opts.maxInFlightBytes;
    if (maxBytes !== undefined && (!Number.isInteger(maxBytes) || maxBytes < 1)) throw new ConfigError(`sink: maxInFlightBytes must be a positive integer, got ${maxBytes}`);
    if (opts.seeds.length === 0) throw new ConfigError('sink: a cluster target needs at least one seed node');
    const conns = new Map<string, Redis>();
    try {
      let map: SlotMap | null = null;
      let version = '0.0.0';
      const failures: string[] = [];
      for (const seed of opts.seeds) {
        let c: Redis | null = null;
        try {
          c = await openConnection(nodeTarget(opts, seed), 'pika-migrate-cluster-seed');
          map = parseClusterSlots(await c.call('CLUSTER', 'SLOTS'), seed.host);
          version = /redis_version:([^\r\n]+)/.exec(await c.info('server'))?.[1] ?? version;
          break;
        } catch (e) {
          const msg = (e as Error).message;
          if (e instanceof FatalError) throw e;
          if (/cluster support disabled/i.test(msg)) throw new FatalError(`target-redis-cluster is set but Redis at ${seed.host}:${seed.port} is not a cluster node: ${msg}`);
          failures.push(`${seed.host}:${seed.port}: ${msg}`);
        } finally {
          c?.disconnect();
        }
      }
      if (map === null) throw new FatalError(`no seed of the Redis Cluster gave a usable slot map (${failures.join('; ')})`);
      for (const addr of new Set(map)) {
        conns.set(addr, await openConnection(nodeTarget(opts, splitAddr(addr)), NodeSender.connectionName(conns.size)));
      }
      const pool = new ClusterPool(opts, map, conns, version);
      pool.log.info({ masters: [...conns.keys()], batchSize: opts.batchSize }, 'connected to the Redis Cluster');
      return pool;
    } catch (e) {
      for (const c of conns.values()) c.disconnect();
      if (e instanceof FatalError) throw e;
      throw new FatalError((e as Error).message);
    }
  }

  submit(cmd: RedisCommand): void | Promise<void> {
    if (this.fatalError !== null) throw this.fatalError;
    if (this.closed) throw new Error('submit after close');
    const gseq = this.acks.next(cmd.pos);
    let entry: ClusterEntry | null = null;
    if (cmd.key !== null) {
      entry = this.entryOf(cmd, gseq);
      if (entry === null) return;
    }
    let wait: void | Promise<void>;
    if (this.held !== null || entry === null) wait = this.hold({ cmd, entry, gseq });
    else {
      const s = this.route[entry.slot];
      const within = this.budget.take(entry.bytes);
      wait = !s.submit(entry) ? s.room() : within ? undefined : this.budget.room();
    }
    return paced(this.limiter, cmd, wait);
  }

  setRateLimits(maxOpsPerSec: number, maxBytesPerSec: number): void {
    this.limiter.set(maxOpsPerSec, maxBytesPerSec);
    this.log.info({ maxOpsPerSec, maxBytesPerSec }, 'rate limits changed');
  }

  get rateLimits(): { maxOps: number; maxBytes: number } {
    return this.limiter.limits;
  }

  /** A cluster target records no applied positions (at-least-once): entries after the checkpoint run again. */
  resumeAfter(_db: number): Promise<null> {
    if (!this.warnedResume) {
      this.warnedResume = true;
      this.log.warn('cluster target: binlog entries applied after the checkpoint are applied again (at-least-once)');
    }
    return Promise.resolve(null);
  }

  clearApplied(): Promise<void> {
    return Promise.resolve();
  }

  /** The migration ended: flushes, then deletes our keys (the load guards; a cluster has no markers or applied hash) on every master. */
  async removeOwnKeys(): Promise<number> {
    await this.flush();
    const map = await this.links.topology();
    if (map === null) throw new Error(`cannot remove pika-migrate's keys from the Redis Cluster ${this.target}: no node answers CLUSTER SLOTS`);
    let n = 0;
    for (const addr of new Set(map)) n += await this.links.withNode(addr, (c) => deleteOwnKeys(c, SINK_DEFAULTS));
    return n;
  }

  /** A cluster sender settles refusals one command at a time, with a give-up time of its own. */
  refusedWith(): string | null {
    return null;
  }

  /** Cluster batches leave no markers: nothing to forgive (a restarted master is told by its run_id). */
  forgiveMissingMarkers(): void {}

  /** A cluster keeps no side names (sideKeys is false): nothing to settle. */
  settleExpiredSides(): Promise<number> {
    return Promise.resolve(0);
  }

  /** A cluster keeps no side names (sideKeys is false): nothing to drop. */
  dropSideNames(): Promise<number> {
    return Promise.resolve(0);
  }

  /** FLUSHDB on every master, with nothing in flight. */
  async flushTargetDb(): Promise<void> {
    await this.flush();
    for (const [addr, err] of await this.onEveryMaster('FLUSHDB', [])) {
      if (err !== null) throw new FatalError(`FLUSHDB on cluster node ${addr} failed: ${err.message}`);
    }
  }

  flush(): Promise<void> {
    if (this.fatalError !== null) return Promise.reject(this.fatalError);
    for (const s of this.senders.values()) s.flushPending();
    return this.acks.until(this.acks.submitted, this.firstUnacked());
  }

  appliedPosition(): SourcePosition | null {
    this.advance();
    return this.acks.applied;
  }

  stats(): SinkStats {
    const senders = [...this.senders.values()].map((s) => s.stats());
    const total = totalOf(senders, this.acks.submitted, this.held?.length ?? 0);
    return {
      senders,
      errors: { ...this.tally.errors },
      errorClasses: { ...this.tally.classes },
      typeConflicts: this.tally.classes.typeConflict,
      keysKept: this.tally.classes.keyKept,
      skippedAsApplied: 0,
      refused: this.tally.refused,
      possibleRepeats: this.possibleRepeats,
      redirections: this.redirections,
      total,
    };
  }

  /** `host:port` of every master a sender talks to, in the order they were found. */
  nodes(): string[] {
    return [...this.senders.keys()];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.fatalError === null) await this.flush();
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.senders.values()].map((s) => s.close()));
    this.links.close();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    const err = new Error('sink destroyed');
    for (const s of this.senders.values()) s.stop(err);
    this.acks.rejectAll(err);
    this.budget.reject(err);
    this.heldWaiter?.reject(err);
    this.heldWaiter = null;
    this.links.close();
  }

  /** The entry for a keyed command, or null when it cannot run on a cluster (refused and counted). */
  private entryOf(cmd: RedisCommand, gseq: number): ClusterEntry | null {
    const slot = clusterSlot(cmd.key as Buffer);
    if (cmd.barrier !== true && cmd.name !== 'EVAL') return { cmd, gseq, slot, alone: false, bytes: commandCost(cmd) };
    const c = withSlotGuard(cmd, slot);
    const keys = commandKeys(c);
    if (keys === null || keys.length === 0) {
      this.tally.refuse(cmd, 'CROSSSLOT', 'cannot tell which keys it touches, so not which cluster slot it belongs to');
      return null;
    }
    const common = commonSlot(keys);
    if (common === null) {
      const slots = [...new Set(keys.map(clusterSlot))];
      this.tally.refuse(cmd, 'CROSSSLOT', `its ${keys.length} keys hash to ${slots.length} different cluster slots (${slots.slice(0, 8).join(', ')}); a cluster runs a multi-key command only within one slot`);
      return null;
    }
    return { cmd: c, gseq, slot: common, alone: cmd.barrier === true, bytes: commandCost(c) };
  }

  private senderFor(addr: string, redis: Redis | null = null): NodeSender {
    let s = this.senders.get(addr);
    if (s === undefined) {
      const o = this.opts;
      s = new NodeSender(
        {
          ...nodeTarget(o, splitAddr(addr)),
          index: this.senders.size,
          batchSize: o.batchSize,
          batchBytes: Math.max(1, Math.floor(this.budget.max / ((o.maxInFlightBatches ?? DEFAULTS.maxInFlightBatches) + 2))),
          maxInFlightBatches: o.maxInFlightBatches ?? DEFAULTS.maxInFlightBatches,
          reconnectGiveUpMs: o.reconnectGiveUpMs ?? DEFAULTS.reconnectGiveUpMs,
          logger: this.log,
        },
        redis,
        this.hooks,
      );
      this.senders.set(addr, s);
    }
    return s;
  }

  /**
   * Sends a sender's pending resends one at a time, in order, each to where its redirection
   * points (then wherever the cluster says), until it is applied or answered with a final error.
   */
  private async settle(s: NodeSender, retries: RetryEntry[]): Promise<void> {
    for (const r of retries) {
      if (r.maybeApplied) this.possibleRepeats++;
      await this.applyOne(s, r);
    }
    await this.rehome(s);
  }

  private async applyOne(s: NodeSender, r: RetryEntry): Promise<void> {
    const { cmd, slot } = r.entry;
    const maxRedirections = this.opts.maxRedirections ?? DEFAULTS.maxRedirections;
    let addr = r.redirect ?? s.addr;
    let asking = r.asking;
    let redirections = 0;
    if (r.redirect !== null) this.redirections++;
    const backoff = this.retryWait((why) => `cannot apply ${cmd.name} on key ${commandKeyText(cmd)} (${formatPosition(cmd.pos)}) to the cluster: ${why}`);
    for (;;) {
      if (this.fatalError !== null) throw this.fatalError;
      if (this.closed) return;
      let err: Error | null;
      try {
        err = await this.links.run(addr, cmd.name, cmd.args, asking);
      } catch (e) {
        if (e instanceof FatalError) throw e;
        // Unreachable, or the reply was lost: maybe applied; ask the cluster who serves the slot now.
        if (!(e instanceof TargetUnreachableError)) this.possibleRepeats++;
        await backoff(`${addr}: ${(e as Error).message}`);
        addr = (await this.links.topology())?.[slot] ?? addr;
        asking = false;
        continue;
      }
      if (err === null) return;
      const redirect = parseRedirect(err.message, splitAddr(addr).host);
      if (redirect !== null) {
        if (++redirections > maxRedirections) throw new FatalError(`${cmd.name} on key ${commandKeyText(cmd)} was redirected more than ${maxRedirections} times (last: ${err.message})`);
        this.redirections++;
        ({ addr, asking } = redirect);
        continue;
      }
      const code = errorCode(err.message);
      const cls = classifyCode(code);
      if (cls === 'retryable') {
        this.tally.count(code, 'retryable');
        await backoff(err.message);
        continue;
      }
      this.onCommandError(s.index, cmd, code, err.message, cls);
      if (cls === 'fatal' || cls === 'keyExists') throw this.fatalError ?? new FatalError(err.message);
      return;
    }
  }

  /**
   * A wait between attempts, with the retry backoff up to the reconnect give-up time; past it,
   * a FatalError with the message `giveUp` makes of why the last attempt failed.
   */
  private retryWait(giveUp: (why: string) => string): (why: string) => Promise<void> {
    const backoff = new Backoff(this.opts.reconnectGiveUpMs ?? DEFAULTS.reconnectGiveUpMs, this.opts.retryMinMs ?? DEFAULTS.retryMinMs, this.opts.retryMaxMs ?? DEFAULTS.retryMaxMs);
    return async (why) => {
      if (backoff.exhausted) throw new FatalError(giveUp(why));
      await backoff.sleep();
    };
  }

  /**
   * Runs a keyless command on every master: each master's error reply or null. A master that is
   * down or loading is waited for (retried with backoff) up to the reconnect give-up time.
   */
  private async onEveryMaster(name: string, args: ReadonlyArray<Buffer | string>): Promise<Array<[string, Error | null]>> {
    const wait = this.retryWait((why) => `cannot run ${name} on every master of the Redis Cluster: ${why}`);
    let map = await this.links.topology();
    while (map === null) {
      await wait('no node answers CLUSTER SLOTS');
      map = await this.links.topology();
    }
    const out: Array<[string, Error | null]> = [];
    for (const addr of new Set(map)) {
      for (;;) {
        let err: Error | null;
        try {
          err = await this.links.run(addr, name, args);
        } catch (e) {
          await wait(`${addr}: ${(e as Error).message}`);
          continue;
        }
        if (err !== null && classifyCode(errorCode(err.message)) === 'retryable') {
          this.tally.count(errorCode(err.message), 'retryable');
          await wait(`${addr}: ${err.message}`);
          continue;
        }
        out.push([addr, err]);
        break;
      }
    }
    return out;
  }

  /**
   * Moves the slots the cluster no longer serves on `s`'s node to their new master's sender, with
   * the commands of theirs that `s` still queues (nothing of `s` is in flight now).
   */
  private async rehome(s: NodeSender): Promise<void> {
    const map = await this.links.topology();
    if (map === null) return;
    let moved = 0;
    for (let slot = 0; slot < SLOTS; slot++) {
      if (this.route[slot] === s && map[slot] !== s.addr) {
        this.route[slot] = this.senderFor(map[slot]);
        moved++;
      }
    }
    if (moved === 0) return;
    this.log.info({ from: s.addr, slots: moved }, 'slots moved to another master; their commands follow in order');
    const entries = s.take((e) => this.route[e.slot] !== s);
    const byTarget = new Map<NodeSender, ClusterEntry[]>();
    for (const e of entries) {
      const t = this.route[e.slot];
      const list = byTarget.get(t);
      if (list === undefined) byTarget.set(t, [e]);
      else list.push(e);
    }
    for (const [t, list] of byTarget) t.adopt(list);
  }

  private firstUnacked(): number {
    let u = this.acks.submitted;
    if (this.held !== null && this.held.length > 0 && this.held[0].gseq < u) u = this.held[0].gseq;
    for (const s of this.senders.values()) {
      const g = s.oldestUnacked();
      if (g < u) u = g;
    }
    return u;
  }

  private advance(): void {
    this.acks.advance(this.firstUnacked());
  }

  private hold(h: Held): Promise<void> {
    if (this.held === null) {
      this.held = [h];
      this.heldWaiter = newWaiter();
      void this.releaseHeld();
    } else {
      this.held.push(h);
    }
    return (this.heldWaiter as Waiter).promise;
  }

  /** A keyless command waits for everything before it, runs on every master, then the rest follows. */
  private async releaseHeld(): Promise<void> {
    const held = this.held as Held[];
    try {
      while (held.length > 0) {
        const h = held[0];
        if (h.entry === null) {
          for (const s of this.senders.values()) s.flushPending();
          await this.acks.until(h.gseq, this.firstUnacked());
          for (const [addr, err] of await this.onEveryMaster(h.cmd.name, h.cmd.args)) {
            if (err !== null) this.onCommandError(-1, h.cmd, errorCode(err.message), `${addr}: ${err.message}`, classifyCode(errorCode(err.message)));
          }
          held.shift();
          this.advance();
        } else {
          const s = this.route[h.entry.slot];
          const within = this.budget.take(h.entry.bytes);
          const room = s.submit(h.entry);
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
    this.tally.count('FATAL', 'fatal');
    this.log.error({ err: err.message }, 'sink cannot go on');
    for (const s of this.senders.values()) s.stop(err);
    this.acks.rejectAll(err);
    this.budget.reject(err);
    this.heldWaiter?.reject(err);
    this.heldWaiter = null;
    this.links.close();
    this.emit('fatal', err);
  }
}

function nodeTarget(o: ClusterPoolOptions, at: { host: string; port: number }): TargetOptions {
  return {
    host: at.host,
    port: at.port,
    password: o.password,
    username: o.username,
    db: 0,
    connectTimeoutMs: o.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    ...(o.tls !== undefined ? { tls: o.tls } : {}),
  };
}
