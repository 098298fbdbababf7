import type { DataType } from '../core/record.js';

/** Pika's own per-type key counts from `INFO keyspace`, or null when it holds none yet. */
export interface PikaKeyCounts {
  /** Live keys per type (Pika counts a name once per type it holds). */
  readonly keys: Readonly<Record<DataType, number>>;
  /** When Pika's last count started (its `# Time:` line), as Pika wrote it. */
  readonly countedAt: string | null;
}

const TYPE_OF: Record<string, DataType | undefined> = { Strings: 'string', Hashes: 'hash', Lists: 'list', Zsets: 'zset', Sets: 'set', Streams: 'stream' };

/**
 * Pika's `INFO keyspace` is not Redis's `db0:keys=…,expires=…`: it is one line per type,
 * `db0 Strings_keys=N, expires=E, invaild_keys=I` (3.2; `invalid_keys` from 3.3 on; 4.0 adds a
 * `Streams_keys` line), and its numbers come from the last count that `info keyspace 1` started
 * in the background (pika_admin.cc InfoCmd::InfoKeyspace, v3.2.7…v4.0.1). A Pika that was never
 * asked to count shows zeros: the caller treats that as "unknown", not as an empty database.
 */
export function parsePikaKeyspace(text: string, db = 'db0'): PikaKeyCounts | null {
  const keys: Record<DataType, number> = { string: 0, hash: 0, list: 0, set: 0, zset: 0, stream: 0 };
  let seen = false;
  let countedAt: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    const time = /^# Time:\s*(.*)$/.exec(line);
    if (time !== null) countedAt = time[1].trim();
    const m = /^(\S+) (\w+)_keys=(\d+),/.exec(line);
    if (m === null || m[1] !== db) continue;
    const type = TYPE_OF[m[2]];
    if (type === undefined) continue;
    keys[type] = Number(m[3]);
    seen = true;
  }
  if (!seen || Object.values(keys).every((n) => n === 0)) return null;
  return { keys, countedAt };
}

export function totalKeys(c: PikaKeyCounts): number {
  return Object.values(c.keys).reduce((a, b) => a + b, 0);
}
