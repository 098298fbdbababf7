import type { EventEmitter } from 'node:events';
import type { RedisCommand } from '../core/command.js';
import type { SourcePosition } from '../core/position.js';
import type { ErrorClass } from './replies.js';
import type { SenderStats } from './sender.js';

export interface SinkStats {
  /** Per sender (standalone) or per master node (cluster). */
  readonly senders: SenderStats[];
  /** Error replies counted by code: wrongType, oom, loading, busy, readOnly, noAuth, wrongPass, err, … */
  readonly errors: Record<string, number>;
  /** The same errors counted by what the sink did about them. */
  readonly errorClasses: Record<ErrorClass, number>;
  readonly typeConflicts: number;
  /** Keys kept as they were on the target by `conflict-policy : skip`. */
  readonly keysKept: number;
  /** Commands (binlog, or snapshot of a resumed load) not sent again after a restart because Redis had applied them. */
  readonly skippedAsApplied: number;
  /**
   * Commands refused before sending: too many arguments or an EVAL the batch script cannot run
   * (standalone); keys in different slots, or keys the sink cannot tell (cluster).
   */
  readonly refused: number;
  /**
   * Commands sent again although Redis may already have applied them (cluster target: a reply
   * lost with its connection, or a command resent behind an earlier one of its key to keep the
   * order). Always 0 on a standalone target, which applies exactly once.
   */
  readonly possibleRepeats: number;
  /** MOVED and ASK redirections followed (cluster target). */
  readonly redirections: number;
  readonly total: { submitted: number; queued: number; inFlight: number; sent: number; batches: number; acked: number; retries: number; reconnects: number; lostReplies: number };
}

/** A command Redis answered with an error reply; `class` says what the sink did about it. */
export interface CommandErrorEvent {
  readonly cmd: RedisCommand;
  readonly code: string;
  readonly message: string;
  readonly class: ErrorClass;
  readonly sender: number;
}

/**
 * What the daemon needs of a target, whether one Redis (SenderPool) or a Redis Cluster
 * (ClusterPool). Events: `fatal` (FatalError; TargetLostWritesError when the target lost acknowledged writes) once when it cannot go on; `flushAll` just before it sends a FLUSHALL; `commandError`
 * (CommandErrorEvent) for every error reply of a data command; `typeConflict` for WRONGTYPE ones.
 */
export interface Sink extends EventEmitter {
  /** Redis before 6.2 has no `SET … PXAT/EXAT`: converters must use their script forms. */
  readonly legacyTarget: boolean;
  /**
   * The target can keep the other types of a 3.x name under side names (the multi-type rule): one
   * Redis can; a cluster cannot, a side name hashes to another slot than its name.
   */
  readonly sideKeys: boolean;
  /** The target's `redis_version`. */
  readonly targetVersion: string;
  /** The target as messages name it (`host:port`, a Sentinel master, or a cluster's seeds). */
  readonly target: string;
  /** Queues a command; a promise when the producer should wait before the next one. */
  submit(cmd: RedisCommand): void | Promise<void>;
  setRateLimits(maxOpsPerSec: number, maxBytesPerSec: number): void;
  readonly rateLimits: { maxOps: number; maxBytes: number };
  /** Before resuming from a checkpoint: what the target says it applied after it (null: nothing known). */
  resumeAfter(db: number): Promise<{ positions: Array<SourcePosition | null>; sendersChanged: boolean } | null>;
  /** FLUSHDB on the whole target (every master of a cluster), with nothing in flight. */
  flushTargetDb(): Promise<void>;
  /** Forgets the applied positions (a new full sync). */
  clearApplied(): Promise<void>;
  /** The migration ended (SLAVEOF NO ONE): flushes, then deletes every bookkeeping key of ours from the target (sink/own-keys.ts); how many. */
  removeOwnKeys(): Promise<number>;
  /** A FLUSHALL through another DB's sink deleted this one's markers too: that is no loss of writes. */
  forgiveMissingMarkers(): void;
  /**
   * Multi-type rule (sideKeys): the side names whose name's value Redis expired take the name, in
   * `order` (type-order, comma separated). Returns how many names were looked at.
   */
  settleExpiredSides(order: string): Promise<number>;
  /** Deletes every side name and the expiry index (a new full sync, or SLAVEOF NO ONE). Returns the count. */
  dropSideNames(): Promise<number>;
  /** Resolves when everything submitted so far is acknowledged. */
  flush(): Promise<void>;
  /** Why the target refuses commands right now while the sink retries them (OOM, …), or null: a flush then cannot end. */
  refusedWith(): string | null;
  /** The source position up to which the target holds everything submitted. */
  appliedPosition(): SourcePosition | null;
  stats(): SinkStats;
  /** Flushes, then disconnects. */
  close(): Promise<void>;
  /** Drops everything not yet acknowledged and disconnects at once. */
  destroy(): void;
}

/** The sink's totals: `submitted`, plus the senders' counts summed, plus `held` commands queued in the pool itself. */
export function totalOf(senders: readonly SenderStats[], submitted: number, held: number): SinkStats['total'] {
  const total = { submitted, queued: held, inFlight: 0, sent: 0, batches: 0, acked: 0, retries: 0, reconnects: 0, lostReplies: 0 };
  for (const s of senders) {
    total.queued += s.queued;
    total.inFlight += s.inFlight;
    total.sent += s.sent;
    total.batches += s.batches;
    total.acked += s.acked;
    total.retries += s.retries;
    total.reconnects += s.reconnects;
    total.lostReplies += s.lostReplies;
  }
  return total;
}
