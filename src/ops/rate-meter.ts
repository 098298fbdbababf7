/**
 * Per-second rates of growing counters, sampled once a second, as Pika samples its
 * `instantaneous_*` fields: INFO reads the last full second instead of an average since start.
 */
export class RateMeter<K extends string> {
  private last: { at: number; values: Record<K, number> } | null = null;
  private rates = new Map<K, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly read: () => Record<K, number>,
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    if (this.timer !== null) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Units per second over the last interval; 0 before the second sample. */
  perSecond(key: K): number {
    return this.rates.get(key) ?? 0;
  }

  sample(): void {
    const at = this.now();
    const values = this.read();
    if (this.last !== null && at > this.last.at) {
      for (const k of Object.keys(values) as K[]) {
        this.rates.set(k, Math.max(0, ((values[k] - this.last.values[k]) * 1000) / (at - this.last.at)));
      }
    }
    this.last = { at, values };
  }
}
