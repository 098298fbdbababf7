import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BinlogPosition } from '../core/binlog.js';
import type { DataType } from '../core/record.js';
import { CorruptionError } from '../core/errors.js';

/**
 * What a restart needs to resume a migration with TrySync instead of a second full sync: which
 * master (address and, where Pika has them, run id and replication id) and the binlog position up
 * to which Redis holds every entry.
 */
export interface Checkpoint {
  readonly master: { readonly host: string; readonly port: number };
  readonly runId?: string;
  readonly replicationId?: string;
  readonly family?: string;
  readonly version?: string;
  readonly db: number;
  readonly applied: BinlogPosition;
  /** Target the migration writes to: a checkpoint is only valid for the Redis it was made for. */
  readonly target: string;
  /** A snapshot load was under way: `applied` is its start, and Redis holds only part of it. */
  readonly loading?: boolean;
  /**
   * With `loading`: the load began while the master still pushed the snapshot (A/B), before the
   * binlog offset came; `applied` is 0:0 and the load cannot be resumed (its offset is unknown).
   */
  readonly offsetPending?: boolean;
  /** With `loading`: how far the load and its spool got, for a restart to resume them. */
  readonly load?: LoadState;
  readonly updatedAt: string;
}

/**
 * An interrupted load resumes only with the same dump read the same way (so that every record and
 * command gets the position it had): the same instant for liveness, the same settings, the same
 * files; and from the spool the master was acked from.
 */
export interface LoadState {
  /** The snapshot's directory, relative to db-sync-path (`db0`). */
  readonly dir: string;
  /** See snapshotFingerprint. */
  readonly fingerprint: string;
  /** The instant the load judges liveness and expiry against, in every run of it. */
  readonly nowMs: number;
  /** The conf keys that decide records, commands and their senders, with their values. */
  readonly settings: Readonly<Record<string, string>>;
  /** Low watermark: Redis holds every command of every record before this key's first (null: none yet). */
  readonly from: { readonly type: DataType; readonly keyHex: string; readonly seq: number } | null;
  /** The snapshot is wholly in Redis: the spool is being replayed. */
  readonly done: boolean;
  /** The spool file (relative to db-sync-path), its fsynced length and the binlog position it ends at. */
  readonly spool: { readonly file: string; readonly bytes: number; readonly durable: BinlogPosition | null };
  /** While replaying: every spooled entry before this byte offset is in Redis. */
  readonly replayedBytes: number;
}

const FORMAT = 1;

/**
 * The checkpoint of one DB, a small JSON file under `db-sync-path`, replaced atomically (write a
 * temporary file, fsync it, rename it over the old one, fsync the directory), so a crash at any
 * moment leaves either the old checkpoint or the new one, never a torn file.
 */
export class CheckpointStore {
  readonly path: string;

  constructor(dbSyncPath: string, db: number) {
    this.path = join(dbSyncPath, `pika-migrate-db${db}.checkpoint.json`);
  }

  /** The stored checkpoint, or null when there is none. A file that does not parse is an error. */
  read(): Checkpoint | null {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    let v: { format?: unknown } & Partial<Checkpoint>;
    try {
      v = JSON.parse(text) as typeof v;
    } catch (e) {
      throw new CorruptionError(`checkpoint is not JSON (${(e as Error).message}); remove it and use SLAVEOF … force to start over`, this.path);
    }
    const ok =
      v.format === FORMAT &&
      typeof v.master?.host === 'string' &&
      Number.isInteger(v.master?.port) &&
      Number.isInteger(v.db) &&
      Number.isInteger(v.applied?.filenum) &&
      Number.isInteger(v.applied?.offset) &&
      typeof v.target === 'string';
    if (!ok) throw new CorruptionError(`checkpoint has an unknown format; remove it and use SLAVEOF … force to start over`, this.path);
    const { format: _format, ...cp } = v;
    return cp as Checkpoint;
  }

  write(cp: Omit<Checkpoint, 'updatedAt'>): void {
    const dir = dirname(this.path);
    mkdirSync(dir, { recursive: true });
    const tmp = `${this.path}.tmp`;
    const body = JSON.stringify({ format: FORMAT, ...cp, updatedAt: new Date().toISOString() }, null, 2) + '\n';
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}
