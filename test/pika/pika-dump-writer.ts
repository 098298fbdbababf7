/**
 * Writes a Pika dump from a JSON description, through real RocksDB (the C++ fixture writer with
 * Pika's comparators), in Pika's encodings of storage.md §2.1 (A–C: one DB per type) and §2.3
 * (D: instance DBs with seven column families); and says what a reader must find in it.
 *
 * The description names keys with their live value (expected.json's spelling: text, or `hex:` for
 * bytes) and knobs that real Pika leaves on disk: expired keys, keys deleted the way Pika deletes
 * (containers keep their data under a dead version), stale versions, a same name in several types
 * (A–C), big keys, data only in the WAL, and the table options (format_version, compression,
 * index type, checksum, block size).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataType } from '../../src/core/record.js';
import { DEFAULT_TYPE_ORDER } from '../../src/snapshot/pika/snapshot.js';
import { writerBinary } from '../rocks/writer.js';
import { bytesOf, canonExpected, type Canon } from './expected.js';

export interface KeyDesc {
  readonly name: string;
  readonly type: DataType;
  /** string: text; hash: {field: value}; list: [elements]; set: [members]; zset: [[member, score]] (score as text: `1.5`, `inf`, `-inf`). */
  readonly value: unknown;
  /** Absolute expiry in ms (A–C keep whole seconds), null/absent: persistent. */
  readonly expireAt?: number | null;
  /** Deleted after being written and flushed, as Pika's DEL does it. */
  readonly deleted?: boolean;
  /** An older version of the key, with other data, is written and flushed first. */
  readonly staleVersion?: boolean;
  /** Written after the last flush: only in the WAL when the DB is closed. */
  readonly unflushed?: boolean;
  /** D: which instance holds it (default 0). */
  readonly instance?: number;
}

export interface DumpDesc {
  readonly family: 'A-C' | 'D';
  /** D: 4.0.1 stores times as `ms | 2^63`; 4.0.0 (false) as seconds. */
  readonly msTimes?: boolean;
  readonly instances?: number;
  /** Writer `option` lines: format_version, compression, index, checksum, block_size, … */
  readonly options?: Readonly<Record<string, string | number>>;
  readonly keys: readonly KeyDesc[];
}

/** A byte string as the fixture writer's `x:<hex>` token. */
export const x = (b: Buffer): string => `x:${b.toString('hex')}`;
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
};
const u64 = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
};
const f64 = (d: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(d);
  return b;
};
const score = (s: string): number => (s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s));

/** Elements of a container value as [data, value] pairs (list: element only; set: member only). */
function items(k: KeyDesc): Array<[Buffer, Buffer | number]> {
  switch (k.type) {
    case 'hash':
      return Object.entries(k.value as Record<string, string>).map(([f, v]) => [bytesOf(f), bytesOf(v)]);
    case 'zset':
      return (k.value as Array<[string, string]>).map(([m, s]) => [bytesOf(m), score(s)]);
    case 'list':
    case 'set':
      return (k.value as string[]).map((e) => [bytesOf(e), Buffer.alloc(0)]);
    default:
      throw new Error(`${k.type} is no container`);
  }
}

/** The stale data written before the live version: other fields/members, so leaking them shows. */
function staleOf(k: KeyDesc): KeyDesc {
  const v: Record<DataType, unknown> = {
    string: 'stale',
    hash: { stalefield: 'stale' },
    list: ['stale'],
    set: ['stale'],
    zset: [['stale', '7']],
    stream: [],
  };
  return { ...k, value: v[k.type] };
}

// ---- A–C (storage.md §2.1) ----

const TYPE_DIR: Record<DataType, string> = { string: 'strings', hash: 'hashes', list: 'lists', set: 'sets', zset: 'zsets', stream: 'streams' };
const CFS_3: Record<string, string[]> = {
  strings: [],
  hashes: ['cf data_cf'],
  sets: ['cf member_cf'],
  lists: ['cf data_cf pika-lists3'],
  zsets: ['cf data_cf', 'cf score_cf pika-zscore3'],
};
/** Pika's initial list indexes: elements go between left and right (lists_meta_value_format.h). */
const LIST_LEFT = 9223372036854775807n;

/** A–C hash/set/zset meta value: `count:u32 ‖ version:i32 ‖ expire:i32` (seconds, 0 = none). */
export function meta3(count: number, version: number, expireS = 0): Buffer {
  return Buffer.concat([u32(count), i32(version), i32(expireS)]);
}

/** A–C data-key prefix of `key` at `version`: `len:u32 ‖ key ‖ version:i32` (the field or member follows). */
export function dataPrefix3(key: Buffer, version: number): Buffer {
  return Buffer.concat([u32(key.length), key, i32(version)]);
}

/** A–C string value: `value ‖ expire:i32`. */
export function string3(value: Buffer, expireS = 0): Buffer {
  return Buffer.concat([value, i32(expireS)]);
}

function expireS(k: KeyDesc): number {
  return k.expireAt ? Math.floor(k.expireAt / 1000) : 0;
}

function lines3(k: KeyDesc, version: number): string[] {
  const key = bytesOf(k.name);
  if (k.type === 'string') return [`put default ${x(key)} ${x(string3(bytesOf(k.value as string), expireS(k)))}`];
  const its = items(k);
  const prefix = dataPrefix3(key, version);
  const out: string[] = [];
  if (k.type === 'list') {
    out.push(`put default ${x(key)} ${x(Buffer.concat([u64(BigInt(its.length)), i32(version), i32(expireS(k)), u64(LIST_LEFT), u64(LIST_LEFT + BigInt(its.length) + 1n)]))}`);
    its.forEach(([e], i) => out.push(`put data_cf ${x(Buffer.concat([prefix, u64(LIST_LEFT + BigInt(i) + 1n)]))} ${x(e)}`));
    return out;
  }
  out.push(`put default ${x(key)} ${x(meta3(its.length, version, expireS(k)))}`);
  for (const [d, v] of its) {
    if (k.type === 'hash') out.push(`put data_cf ${x(Buffer.concat([prefix, d]))} ${x(v as Buffer)}`);
    else if (k.type === 'set') out.push(`put member_cf ${x(Buffer.concat([prefix, d]))} x:`);
    else {
      out.push(`put data_cf ${x(Buffer.concat([prefix, d]))} ${x(f64(v as number))}`);
      out.push(`put score_cf ${x(Buffer.concat([prefix, f64(v as number), d]))} x:`);
    }
  }
  return out;
}

/** Pika's DEL: strings are deleted; a container's meta gets count 0 and a new version, its data stays. */
function del3(k: KeyDesc, version: number): string[] {
  const key = bytesOf(k.name);
  if (k.type === 'string') return [`del default ${x(key)}`];
  if (k.type === 'list') return [`put default ${x(key)} ${x(Buffer.concat([u64(0n), i32(version + 1), i32(0), u64(LIST_LEFT), u64(LIST_LEFT + 1n)]))}`];
  return [`put default ${x(key)} ${x(meta3(0, version + 1))}`];
}

// ---- D (storage.md §2.3) ----

const CFS_4 = ['cf hash_data_cf', 'cf set_data_cf', 'cf list_data_cf pika-lists4', 'cf zset_data_cf', 'cf zset_score_cf pika-zscore4', 'cf stream_data_cf'];
const TYPE_BYTE: Record<DataType, number> = { string: 0, hash: 1, set: 2, list: 3, zset: 4, stream: 5 };
const ZERO8 = Buffer.alloc(8);
const ZERO16 = Buffer.alloc(16);

/** E(key): every 00 written as 00 01, then the 00 00 delimiter. */
function escapeKey(key: Buffer): Buffer {
  const out: number[] = [];
  for (const b of key) {
    out.push(b);
    if (b === 0) out.push(1);
  }
  out.push(0, 0);
  return Buffer.from(out);
}

function lines4(k: KeyDesc, version: bigint, msTimes: boolean, nowMs: number): string[] {
  const t = (ms: number | null | undefined): Buffer => {
    if (!ms) return u64(0n);
    return msTimes ? u64(BigInt(ms) | (1n << 63n)) : u64(BigInt(Math.floor(ms / 1000)));
  };
  const ek = escapeKey(bytesOf(k.name));
  const metaKey = Buffer.concat([ZERO8, ek, ZERO16]);
  const ctime = t(nowMs);
  const suffix = Buffer.concat([ZERO16, ctime]);
  if (k.type === 'string') {
    return [`put default ${x(metaKey)} ${x(Buffer.concat([Buffer.from([0]), bytesOf(k.value as string), ZERO16, ctime, t(k.expireAt)]))}`];
  }
  const its = items(k);
  const ver = u64(version);
  const out: string[] = [];
  const dataKey = (d: Buffer) => Buffer.concat([ZERO8, ek, ver, d, ZERO16]);
  if (k.type === 'list') {
    const n = BigInt(its.length);
    const eight = Buffer.alloc(8);
    out.push(`put default ${x(metaKey)} ${x(Buffer.concat([Buffer.from([3]), u64(n), ver, u64(LIST_LEFT), eight, u64(LIST_LEFT + n + 1n), eight, ZERO16, ctime, t(k.expireAt)]))}`);
    its.forEach(([e], i) => out.push(`put list_data_cf ${x(dataKey(u64(LIST_LEFT + BigInt(i) + 1n)))} ${x(Buffer.concat([e, suffix]))}`));
    return out;
  }
  out.push(`put default ${x(metaKey)} ${x(Buffer.concat([Buffer.from([TYPE_BYTE[k.type]]), u32(its.length), ver, ZERO16, ctime, t(k.expireAt)]))}`);
  for (const [d, v] of its) {
    if (k.type === 'hash') out.push(`put hash_data_cf ${x(dataKey(d))} ${x(Buffer.concat([v as Buffer, suffix]))}`);
    else if (k.type === 'set') out.push(`put set_data_cf ${x(dataKey(d))} ${x(suffix)}`);
    else {
      out.push(`put zset_data_cf ${x(dataKey(d))} ${x(Buffer.concat([f64(v as number), suffix]))}`);
      out.push(`put zset_score_cf ${x(Buffer.concat([ZERO8, ek, ver, f64(v as number), d, ZERO16]))} ${x(suffix)}`);
    }
  }
  return out;
}

function del4(k: KeyDesc, version: bigint, msTimes: boolean): string[] {
  const ek = escapeKey(bytesOf(k.name));
  const metaKey = Buffer.concat([ZERO8, ek, ZERO16]);
  if (k.type === 'string') return [`del default ${x(metaKey)}`];
  const ver = u64(version + 1n);
  const ctime = msTimes ? u64(BigInt(Date.now()) | (1n << 63n)) : u64(BigInt(Math.floor(Date.now() / 1000)));
  if (k.type === 'list') {
    const eight = Buffer.alloc(8);
    return [`put default ${x(metaKey)} ${x(Buffer.concat([Buffer.from([3]), u64(0n), ver, u64(LIST_LEFT), eight, u64(LIST_LEFT + 1n), eight, ZERO16, ctime, u64(0n)]))}`];
  }
  return [`put default ${x(metaKey)} ${x(Buffer.concat([Buffer.from([TYPE_BYTE[k.type]]), u32(0), ver, ZERO16, ctime, u64(0n)]))}`];
}

// ---- writing ----

/** One DB's script: options, CFs, then phases (stale data → flush → live data → flush → deletes → flush → WAL-only tail). */
function script(cfs: string[], options: DumpDesc['options'], phases: { stale: string[]; live: string[]; deletes: string[]; tail: string[] }): string[] {
  const opts = Object.entries(options ?? {}).map(([k, v]) => `option ${k} ${v}`);
  return [...opts, ...cfs, 'open', ...phases.stale, 'flush', ...phases.live, 'flush', ...phases.deletes, 'flush', ...phases.tail, 'close'];
}

function run(dir: string, lines: string[]): void {
  mkdirSync(dir, { recursive: true });
  const file = `${dir}.script`;
  writeFileSync(file, lines.join('\n') + '\n');
  execFileSync(writerBinary(), [dir, file], { stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Writes the dump under `root` and returns its DB dir (`root/db0`). */
export function writePikaDump(desc: DumpDesc, root: string, nowMs = Date.now()): string {
  const db0 = join(root, 'db0');
  const groups = new Map<string, { cfs: string[]; stale: string[]; live: string[]; deletes: string[]; tail: string[] }>();
  const group = (name: string, cfs: string[]) => {
    let g = groups.get(name);
    if (g === undefined) groups.set(name, (g = { cfs, stale: [], live: [], deletes: [], tail: [] }));
    return g;
  };
  if (desc.family === 'A-C') for (const [dir, cfs] of Object.entries(CFS_3)) group(dir, cfs);
  else for (let i = 0; i < (desc.instances ?? 1); i++) group(String(i), CFS_4);
  const version3 = Math.floor(nowMs / 1000) - 1000;
  const version4 = BigInt(desc.msTimes === false ? Math.floor(nowMs / 1000) : nowMs) - 1000n;
  for (const k of desc.keys) {
    const g = desc.family === 'A-C' ? group(TYPE_DIR[k.type], CFS_3[TYPE_DIR[k.type]]) : group(String(k.instance ?? 0), CFS_4);
    const write = (key: KeyDesc, v: number) => (desc.family === 'A-C' ? lines3(key, version3 + v) : lines4(key, version4 + BigInt(v), desc.msTimes !== false, nowMs));
    if (k.staleVersion) g.stale.push(...write(staleOf(k), 0));
    (k.unflushed ? g.tail : g.live).push(...write(k, 1));
    if (k.deleted) g.deletes.push(...(desc.family === 'A-C' ? del3(k, version3 + 1) : del4(k, version4 + 1n, desc.msTimes !== false)));
  }
  for (const [name, g] of groups) run(join(db0, name), script(g.cfs, desc.options, g));
  writeFileSync(join(db0, 'info'), `${Math.floor(nowMs / 1000)}s\n127.0.0.1\n9221\n0\n0\n`);
  return db0;
}

/**
 * What a reader must emit at `nowMs`: `hex(key) type` → canonical value and expiry. Dead keys
 * (deleted, expired) are absent; of a name held in several types only the first in `typeOrder`.
 */
export function expectedOf(desc: DumpDesc, nowMs: number, typeOrder: readonly DataType[] = DEFAULT_TYPE_ORDER): Map<string, { canon: Canon; expireAtMs: number | null }> {
  const out = new Map<string, { canon: Canon; expireAtMs: number | null }>();
  // A–C and 4.0.0 keep whole seconds; 4.0.1 milliseconds.
  const stored = (ms: number): number => (desc.family === 'D' && desc.msTimes !== false ? ms : Math.floor(ms / 1000) * 1000);
  const live = desc.keys.filter((k) => {
    if (k.deleted) return false;
    if (!k.expireAt) return true;
    // A–C: dead once the second has passed; D: once the millisecond has (test keys keep well clear of now).
    return desc.family === 'A-C' ? Math.floor(k.expireAt / 1000) >= Math.floor(nowMs / 1000) : stored(k.expireAt) >= nowMs;
  });
  const byName = new Map<string, KeyDesc[]>();
  for (const k of live) byName.set(k.name, [...(byName.get(k.name) ?? []), k]);
  for (const [name, ks] of byName) {
    const winner = [...ks].sort((a, b) => typeOrder.indexOf(a.type) - typeOrder.indexOf(b.type))[0];
    const expireAtMs = !winner.expireAt ? null : stored(winner.expireAt);
    out.set(`${bytesOf(name).toString('hex')} ${winner.type}`, { canon: canonExpected(winner.type, winner.value), expireAtMs });
  }
  return out;
}
