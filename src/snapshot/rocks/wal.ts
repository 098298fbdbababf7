/**
 * WAL replay (storage.md §3.5.3): every `*.log` with number ≥ the smallest live CF log number, in
 * ascending order; operations of a CF whose log number is above the WAL's number are already in
 * SSTs and skipped. Produces one unsorted memtable per CF (sorted later with the CF's comparator).
 *
 * Damage is handled as RocksDB's default recovery mode, kPointInTimeRecovery (DBImpl::RecoverLogFiles):
 * a torn or corrupt record ends the replay there, in any WAL; a later WAL is replayed again only
 * from a batch whose sequence continues exactly where the replay stopped (its earlier batches are
 * dropped); and if the replay never resumed while a column family with SSTs was flushed past the
 * damaged WAL (its log number is above it), the DB is refused: "SST file is ahead of WALs".
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptionError } from '../../core/errors.js';
import { makeInternalKey, ValueType } from './internal-key.js';
import { readLogRecords } from './log-reader.js';
import type { ManifestState } from './manifest.js';
import { decodeWriteBatch } from './write-batch.js';

export interface MemEntry {
  /** Internal key. */
  readonly ikey: Buffer;
  readonly value: Buffer;
}

export interface MemTable {
  readonly entries: MemEntry[];
  /** Range tombstones: internal key of the start (type 0xF) → end user key. */
  readonly rangeDeletions: MemEntry[];
  bytes: number;
}

export interface WalFile {
  readonly number: number;
  readonly path: string;
  readonly size: number;
}

/** Default cap on the bytes replayed from WALs; a Pika dump holds none. */
export const DEFAULT_MEMTABLE_LIMIT = 1 << 30;

export async function listWals(dir: string): Promise<WalFile[]> {
  const out: WalFile[] = [];
  for (const name of await readdir(dir)) {
    const m = /^(\d+)\.log$/.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    out.push({ number: Number(m[1]), path, size: (await stat(path)).size });
  }
  return out.sort((a, b) => a.number - b.number);
}

/** Replays the WALs that are still needed into per-CF memtables; returns the WALs used. */
export async function replayWals(
  dir: string,
  manifest: ManifestState,
  limit = DEFAULT_MEMTABLE_LIMIT,
): Promise<{ memtables: Map<number, MemTable>; wals: WalFile[] }> {
  const memtables = new Map<number, MemTable>();
  for (const id of manifest.columnFamilies.keys()) memtables.set(id, { entries: [], rangeDeletions: [], bytes: 0 });
  let minLog = Infinity;
  for (const cf of manifest.columnFamilies.values()) minLog = Math.min(minLog, cf.logNumber);
  const wals = (await listWals(dir)).filter((w) => w.number >= minLog);
  let total = 0;
  let nextSequence = -1;
  let stopped: { wal: WalFile; reason: string; at: number } | null = null;
  for (const wal of wals) {
    const stop: { reason?: string; at: number } = { at: 0 };
    const onStop = (reason: string, at: number) => Object.assign(stop, { reason, at });
    for await (const rec of readLogRecords(wal.path, { truncatedTail: 'end', corruption: 'end', logNumber: wal.number, onStop })) {
      const batch = decodeWriteBatch(rec.data, wal.path, rec.offset);
      if (stopped !== null) {
        if (batch.sequence !== nextSequence) break; // the rest of this WAL is past the gap
        stopped = null;
      }
      nextSequence = batch.sequence + batch.count;
      for (const op of batch.ops) {
        const cf = manifest.columnFamilies.get(op.cf);
        if (!cf || cf.logNumber > wal.number) continue;
        const mem = memtables.get(op.cf)!;
        let entry: MemEntry;
        let target = mem.entries;
        switch (op.kind) {
          case 'put':
            entry = { ikey: makeInternalKey(op.key, op.seq, ValueType.Value), value: op.value };
            break;
          case 'delete':
            entry = { ikey: makeInternalKey(op.key, op.seq, ValueType.Deletion), value: EMPTY };
            break;
          case 'singleDelete':
            entry = { ikey: makeInternalKey(op.key, op.seq, ValueType.SingleDeletion), value: EMPTY };
            break;
          case 'merge':
            entry = { ikey: makeInternalKey(op.key, op.seq, ValueType.Merge), value: op.value };
            break;
          case 'blobIndex':
            entry = { ikey: makeInternalKey(op.key, op.seq, ValueType.BlobIndex), value: op.value };
            break;
          case 'entity':
            entry = { ikey: makeInternalKey(op.key, op.seq, ValueType.WideColumnEntity), value: op.value };
            break;
          case 'deleteRange':
            entry = { ikey: makeInternalKey(op.key, op.seq, ValueType.RangeDeletion), value: op.end };
            target = mem.rangeDeletions;
            break;
        }
        target.push(entry);
        const n = entry.ikey.length + entry.value.length + 32;
        mem.bytes += n;
        total += n;
        if (total > limit) {
          throw new Error(
            `${wal.path}: WAL data exceeds the memtable limit of ${limit} bytes; a snapshot should hold little or no WAL data`,
          );
        }
      }
    }
    if (stop.reason !== undefined) stopped = { wal, reason: stop.reason, at: stop.at };
  }
  if (stopped !== null) {
    for (const cf of manifest.columnFamilies.values()) {
      if (cf.logNumber > stopped.wal.number && cf.files.size > 0) {
        throw new CorruptionError(
          `SST file is ahead of WALs in CF ${cf.name}: the WAL replay stopped at ${stopped.reason}, and data of later writes is in SSTs`,
          `${stopped.wal.path}@${stopped.at}`,
        );
      }
    }
  }
  return { memtables, wals };
}

const EMPTY = Buffer.alloc(0);
