import { ConfigError } from '../core/errors.js';

/** One `key : value` line of a Pika conf file. */
export interface ConfEntry {
  readonly key: string;
  readonly value: string;
  /** Where it came from: `file:line`, or `env NAME` for an environment override. */
  readonly where: string;
}

/**
 * Parses Pika's conf syntax: `key : value`, the first colon separates (so `slaveof : 10.0.0.1:9221`
 * works), spaces around key and value are dropped and spaces inside the value are kept, `#` starts
 * a comment line, blank lines are ignored. Pika itself treats any other line as a comment; we reject
 * it, because a line that was meant as a setting and is silently ignored is how migrations go wrong.
 */
export function parsePikaConf(text: string, file: string): ConfEntry[] {
  const entries: ConfEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const where = `${file}:${i + 1}`;
    if (colon <= 0) throw new ConfigError(`${where}: expected "key : value", got "${truncate(line)}"`);
    entries.push({ key: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim(), where });
  }
  return entries;
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
