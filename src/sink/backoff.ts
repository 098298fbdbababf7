/**
 * Retry delays that start at `minMs` and double up to `maxMs`, until a give-up time counted from
 * the first failure: the senders' reconnects and the cluster's resends wait alike.
 */
export class Backoff {
  private delay: number;
  private readonly giveUpAt: number;

  constructor(
    giveUpMs: number,
    minMs: number,
    private readonly maxMs: number,
  ) {
    this.delay = minMs;
    this.giveUpAt = Date.now() + giveUpMs;
  }

  /** The wait before the next attempt. */
  get delayMs(): number {
    return this.delay;
  }

  /** Whether waiting once more would pass the give-up time: the caller must give up instead. */
  get exhausted(): boolean {
    return Date.now() + this.delay > this.giveUpAt;
  }

  /** Waits the current delay, then doubles it (up to the maximum). */
  async sleep(): Promise<void> {
    await new Promise((r) => setTimeout(r, this.delay));
    this.delay = Math.min(this.delay * 2, this.maxMs);
  }
}
