import type { RedisCommand } from '../core/command.js';
import { newWaiter, type Waiter } from '../core/waiter.js';

/**
 * What a command is taken to weigh while the sink holds it: the bytes of its Buffer arguments
 * (the source's keys, values, fields) plus, per argument, the heap a Buffer view of it costs.
 * Without the second term a hash of 16-byte fields would weigh a tenth of what it holds. String
 * arguments are constants the converters share (a script's text, flags, numbers): counting an
 * EVAL's script per command made 100 INCRs of a 3.x master outweigh the budget.
 */
const ARG_OVERHEAD = 80;

export function commandCost(cmd: RedisCommand): number {
  const args = cmd.args;
  let n = ARG_OVERHEAD * args.length;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (typeof a !== 'string') n += a.length;
  }
  return n;
}

/**
 * Default budget of a pool: 512 KiB. Small because what the sink holds outlives young-generation
 * GCs and is promoted: with 8 MiB, loading a 1M-field hash promoted 170 MB of garbage to the old
 * generation (peak RSS 124 MB), with 512 KiB 10 MB (102 MB), and no slower.
 */
export const DEFAULT_IN_FLIGHT_BYTES = 512 << 10;

/**
 * The bytes a pool holds between `submit` and Redis's reply, across all its senders. The senders'
 * batch counts bound commands; this bounds what they weigh, so a key of big elements (a hash of
 * 300-byte fields, 1 MiB strings) makes the producer wait on Redis as early as small keys do.
 * A command is always taken, so one bigger than the whole budget still goes, alone.
 */
export class ByteBudget {
  private used = 0;
  private waiter: Waiter | null = null;

  constructor(readonly max: number) {}

  /** Counts `n` bytes in; false when that puts the pool over its budget (the producer should wait). */
  take(n: number): boolean {
    this.used += n;
    return this.used <= this.max;
  }

  release(n: number): void {
    this.used -= n;
    if (this.waiter !== null && this.used <= this.max) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve();
    }
  }

  /** Resolves once the pool is back within its budget. */
  room(): Promise<void> {
    if (this.used <= this.max) return Promise.resolve();
    this.waiter ??= newWaiter();
    return this.waiter.promise;
  }

  /** The sink stopped: a producer waiting for room gets `err`. */
  reject(err: Error): void {
    this.waiter?.reject(err);
    this.waiter = null;
  }

  get bytes(): number {
    return this.used;
  }
}
