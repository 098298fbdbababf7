import { compareBinlogPositions, type BinlogEntry, type BinlogPosition } from '../core/binlog.js';
import { Fifo } from '../core/fifo.js';
import type { Logger } from '../core/log.js';
import { convertEntry, convertSelfMove, startsSelfMove, type BinlogConvertContext, type ConvertResult } from '../convert/binlog.js';
import type { Sink } from '../sink/sink.js';

interface Unapplied {
  readonly end: BinlogPosition;
  readonly execTime: number;
  /** False when the entry became no command at all: it is applied once everything before it is. */
  readonly hasCommands: boolean;
}

/**
 * The end-to-end delay probe: `SET pika-migrate:canary <unix ms>` on the master (by hand or from
 * cron) is timed from that timestamp to the moment Redis acknowledged it here.
 */
export const CANARY_KEY = 'pika-migrate:canary';

/**
 * How long the first half of a self-move rewrite (convert/binlog.ts startsSelfMove) waits for
 * its second half. The master writes both at once, so they nearly always come in one message;
 * after this, the first is applied alone, as any entry.
 */
export const SELF_MOVE_WAIT_MS = 100;

export interface ApplierStats {
  readonly entries: number;
  readonly commands: number;
  readonly applied: BinlogPosition | null;
  /** Entries handed over and not yet applied in Redis. */
  readonly lagEntries: number;
  /** Seconds since the master wrote the oldest entry not yet applied (0 when none is pending). */
  readonly lagSeconds: number;
  readonly notes: Readonly<Record<string, number>>;
  /** Master write → Redis acknowledgement of the last canary, in ms (null before the first). */
  readonly canaryDelayMs: number | null;
  /** When that canary was acknowledged (ms since the epoch). */
  readonly canaryAt: number | null;
}

/**
 * Binlog entries → Redis commands → sink, and back: the position up to which Redis has applied
 * every entry, which is all the master may be acked. Entries that become no command (padding, a
 * dropped internal) count as applied once everything before them is.
 *
 * The queue of entries not yet applied is bounded by the master's ack window, since the master
 * stops sending once that many entries are unacked.
 */
export class BinlogApplier {
  private base: BinlogPosition | null = null;
  private applied: BinlogPosition | null = null;
  /** Entries handed to the sink and not yet applied, oldest first. */
  private queue = new Fifo<Unapplied>();
  private entries = 0;
  private commands = 0;
  private readonly notes: Record<string, number> = {};
  private canary: { end: BinlogPosition; sentMs: number } | null = null;
  private canaryDelayMs: number | null = null;
  private canaryAt: number | null = null;
  /** A first half of a self-move rewrite, held for the next entry (not yet in `queue`). */
  private held: BinlogEntry | null = null;
  private heldTimer: NodeJS.Timeout | null = null;
  /** Back-pressure of a held entry applied alone from the timer: the next entry waits for it. */
  private releasing: Promise<void> | null = null;
  private releaseError: Error | null = null;

  constructor(
    private readonly pool: Sink,
    private readonly context: () => BinlogConvertContext,
    private readonly logger: Logger,
  ) {}

  /** Everything up to `pos` is in Redis (a loaded snapshot, or a resume point): start counting from it. */
  reset(pos: BinlogPosition): void {
    this.base = pos;
    this.applied = pos;
    this.queue = new Fifo();
    this.unhold();
    this.releaseError = null;
  }

  apply(entry: BinlogEntry): void | Promise<void> {
    const failed = this.releaseError;
    if (failed !== null) {
      // Once: what failed is not applied, so not acked, and comes again after the reconnect.
      this.releaseError = null;
      throw failed;
    }
    if (this.releasing !== null) return this.releasing.then(() => this.apply(entry));
    const ctx = this.context();
    const held = this.held;
    if (held !== null) {
      this.unhold();
      const pair = convertSelfMove(held, entry, ctx);
      if (pair !== null) {
        this.record(held, pair.commands.length > 0);
        return this.submit(entry, pair);
      }
      const wait = this.submit(held, convertEntry(held, ctx));
      if (wait !== undefined) return wait.then(() => this.apply(entry));
    }
    if (startsSelfMove(entry, ctx.family)) {
      this.held = entry;
      this.heldTimer = setTimeout(() => void this.release(), SELF_MOVE_WAIT_MS);
      this.heldTimer.unref();
      return;
    }
    return this.submit(entry, convertEntry(entry, ctx));
  }

  /**
   * Applies a held entry now, alone (its wait is over, or the spool's replay ends and what it
   * held must be in Redis); resolves when the sink takes more.
   */
  release(): void | Promise<void> {
    const held = this.held;
    if (held === null) return this.releasing ?? undefined;
    this.unhold();
    let wait: void | Promise<void>;
    try {
      wait = this.submit(held, convertEntry(held, this.context()));
    } catch (e) {
      this.releaseError = e as Error;
      return;
    }
    if (wait === undefined) return;
    const p = wait.then(
      () => {
        if (this.releasing === p) this.releasing = null;
      },
      (e: Error) => {
        if (this.releasing === p) this.releasing = null;
        this.releaseError = e;
      },
    );
    this.releasing = p;
    return p;
  }

  private unhold(): void {
    if (this.heldTimer !== null) clearTimeout(this.heldTimer);
    this.heldTimer = null;
    this.held = null;
  }

  /** Counts `entry` and enters it in the queue of entries not yet applied. */
  private record(entry: BinlogEntry, hasCommands: boolean): void {
    this.entries++;
    this.queue.push({ end: entry.end, execTime: entry.execTime, hasCommands });
  }

  private submit(entry: BinlogEntry, r: ConvertResult): void | Promise<void> {
    for (const n of r.notes) {
      this.notes[n.code] = (this.notes[n.code] ?? 0) + 1;
      this.logger[n.level]({ code: n.code }, n.message);
    }
    this.record(entry, r.commands.length > 0);
    if (entry.argv.length >= 3 && entry.argv[1].length === CANARY_KEY.length && entry.argv[1].toString() === CANARY_KEY && /^set$/i.test(entry.argv[0].toString())) {
      const sentMs = Number(entry.argv[2].toString());
      if (Number.isSafeInteger(sentMs)) this.canary = { end: entry.end, sentMs };
    }
    this.commands += r.commands.length;
    for (let i = 0; i < r.commands.length; i++) {
      const wait = this.pool.submit(r.commands[i]);
      if (wait !== undefined) return this.submitRest(wait, r.commands, i + 1);
    }
  }

  private async submitRest(wait: Promise<void>, cmds: Parameters<Sink['submit']>[0][], from: number): Promise<void> {
    await wait;
    for (let i = from; i < cmds.length; i++) {
      const w = this.pool.submit(cmds[i]);
      if (w !== undefined) await w;
    }
  }

  /** The end of the last entry that Redis applied, with every entry before it; null before `reset`. */
  appliedPosition(): BinlogPosition | null {
    if (this.base === null) return null;
    const a = this.pool.appliedPosition();
    const acked = a !== null && a.kind === 'binlog' ? { filenum: a.filenum, offset: a.offset } : null;
    const q = this.queue;
    while (q.length > 0 && (!q.first().hasCommands || (acked !== null && compareBinlogPositions(q.first().end, acked) <= 0))) this.applied = q.shift().end;
    if (this.canary !== null && this.applied !== null && compareBinlogPositions(this.applied, this.canary.end) >= 0) {
      this.canaryAt = Date.now();
      this.canaryDelayMs = Math.max(0, this.canaryAt - this.canary.sentMs);
      this.canary = null;
    }
    return this.applied;
  }

  stats(nowMs = Date.now()): ApplierStats {
    const applied = this.appliedPosition();
    const pending = this.queue.length;
    const oldest = pending > 0 ? this.queue.first() : null;
    return {
      entries: this.entries,
      commands: this.commands,
      applied,
      lagEntries: pending,
      lagSeconds: oldest === null ? 0 : Math.max(0, Math.round(nowMs / 1000 - oldest.execTime)),
      notes: { ...this.notes },
      canaryDelayMs: this.canaryDelayMs,
      canaryAt: this.canaryAt,
    };
  }
}
