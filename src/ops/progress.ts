import type { Logger } from '../core/log.js';

export interface ProgressOptions {
  /** What is being done, e.g. `full sync db0`: the log message and the bar's label. */
  readonly label: string;
  /** The counter that ETA and rate are about (e.g. `keys`); the others are shown as they are. */
  readonly unit: string;
  readonly logger: Logger;
  /** A log line every this many ms (default 5000). */
  readonly logEveryMs?: number;
  /** Where to draw a bar (a TTY's stderr), or null for none. Default: stderr when it is a TTY. */
  readonly bar?: NodeJS.WriteStream | null;
  /** Clock, for tests. */
  readonly now?: () => number;
}

export interface ProgressSnapshot {
  readonly label: string;
  readonly unit: string;
  readonly done: number;
  /** Estimated total of `unit`, or null when unknown. */
  readonly total: number | null;
  readonly elapsedMs: number;
  /** `unit` per second over the whole run. */
  readonly rate: number;
  /** Seconds left at the current rate, or null when it cannot be told. */
  readonly etaSeconds: number | null;
  readonly counts: Readonly<Record<string, number>>;
}

/**
 * Counts of a long task, reported as a log line every few seconds (counts, rate, ETA) and as a bar
 * on a TTY. The task only calls `add`; the timers do the rest, so counting stays cheap.
 */
export class Progress {
  private readonly counts: Record<string, number> = {};
  private readonly now: () => number;
  private readonly bar: NodeJS.WriteStream | null;
  private readonly startedAt: number;
  private total: number | null = null;
  private logTimer: NodeJS.Timeout | null = null;
  private barTimer: NodeJS.Timeout | null = null;
  private lastBarLen = 0;

  constructor(private readonly opts: ProgressOptions) {
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
    this.counts[opts.unit] = 0;
    this.bar = opts.bar === undefined ? (process.stderr.isTTY ? process.stderr : null) : opts.bar;
  }

  /** Starts the periodic reports; `stop` ends them. */
  start(): this {
    const every = this.opts.logEveryMs ?? 5000;
    this.logTimer = setInterval(() => this.logLine('progress'), every);
    this.logTimer.unref();
    if (this.bar !== null) {
      this.barTimer = setInterval(() => this.drawBar(), 250);
      this.barTimer.unref();
    }
    return this;
  }

  setTotal(total: number | null): void {
    this.total = total;
  }

  add(counter: string, n = 1): void {
    this.counts[counter] = (this.counts[counter] ?? 0) + n;
  }

  get(counter: string): number {
    return this.counts[counter] ?? 0;
  }

  snapshot(): ProgressSnapshot {
    const elapsedMs = Math.max(1, this.now() - this.startedAt);
    const done = this.counts[this.opts.unit];
    const rate = (done * 1000) / elapsedMs;
    // The estimate is an upper bound (stale versions count): past it, the end is near but unknown.
    const left = this.total === null ? null : Math.max(0, this.total - done);
    const etaSeconds = left === null || rate === 0 ? null : Math.round(left / rate);
    return { label: this.opts.label, unit: this.opts.unit, done, total: this.total, elapsedMs, rate, etaSeconds, counts: { ...this.counts } };
  }

  /** Ends the reports with a summary line at info. */
  stop(message = 'done'): ProgressSnapshot {
    if (this.logTimer !== null) clearInterval(this.logTimer);
    if (this.barTimer !== null) clearInterval(this.barTimer);
    this.logTimer = this.barTimer = null;
    if (this.bar !== null && this.lastBarLen > 0) this.bar.write('\r' + ' '.repeat(this.lastBarLen) + '\r');
    return this.logLine(message);
  }

  private logLine(message: string): ProgressSnapshot {
    const s = this.snapshot();
    this.opts.logger.info(
      {
        ...s.counts,
        rate: Math.round(s.rate),
        ...(s.total !== null ? { estimatedTotal: s.total, percent: percent(s) } : {}),
        ...(s.etaSeconds !== null ? { eta: formatDuration(s.etaSeconds) } : {}),
        elapsed: formatDuration(s.elapsedMs / 1000),
      },
      `${s.label}: ${message}`,
    );
    return s;
  }

  private drawBar(): void {
    const s = this.snapshot();
    const width = 30;
    const frac = s.total === null || s.total === 0 ? null : Math.min(1, s.done / s.total);
    const bar = frac === null ? '' : `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ${percent(s)}% `;
    const eta = s.etaSeconds === null ? '' : ` eta ${formatDuration(s.etaSeconds)}`;
    const line = `${s.label} ${bar}${s.done} ${s.unit} ${Math.round(s.rate)}/s${eta}`;
    this.bar!.write('\r' + line.padEnd(this.lastBarLen));
    this.lastBarLen = line.length;
  }
}

function percent(s: ProgressSnapshot): number {
  return s.total === null || s.total === 0 ? 0 : Math.min(100, Math.floor((1000 * s.done) / s.total) / 10);
}

/** `1h02m03s`, `4m05s`, `12s`. */
export function formatDuration(seconds: number): string {
  const t = Math.max(0, Math.round(seconds));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m${String(sec).padStart(2, '0')}s`;
  if (m > 0) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}
