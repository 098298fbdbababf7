import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import prettyFactory from 'pino-pretty';
export type Logger = pino.Logger;

export interface LogOptions {
  /** Directory for `pika-migrate.log` (JSON lines); null logs to stdout only. */
  readonly dir: string | null;
  readonly level: string;
  /** `json`, `text`, or `auto` (text when stdout is a TTY). */
  readonly format: 'json' | 'text' | 'auto';
}

/**
 * JSON lines to `<log-path>/pika-migrate.log` and to stdout; stdout is human-readable (pino-pretty)
 * when it is a TTY or when `log-format : text` asks for it. The file is always JSON so it can be
 * shipped and parsed.
 */
export function createLogger(opts: LogOptions): Logger {
  const text = opts.format === 'text' || (opts.format === 'auto' && process.stdout.isTTY === true);
  const streams: pino.StreamEntry[] = [];
  if (text) {
    // Synchronous pretty stream on the main thread: a daemon that dies must not lose its last line.
    streams.push({ level: opts.level as pino.Level, stream: prettyStream() });
  } else {
    streams.push({ level: opts.level as pino.Level, stream: pino.destination({ fd: 1, sync: true }) });
  }
  if (opts.dir !== null) {
    mkdirSync(opts.dir, { recursive: true });
    streams.push({
      level: opts.level as pino.Level,
      stream: pino.destination({ dest: join(opts.dir, 'pika-migrate.log'), sync: false, mkdir: true }),
    });
  }
  return pino(
    { level: opts.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream(streams),
  );
}

function prettyStream(): NodeJS.WritableStream {
  return prettyFactory({ colorize: process.stdout.isTTY === true, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'pid,hostname', sync: true });
}

/** A logger that discards everything (tests and library use without a daemon). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
