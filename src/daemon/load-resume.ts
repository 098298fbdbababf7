import { join } from 'node:path';
import type { ConfValues } from '../config/schema.js';
import { BinlogSpool } from '../ops/binlog-spool.js';
import type { Checkpoint, LoadState } from '../ops/checkpoint.js';
import { snapshotFingerprint } from '../ops/snapshot-fingerprint.js';

/** An interrupted load that can go on: its checkpoint, its snapshot directory and its reopened spool. */
export interface LoadResume {
  readonly checkpoint: Checkpoint;
  readonly load: LoadState;
  readonly dir: string;
  readonly spool: BinlogSpool;
}

/**
 * The conf values that decide which records a load reads, which commands they become and which
 * sender applies each: a resumed load must see the same, or the positions it skips by would name
 * other commands.
 */
export function loadSettingsOf(v: ConfValues): Record<string, string> {
  return {
    'sync-batch-num': String(v['sync-batch-num']),
    'type-order': v['type-order'].join(','),
    'conflict-policy': v['conflict-policy'],
    'filter-keys': v['filter-keys'].join(' '),
    'filter-exclude-keys': v['filter-exclude-keys'].join(' '),
    'filter-types': v['filter-types'].join(','),
    'redis-sender-num': String(v['redis-sender-num']),
    // Renames change the keys, so the senders the commands hash to.
    'key-rename-prefix': JSON.stringify(v['key-rename-prefix']),
  };
}

/**
 * Checks that the load a `loading` checkpoint describes can go on — the snapshot files are still
 * there and unchanged, the settings are the same, the spool is intact up to what the checkpoint
 * says was fsynced — and reopens its spool. Throws an Error saying why not otherwise.
 */
export function openLoadResume(cp: Checkpoint, dbSyncPath: string, settings: Readonly<Record<string, string>>, spoolMaxBytes: number): LoadResume {
  if (cp.offsetPending === true) throw new Error('it began while the master still pushed the snapshot and stopped before the binlog offset came, so where the binlog resumes is unknown');
  const load = cp.load;
  if (load === undefined) throw new Error('it holds no load progress (written by an older pika-migrate)');
  const changed = Object.keys({ ...settings, ...load.settings }).filter((k) => settings[k] !== load.settings[k]);
  if (changed.length > 0) {
    throw new Error(`${changed.map((k) => `${k} was ${JSON.stringify(load.settings[k] ?? '')}, is ${JSON.stringify(settings[k] ?? '')}`).join('; ')} (a load resumes only with the settings it started with)`);
  }
  const dir = join(dbSyncPath, load.dir);
  const fp = snapshotFingerprint(dir);
  if (fp === null) throw new Error(`its snapshot ${dir} is gone`);
  if (fp !== load.fingerprint) throw new Error(`its snapshot ${dir} is not the one the load started on (files differ)`);
  const path = join(dbSyncPath, load.spool.file);
  let spool: BinlogSpool;
  try {
    spool = BinlogSpool.reopen(path, spoolMaxBytes, load.spool.bytes, load.spool.durable);
  } catch (e) {
    throw new Error(`its binlog spool cannot be used: ${(e as Error).message}`);
  }
  if (load.replayedBytes > spool.bytes) {
    spool.close();
    throw new Error(`its binlog spool ${path} holds ${spool.bytes} bytes, but ${load.replayedBytes} were replayed`);
  }
  return { checkpoint: cp, load, dir, spool };
}
