/**
 * WAL replay (storage.md §3.5.3): every `*.log` with number ≥ the smallest live CF log number, in
 * ascending order; operations of a CF whose log number is above the WAL's number are already in
 * SSTs and skipped. Produces one unsorted memtable per CF (sorted later with the CF's comparator).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
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
  for (let i = 0; i < wals.length; i++) {
    const wal = wals[i];
    const last = i === wals.length - 1;
    // the last WAL may end in a torn write (point-in-time recovery); earlier ones must be whole
    const mode = last ? 'end' : 'error';
    for await (const rec of readLogRecords(wal.path, { truncatedTail: mode, corruption: mode, logNumber: wal.number })) {
      const batch = decodeWriteBatch(rec.data, wal.path, rec.offset);
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
  }
  return { memtables, wals };
}

const EMPTY = Buffer.alloc(0);
