/**
 * CURRENT → MANIFEST: replays VersionEdit records (storage.md §3.4) into the live version: column
 * families with their comparator names and log numbers, and the live SST files per level.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptionError } from '../../core/errors.js';
import { Cursor } from './coding.js';
import { readLogRecords } from './log-reader.js';

export interface FileMeta {
  readonly level: number;
  readonly number: number;
  readonly size: number;
  /** Internal keys. */
  readonly smallest: Buffer;
  readonly largest: Buffer;
  readonly smallestSeq: number;
  readonly largestSeq: number;
  readonly epoch?: number;
  /** Offset in the MANIFEST of the edit that added the file (for errors that name it). */
  readonly addedAt?: number;
}

export interface ColumnFamilyState {
  readonly id: number;
  name: string;
  comparator: string;
  logNumber: number;
  /** Live files by `level:number`. */
  readonly files: Map<string, FileMeta>;
}

export interface ManifestState {
  readonly manifestPath: string;
  /** Live column families by id. */
  readonly columnFamilies: Map<number, ColumnFamilyState>;
  lastSequence: number;
  nextFileNumber: number;
  /** Legacy: WALs below this may also be needed (2PC / pre-5.x); informative. */
  prevLogNumber: number;
  minLogNumberToKeep: number;
}

/** One decoded edit, kept close to the wire form (used by tests against `ldb manifest_dump`). */
export interface VersionEdit {
  comparator?: string;
  logNumber?: number;
  prevLogNumber?: number;
  nextFileNumber?: number;
  lastSequence?: number;
  minLogNumberToKeep?: number;
  maxColumnFamily?: number;
  columnFamily: number;
  cfAdd?: string;
  cfDrop?: boolean;
  atomicGroupRemaining?: number;
  deletedFiles: Array<{ level: number; number: number }>;
  newFiles: FileMeta[];
}

const TAG = {
  comparator: 1,
  logNumber: 2,
  nextFileNumber: 3,
  lastSequence: 4,
  compactCursor: 5,
  deletedFile: 6,
  newFile: 7,
  prevLogNumber: 9,
  minLogNumberToKeep: 10,
  newFile2: 100,
  newFile3: 102,
  newFile4: 103,
  columnFamily: 200,
  cfAdd: 201,
  cfDrop: 202,
  maxColumnFamily: 203,
  inAtomicGroup: 300,
  blobFileAddition: 400,
  blobFileGarbage: 401,
  oldWalAddition: 8196,
  oldWalDeletion: 8197,
} as const;

const SAFE_TO_IGNORE_BIT = 1 << 13;
const CUSTOM_TAG_NON_SAFE_IGNORE_MASK = 1 << 6;
const NEW_FILE4_TERMINATE = 1;
const NEW_FILE4_EPOCH = 13;
const NEW_FILE4_PATH_ID = 65;

export function decodeVersionEdit(data: Buffer, file: string, base: number): VersionEdit {
  const c = Cursor.of(data, file, base);
  const e: VersionEdit = { columnFamily: 0, deletedFiles: [], newFiles: [] };
  while (c.remaining > 0) {
    const tagAt = c.pos;
    const tag = c.varint32();
    switch (tag) {
      case TAG.comparator:
        e.comparator = c.lengthPrefixed().toString('latin1');
        break;
      case TAG.logNumber:
        e.logNumber = c.varint64();
        break;
      case TAG.prevLogNumber:
        e.prevLogNumber = c.varint64();
        break;
      case TAG.nextFileNumber:
        e.nextFileNumber = c.varint64();
        break;
      case TAG.lastSequence:
        e.lastSequence = c.varint64();
        break;
      case TAG.minLogNumberToKeep:
        e.minLogNumberToKeep = c.varint64();
        break;
      case TAG.maxColumnFamily:
        e.maxColumnFamily = c.varint32();
        break;
      case TAG.compactCursor:
        c.varint32();
        c.lengthPrefixed();
        break;
      case TAG.deletedFile: {
        const level = c.varint32();
        e.deletedFiles.push({ level, number: c.varint64() });
        break;
      }
      case TAG.newFile:
      case TAG.newFile2:
      case TAG.newFile3:
      case TAG.newFile4: {
        const level = c.varint32();
        const number = c.varint64();
        if (tag === TAG.newFile3) c.varint32(); // path id
        const size = c.varint64();
        const smallest = Buffer.from(c.lengthPrefixed());
        const largest = Buffer.from(c.lengthPrefixed());
        let smallestSeq = 0;
        let largestSeq = 0;
        if (tag !== TAG.newFile) {
          smallestSeq = c.varint64();
          largestSeq = c.varint64();
        }
        let epoch: number | undefined;
        if (tag === TAG.newFile4) {
          for (;;) {
            const at = c.pos;
            const custom = c.varint32();
            if (custom === NEW_FILE4_TERMINATE) break;
            const field = c.lengthPrefixed();
            if (custom === NEW_FILE4_EPOCH) epoch = Cursor.of(field, file, base + at).varint64();
            else if (custom === NEW_FILE4_PATH_ID) {
              if (field.length !== 1 || field[0] !== 0) c.fail('SST in a non-default db_path is not supported', at);
            } else if (custom & CUSTOM_TAG_NON_SAFE_IGNORE_MASK) {
              c.fail(`new-file field ${custom} must be understood and is not`, at);
            }
          }
        }
        e.newFiles.push({ level, number, size, smallest, largest, smallestSeq, largestSeq, epoch });
        break;
      }
      case TAG.columnFamily:
        e.columnFamily = c.varint32();
        break;
      case TAG.cfAdd:
        e.cfAdd = c.lengthPrefixed().toString('utf8');
        break;
      case TAG.cfDrop:
        e.cfDrop = true;
        break;
      case TAG.inAtomicGroup:
        e.atomicGroupRemaining = c.varint32();
        break;
      case TAG.blobFileAddition:
        c.varint64();
        c.varint64();
        c.varint64();
        c.u8();
        c.lengthPrefixed();
        skipCustomFields(c);
        break;
      case TAG.blobFileGarbage:
        c.varint64();
        c.varint64();
        c.varint64();
        skipCustomFields(c);
        break;
      case TAG.oldWalAddition: {
        c.varint64();
        for (;;) {
          const t = c.varint32();
          if (t === 1) break;
          if (t === 2) c.varint64();
          else c.fail(`unknown field ${t} in an old WAL addition`);
        }
        break;
      }
      case TAG.oldWalDeletion:
        c.varint64();
        break;
      default:
        if (tag & SAFE_TO_IGNORE_BIT) {
          c.lengthPrefixed();
          break;
        }
        c.fail(`unknown VersionEdit tag ${tag}`, tagAt);
    }
  }
  return e;
}

function skipCustomFields(c: Cursor): void {
  for (;;) {
    const t = c.varint32();
    if (t === 0) return;
    c.lengthPrefixed();
  }
}

/** Reads CURRENT and returns the path of the MANIFEST it names. */
export async function currentManifestPath(dir: string): Promise<string> {
  const currentPath = join(dir, 'CURRENT');
  let text: string;
  try {
    text = await readFile(currentPath, 'latin1');
  } catch (e) {
    throw new CorruptionError(`cannot read CURRENT: ${(e as Error).message}`, `${currentPath}@0`);
  }
  const m = /^(MANIFEST-\d+)\n$/.exec(text);
  if (!m) throw new CorruptionError(`CURRENT does not name a MANIFEST: ${JSON.stringify(text)}`, `${currentPath}@0`);
  return join(dir, m[1]);
}

/**
 * Decodes every edit of a MANIFEST. A torn last record is refused: RocksDB's recovery would drop it
 * silently, but a dump's MANIFEST is a closed file that ends at a record boundary
 * (storage-observed.md N5), so a cut one means an incomplete copy, not a crash mid-write.
 */
export async function* readVersionEdits(manifestPath: string): AsyncGenerator<VersionEdit & { offset: number }> {
  for await (const rec of readLogRecords(manifestPath, { truncatedTail: 'error', corruption: 'error' })) {
    yield { ...decodeVersionEdit(rec.data, manifestPath, rec.offset), offset: rec.offset };
  }
}

/** Replays a DB directory's MANIFEST into its live state. */
export async function loadManifest(dir: string): Promise<ManifestState> {
  const manifestPath = await currentManifestPath(dir);
  let manifestSize: number;
  try {
    manifestSize = (await stat(manifestPath)).size;
  } catch (e) {
    throw new CorruptionError(`CURRENT names a MANIFEST that cannot be read: ${(e as Error).message}`, `${join(dir, 'CURRENT')}@0`);
  }
  const state: ManifestState = {
    manifestPath,
    columnFamilies: new Map([[0, { id: 0, name: 'default', comparator: '', logNumber: 0, files: new Map() }]]),
    lastSequence: 0,
    nextFileNumber: 0,
    prevLogNumber: 0,
    minLogNumberToKeep: 0,
  };
  let group: Array<VersionEdit & { offset: number }> | null = null;
  const seen = { nextFile: false, logNumber: false, lastSequence: false };
  for await (const edit of readVersionEdits(manifestPath)) {
    seen.nextFile ||= edit.nextFileNumber !== undefined;
    seen.logNumber ||= edit.logNumber !== undefined;
    seen.lastSequence ||= edit.lastSequence !== undefined;
    if (edit.atomicGroupRemaining !== undefined) {
      group ??= [];
      group.push(edit);
      if (edit.atomicGroupRemaining === 0) {
        for (const g of group) applyEdit(state, g);
        group = null;
      }
      continue;
    }
    if (group) throw new CorruptionError('atomic group interrupted by an ordinary edit', `${manifestPath}@${edit.offset}`);
    applyEdit(state, edit);
  }
  // an unfinished atomic group at the end is dropped, as RocksDB does
  // RocksDB's VersionSet::Recover refuses a descriptor without these (e.g. one cut at a record boundary)
  const end = `${manifestPath}@${manifestSize}`;
  if (manifestSize === 0) throw new CorruptionError('MANIFEST is empty', end);
  if (!seen.nextFile) throw new CorruptionError('no meta-nextfile entry in descriptor (MANIFEST incomplete)', end);
  if (!seen.logNumber) throw new CorruptionError('no meta-lognumber entry in descriptor (MANIFEST incomplete)', end);
  if (!seen.lastSequence) throw new CorruptionError('no last-sequence-number entry in descriptor (MANIFEST incomplete)', end);
  return state;
}

function applyEdit(state: ManifestState, e: VersionEdit & { offset: number }): void {
  const where = `${state.manifestPath}@${e.offset}`;
  if (e.lastSequence !== undefined) state.lastSequence = e.lastSequence;
  if (e.nextFileNumber !== undefined) state.nextFileNumber = e.nextFileNumber;
  if (e.prevLogNumber !== undefined) state.prevLogNumber = e.prevLogNumber;
  if (e.minLogNumberToKeep !== undefined) state.minLogNumberToKeep = e.minLogNumberToKeep;
  if (e.cfAdd !== undefined) {
    if (state.columnFamilies.has(e.columnFamily)) {
      throw new CorruptionError(`column family ${e.columnFamily} added twice`, where);
    }
    state.columnFamilies.set(e.columnFamily, {
      id: e.columnFamily,
      name: e.cfAdd,
      comparator: e.comparator ?? '',
      logNumber: e.logNumber ?? 0,
      files: new Map(),
    });
    return;
  }
  const cf = state.columnFamilies.get(e.columnFamily);
  if (e.cfDrop) {
    if (!cf) throw new CorruptionError(`drop of unknown column family ${e.columnFamily}`, where);
    state.columnFamilies.delete(e.columnFamily);
    return;
  }
  if (!cf) {
    // edits for a dropped CF may still follow its drop in a MANIFEST; RocksDB ignores them
    return;
  }
  if (e.comparator !== undefined) cf.comparator = e.comparator;
  if (e.logNumber !== undefined) cf.logNumber = e.logNumber;
  for (const d of e.deletedFiles) {
    const k = `${d.level}:${d.number}`;
    if (!cf.files.delete(k)) throw new CorruptionError(`deleted file ${k} is not live in CF ${cf.name}`, where);
  }
  for (const f of e.newFiles) cf.files.set(`${f.level}:${f.number}`, { ...f, addedAt: e.offset });
}
