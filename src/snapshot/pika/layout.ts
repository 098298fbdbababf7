/**
 * Where things are in a DBSync dump (storage.md §1.2): A–C = one RocksDB per data type
 * (`strings hashes lists sets zsets`, 3.5.3+ masters' own dumps also `streams`); D = one RocksDB per
 * instance (`0 … N-1`); both with the 5-line `info` file the master writes last.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, CorruptionError } from '../../core/errors.js';

export type Family = 'A-C' | 'D';

export const TYPE_DIRS_3 = ['strings', 'hashes', 'lists', 'sets', 'zsets'] as const;
export type TypeDir3 = (typeof TYPE_DIRS_3)[number];
export const STREAMS_DIR_3 = 'streams';

export interface DbLayout {
  readonly family: Family;
  readonly dbDir: string;
  /** A–C: the five type DB dirs (plus `streams` when present); D: instance dirs in numeric order. */
  readonly dirs: ReadonlyArray<{ readonly name: string; readonly path: string }>;
}

async function subdirs(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new ConfigError(`cannot read snapshot directory ${dir}: ${(e as Error).message}`);
  }
  return entries.filter((e) => e.isDirectory()).map((e) => e.name);
}

/**
 * Inspects one DB directory of a dump (e.g. `dump/db0`). A dump root holding `db0/`, `db1/`, … is
 * accepted too and inspected through its lowest-numbered DB (every DB of a dump has one family).
 */
export async function layoutOf(dir: string): Promise<DbLayout> {
  const names = await subdirs(dir);
  const typeNames = names.filter((n) => (TYPE_DIRS_3 as readonly string[]).includes(n) || n === STREAMS_DIR_3);
  const instances = names.filter((n) => /^(0|[1-9][0-9]*)$/.test(n)).sort((a, b) => Number(a) - Number(b));
  if (typeNames.length > 0 && instances.length > 0) {
    throw new CorruptionError(`both type directories (${typeNames.join(', ')}) and instance directories (${instances.join(', ')})`, dir);
  }
  if (typeNames.length > 0) {
    const missing = TYPE_DIRS_3.filter((t) => !names.includes(t));
    if (missing.length > 0) throw new CorruptionError(`3.x dump lacks type director${missing.length > 1 ? 'ies' : 'y'} ${missing.join(', ')}`, dir);
    const order = [...TYPE_DIRS_3, STREAMS_DIR_3].filter((t) => names.includes(t));
    return { family: 'A-C', dbDir: dir, dirs: order.map((name) => ({ name, path: join(dir, name) })) };
  }
  if (instances.length > 0) {
    instances.forEach((n, i) => {
      if (Number(n) !== i) throw new CorruptionError(`instance directories are not 0…${instances.length - 1}: ${instances.join(', ')}`, dir);
    });
    return { family: 'D', dbDir: dir, dirs: instances.map((name) => ({ name, path: join(dir, name) })) };
  }
  const dbs = names.filter((n) => /^db(0|[1-9][0-9]*)$/.test(n)).sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)));
  if (dbs.length > 0) return layoutOf(join(dir, dbs[0]));
  throw new CorruptionError('neither Pika 3.x type directories (strings, hashes, …) nor 4.0 instance directories (0, 1, …)', dir);
}

/** The `info` file of a DB dump: bgsave duration, master ip/port, binlog position at the dump. */
export interface DumpInfo {
  readonly bgsaveDuration: string;
  readonly masterIp: string;
  readonly masterPort: number;
  readonly filenum: number;
  readonly offset: number;
}

export async function readDumpInfo(dbDir: string): Promise<DumpInfo> {
  const file = join(dbDir, 'info');
  let text: string;
  try {
    text = await readFile(file, 'latin1');
  } catch (e) {
    throw new CorruptionError(`no info file (the master writes it last, so the dump is incomplete): ${(e as Error).message}`, file);
  }
  const lines = text.split('\n');
  if (lines.length >= 6 && lines[5] === '') lines.length = 5;
  if (lines.length !== 5) throw new CorruptionError(`expected 5 lines, found ${lines.length}`, file);
  const num = (i: number, what: string): number => {
    if (!/^[0-9]+$/.test(lines[i])) throw new CorruptionError(`line ${i + 1} (${what}) is not a number: ${JSON.stringify(lines[i])}`, file);
    return Number(lines[i]);
  };
  return { bgsaveDuration: lines[0], masterIp: lines[1], masterPort: num(2, 'master port'), filenum: num(3, 'binlog filenum'), offset: num(4, 'binlog offset') };
}

/** Bytes of RocksDB data files (SST, WAL, blob) under the DB's dirs — the work a full read does. */
export async function dataBytes(layout: DbLayout): Promise<number> {
  let total = 0;
  for (const d of layout.dirs) {
    for (const name of await readdir(d.path)) {
      if (/\.(sst|ldb|log|blob)$/.test(name)) total += (await stat(join(d.path, name))).size;
    }
  }
  return total;
}
