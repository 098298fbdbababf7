import type { RedisCommand } from '../core/command.js';

/**
 * target-max-ops and target-max-bytes: commands and argument bytes per second sent to the target,
 * as virtual-clock buckets (GCRA) with a burst of BURST_MS worth. `take` never refuses: it says
 * how long the producer should wait before its next command, and the pool hands that wait back
 * through `submit` like any other backpressure. 0 means no limit.
 */
const BURST_MS = 100;

/** Argument bytes of a command (name included), for target-max-bytes. */
export function argBytes(cmd: RedisCommand): number {
  let n = cmd.name.length;
  for (const a of cmd.args) n += typeof a === 'string' ? Buffer.byteLength(a) : a.length;
  return n;
}

export class RateLimiter {
  private opsAt = 0;
  private bytesAt = 0;

  constructor(
    private maxOps: number,
    private maxBytes: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get limited(): boolean {
    return this.maxOps > 0 || this.maxBytes > 0;
  }

  get limits(): { maxOps: number; maxBytes: number } {
    return { maxOps: this.maxOps, maxBytes: this.maxBytes };
  }

  /** New limits apply from the next command on (CONFIG SET at run time). */
  set(maxOps: number, maxBytes: number): void {
    this.maxOps = maxOps;
    this.maxBytes = maxBytes;
    this.opsAt = 0;
    this.bytesAt = 0;
  }

  /** Accounts one command of `bytes`; returns the ms to wait before the next one (0: none). */
  take(bytes: number): number {
    const t = this.now();
    let wait = 0;
    if (this.maxOps > 0) {
      this.opsAt = Math.max(this.opsAt, t - BURST_MS) + 1000 / this.maxOps;
      wait = Math.max(wait, this.opsAt - t);
    }
    if (this.maxBytes > 0) {
      this.bytesAt = Math.max(this.bytesAt, t - BURST_MS) + (1000 * bytes) / this.maxBytes;
      wait = Math.max(wait, this.bytesAt - t);
    }
    return wait > 1 ? wait : 0;
  }
}

/**
 * What a pool's submit hands back for `cmd`: the sender's own wait (`wait`), lengthened by the
 * time `limiter` says the producer must hold off before its next command.
 */
export function paced(limiter: RateLimiter, cmd: RedisCommand, wait: void | Promise<void>): void | Promise<void> {
  const pace = limiter.limited ? limiter.take(argBytes(cmd)) : 0;
  if (pace === 0) return wait;
  const slept = new Promise<void>((r) => setTimeout(r, pace));
  return wait === undefined ? slept : Promise.all([wait, slept]).then(() => undefined);
}
