/**
 * Loads a fixture's expected.json (what the master answered over the Redis protocol) and folds
 * SnapshotRecords into the same shape, so tests compare whole databases value by value.
 */
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import type { DataType, SnapshotRecord, StreamEntry } from '../../src/core/record.js';

export interface ExpectedFile {
  at: number;
  keys: Record<string, { types: Partial<Record<DataType, { v: unknown }>>; expireAt: number | null; pttl: number }>;
}

export function loadExpected(path: string): ExpectedFile {
  return JSON.parse(readFileSync(path, 'utf8')) as ExpectedFile;
}

/** expected.json's spelling of bytes: printable ASCII as is, anything else `hex:…`. */
export function bytesOf(s: string): Buffer {
  return s.startsWith('hex:') ? Buffer.from(s.slice(4), 'hex') : Buffer.from(s, 'latin1');
}

/** Canonical text of a value, independent of chunking and of element order where Redis has none. */
export type Canon = string;

const hex = (b: Buffer): string => b.toString('hex');

function scoreOf(s: string): number {
  if (s === 'inf') return Infinity;
  if (s === '-inf') return -Infinity;
  if (s === 'NaN') return NaN;
  return Number(s);
}

/** Score as its IEEE-754 bits, so −0, NaN and denormals compare exactly. */
function scoreBits(x: number): string {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return Number.isNaN(x) ? 'nan' : hex(b);
}

export function canonExpected(type: DataType, v: unknown): Canon {
  switch (type) {
    case 'string':
      return hex(bytesOf(v as string));
    case 'hash':
      return JSON.stringify(Object.entries(v as Record<string, string>).map(([f, x]) => [hex(bytesOf(f)), hex(bytesOf(x))]).sort());
    case 'list':
      return JSON.stringify((v as string[]).map((e) => hex(bytesOf(e))));
    case 'set':
      return JSON.stringify((v as string[]).map((e) => hex(bytesOf(e))).sort());
    case 'zset':
      return JSON.stringify((v as Array<[string, string]>).map(([m, s]) => [hex(bytesOf(m)), scoreBits(scoreOf(s))]).sort());
    case 'stream':
      // [[id, [field, value, …]], …] in ID order
      return JSON.stringify((v as Array<[string, string[]]>).map(([id, fv]) => [id, fv.map((x) => hex(bytesOf(x)))]));
  }
}

interface Folding {
  type: DataType;
  expireAtMs: number | null;
  parts: unknown[];
  done: boolean;
}

/** Result of folding a record stream: one canonical value per (key, type), checked chunk framing. */
export interface Folded {
  /** `hex(key) type` → canonical value. */
  values: Map<string, { key: Buffer; type: DataType; expireAtMs: number | null; canon: Canon }>;
  records: number;
  maxChunkElements: number;
}

export async function fold(records: AsyncIterable<SnapshotRecord>, db: number): Promise<Folded> {
  const open = new Map<string, Folding>();
  const values: Folded['values'] = new Map();
  let seq = 0;
  let maxChunkElements = 0;
  for await (const r of records) {
    assert.deepEqual(r.pos, { kind: 'snapshot', db, seq }, 'positions count up by one');
    assert.equal(r.db, db);
    seq++;
    const id = `${hex(r.key)} ${r.type}`;
    let f = open.get(id);
    if (r.first) {
      assert.equal(f, undefined, `${id}: first chunk twice`);
      assert.equal(values.has(id), false, `${id}: key emitted twice`);
      f = { type: r.type, expireAtMs: r.expireAtMs, parts: [], done: false };
      open.set(id, f);
    } else {
      assert.ok(f !== undefined, `${id}: continuation without a first chunk`);
      assert.equal(r.expireAtMs, f.expireAtMs, `${id}: expiry differs between chunks`);
    }
    const items: unknown[] =
      r.type === 'string' ? [r.value] : r.type === 'hash' ? [...r.fields] : r.type === 'list' ? [...r.elements] : r.type === 'stream' ? [...r.entries] : [...r.members];
    assert.ok(items.length > 0, `${id}: empty chunk`);
    maxChunkElements = Math.max(maxChunkElements, items.length);
    f.parts.push(...items);
    if (r.last) {
      open.delete(id);
      values.set(id, { key: r.key, type: r.type, expireAtMs: r.expireAtMs, canon: canonRecord(r.type, f.parts) });
    }
  }
  assert.deepEqual([...open.keys()], [], 'every key got its last chunk');
  return { values, records: seq, maxChunkElements };
}

function canonRecord(type: DataType, parts: unknown[]): Canon {
  switch (type) {
    case 'string':
      return hex(parts[0] as Buffer);
    case 'hash':
      return JSON.stringify((parts as Array<[Buffer, Buffer]>).map(([f, v]) => [hex(f), hex(v)]).sort());
    case 'list':
      return JSON.stringify((parts as Buffer[]).map(hex));
    case 'set':
      return JSON.stringify((parts as Buffer[]).map(hex).sort());
    case 'zset':
      return JSON.stringify((parts as Array<[Buffer, number]>).map(([m, s]) => [hex(m), scoreBits(s)]).sort());
    case 'stream':
      return JSON.stringify((parts as StreamEntry[]).map((e) => [e.id, e.fields.map(hex)]));
  }
}
