import { ConfigError } from '../core/errors.js';
import { isSecretKey, MASK } from '../core/secrets.js';

/** One `key : value` line of a Pika conf file. */
export interface ConfEntry {
  readonly key: string;
  /** The value as UTF-8 text (what every parser reads). */
  readonly value: string;
  /**
   * The value's bytes exactly as written in the file: a password may hold bytes that are not
   * UTF-8, and decoding it would let other bytes match it. Absent: the bytes of `value`.
   */
  readonly bytes?: Buffer;
  /** Where it came from: `file:line`, or `env NAME` for an environment override. */
  readonly where: string;
}

/**
 * Parses Pika's conf syntax: `key : value`, the first colon separates (so `slaveof : 10.0.0.1:9221`
 * works), spaces around key and value are dropped and spaces inside the value are kept, `#` starts
 * a comment line, blank lines are ignored. Pika itself treats any other line as a comment; we reject
 * it, because a line that was meant as a setting and is silently ignored is how migrations go wrong.
 * The file is split as bytes (latin1 maps each byte to one char), so each value keeps its exact bytes;
 * only ASCII blanks are trimmed, since a trailing 0xA0 may be the last byte of a UTF-8 character.
 */
export function parsePikaConf(content: string | Buffer, file: string): ConfEntry[] {
  const text = typeof content === 'string' ? Buffer.from(content, 'utf8').toString('latin1') : content.toString('latin1');
  const entries: ConfEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = asciiTrim(lines[i]);
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const where = `${file}:${i + 1}`;
    if (colon <= 0) throw new ConfigError(`${where}: expected "key : value", got "${shownLine(utf8(line))}"`);
    const bytes = Buffer.from(asciiTrim(line.slice(colon + 1)), 'latin1');
    entries.push({ key: utf8(asciiTrim(line.slice(0, colon))), value: bytes.toString('utf8'), bytes, where });
  }
  return entries;
}

function asciiTrim(s: string): string {
  return s.replace(/^[ \t\r\n\f\v]+|[ \t\r\n\f\v]+$/g, '');
}

function utf8(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}

/** A rejected line as the error shows it: cut short, and without the value when it names a secret. */
function shownLine(line: string): string {
  const first = /^[^\s=]+/.exec(line)?.[0] ?? '';
  if (isSecretKey(first)) return `${first} ${MASK}`;
  return truncate(line);
}

/** `PIKA_MIGRATE_TARGET_REDIS_HOST=…` overrides `target-redis-host`. */
export function envOverrides(env: NodeJS.ProcessEnv): ConfEntry[] {
  const out: ConfEntry[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('PIKA_MIGRATE_') || value === undefined) continue;
    const key = name.slice('PIKA_MIGRATE_'.length).toLowerCase().replace(/_/g, '-');
    if (key === '') continue;
    out.push({ key, value: value.trim(), where: `env ${name}` });
  }
  return out;
}

function truncate(s: string): string {
  return s.length > 60 ? s.slice(0, 60) + '…' : s;
}
