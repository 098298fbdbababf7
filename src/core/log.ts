import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import pino from 'pino';
import type PinoPretty from 'pino-pretty';
import { maskSecrets } from './secrets.js';
export type Logger = pino.Logger;

export interface LogOptions {
  /** Directory for `pika-migrate.log` (JSON lines); null logs to stdout only. */
  readonly dir: string | null;
  readonly level: string;
  /** `json`, `text`, or `auto` (text when stdout is a TTY). */
  readonly format: 'json' | 'text' | 'auto';
  /** Where the stdout output goes instead of fd 1 (tests). */
  readonly stdout?: NodeJS.WritableStream;
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
    streams.push({ level: opts.level as pino.Level, stream: prettyStream(opts.stdout) });
  } else {
    streams.push({ level: opts.level as pino.Level, stream: opts.stdout ?? pino.destination({ fd: 1, sync: true }) });
  }
  if (opts.dir !== null) {
    mkdirSync(opts.dir, { recursive: true });
    streams.push({
      level: opts.level as pino.Level,
      // Synchronous too: an exit right after start-up (bad target) must not lose the line or crash on a file not yet open.
      stream: pino.destination({ dest: join(opts.dir, 'pika-migrate.log'), sync: true, mkdir: true }),
    });
  }
  return pino(
    {
      level: opts.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Secrets never reach a log line, whatever object a caller hands over (a conf entry, options).
      formatters: { log: (obj) => maskSecrets(obj), bindings: (b) => maskSecrets(b) },
    },
    pino.multistream(streams),
  );
}

function prettyStream(destination: NodeJS.WritableStream | undefined): NodeJS.WritableStream {
  // Loaded only for text output: a daemon logging JSON does not pay its memory.
  const prettyFactory = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  return prettyFactory({
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname',
    sync: true,
    ...(destination !== undefined ? { destination } : {}),
  });
}

/**
 * The error that ends a run: one line naming the cause (its message, and its code when it has
 * one), with the stack only at debug level: an operator reads the cause, a developer the stack.
 */
export function logFatal(logger: Logger, e: unknown): void {
  const err = e instanceof Error ? e : new Error(String(e));
  logger.debug({ err }, 'stack of the error below');
  const code = (err as NodeJS.ErrnoException).code;
  logger.fatal(code !== undefined ? { code } : {}, err.message);
}

/** A logger that discards everything (tests and library use without a daemon). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
