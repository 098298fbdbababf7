import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';
import { closestKey } from './closest-key.js';
import { envOverrides, parsePikaConf, type ConfEntry } from './pika-conf.js';
import { PIKA_KEYS } from './pika-keys.js';
import { isKnownKey, schema, type ConfKey, type ConfValues } from './schema.js';

/** A key that is neither ours nor Pika's: most likely a typo, whose setting then silently does not apply. */
export interface UnknownKey {
  readonly entry: ConfEntry;
  /** The known key (ours or Pika's) it is nearest to, if any is close. */
  readonly suggestion: string | null;
}

export interface Config {
  readonly file: string;
  readonly values: Readonly<ConfValues>;
  /** Every key as written (ours and Pika's), for `CONFIG GET`; the later source (env) wins. */
  readonly raw: ReadonlyMap<string, ConfEntry>;
  /** Keys that are neither ours nor used by the daemon: Pika's own settings, kept for CONFIG GET. */
  readonly ignored: readonly ConfEntry[];
  /** A secret's exact bytes as the conf file (or env) gave them, for comparisons; empty when unset. */
  readonly secretBytes: (key: 'requirepass') => Buffer;
  /** The ignored keys that Pika does not know either (warned about at start). */
  readonly unknown: readonly UnknownKey[];
}

/** `file:line key: unknown key, ignored (did you mean …?)`: the warning for an unknown key. */
export function unknownKeyMessage(u: UnknownKey): string {
  return `${u.entry.where} ${u.entry.key}: unknown key, ignored` + (u.suggestion === null ? '' : ` (did you mean ${u.suggestion}?)`);
}

/**
 * Loads a pika.conf and applies `PIKA_MIGRATE_*` environment overrides. Every problem is a
 * ConfigError that starts with `file:line key:` (or `env NAME key:`), which the CLI turns into
 * exit code 2.
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: Buffer;
  try {
    text = readFileSync(file);
  } catch (e) {
    throw new ConfigError(`${file}: cannot read config file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return buildConfig(file, [...parsePikaConf(text, file), ...envOverrides(env)]);
}

export function buildConfig(file: string, entries: ConfEntry[]): Config {
  const values = Object.fromEntries(Object.entries(schema).map(([k, s]) => [k, s.default])) as ConfValues;
  const raw = new Map<string, ConfEntry>();
  const seenInFile = new Map<string, ConfEntry>();
  const ignored: ConfEntry[] = [];
  const unknown: UnknownKey[] = [];
  for (const entry of entries) {
    const prev = seenInFile.get(entry.key);
    if (prev && isKnownKey(entry.key) && !entry.where.startsWith('env ')) {
      throw new ConfigError(`${entry.where} ${entry.key}: set twice (first at ${prev.where})`);
    }
    if (!entry.where.startsWith('env ')) seenInFile.set(entry.key, entry);
    raw.set(entry.key, entry);
    if (!isKnownKey(entry.key)) {
      if (entry.where.startsWith('env ')) throw new ConfigError(`${entry.where} ${entry.key}: unknown key`);
      ignored.push(entry);
      if (!PIKA_KEYS.has(entry.key)) unknown.push({ entry, suggestion: closestKey(entry.key, [...Object.keys(schema), ...PIKA_KEYS]) });
      continue;
    }
    setValue(values, entry.key, entry);
  }
  const cluster = raw.get('target-redis-cluster');
  if (values['target-redis-cluster'] !== null && values['target-redis-db'] !== 0) {
    const db = raw.get('target-redis-db');
    throw new ConfigError(`${db?.where ?? cluster?.where} target-redis-db: must be 0 with target-redis-cluster (a Redis Cluster has only DB 0)`);
  }
  const secretBytes = (key: string): Buffer => {
    const e = raw.get(key);
    return e === undefined ? Buffer.alloc(0) : (e.bytes ?? Buffer.from(e.value, 'utf8'));
  };
  return { file, values, raw, ignored, unknown, secretBytes };
}

function setValue(values: ConfValues, key: ConfKey, entry: ConfEntry): void {
  try {
    (values as Record<string, unknown>)[key] = schema[key].parse(entry.value);
  } catch (e) {
    throw new ConfigError(`${entry.where} ${key}: ${(e as Error).message}`);
  }
}
