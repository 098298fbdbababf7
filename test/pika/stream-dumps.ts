/**
 * Stream fixtures: copies of the real 3.5.5 and 4.0.1 dumps (their other types as those servers
 * wrote them) with stream records added through real RocksDB (the C++ fixture writer), in the
 * encodings of storage.md §2.1.3 (3.5.3+ `streams/`: meta and `data_cf`) and §2.3 (4.0: type-5
 * meta in `default`, `stream_data_cf`), written here from the spec, not by the code under test.
 * The real servers cannot make them: their XADD stores corrupt IDs in the data keys.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '../helpers/fixtures.js';
import { writerBinary } from '../rocks/writer.js';
import { x } from './pika-dump-writer.js';

export interface StreamDesc {
  readonly name: Buffer;
  /** Live entries in ID order: [ms, seq, field, value, field, value, …]. */
  readonly entries: ReadonlyArray<readonly [bigint, bigint, ...string[]]>;
  readonly entriesAdded: bigint;
  readonly lastId: readonly [bigint, bigint];
  readonly maxDeletedId: readonly [bigint, bigint];
  /** The meta's length; default the number of entries (0 with entries: a DELeted stream's leftovers). */
  readonly length?: number;
  readonly version: number;
  /** Entries left under `version - 1` (an older incarnation awaiting compaction). */
  readonly stale?: ReadonlyArray<readonly [bigint, bigint, ...string[]]>;
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const u64le = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
};
const idBE = (ms: bigint, seq: bigint): Buffer => {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(ms, 0);
  b.writeBigUInt64BE(seq, 8);
  return b;
};
const idLE = ([ms, seq]: readonly [bigint, bigint]): Buffer => Buffer.concat([u64le(ms), u64le(seq)]);

/** The message: `len:u32 LE ‖ bytes` per field and value. */
function message(items: readonly string[]): Buffer {
  return Buffer.concat(items.flatMap((s) => [u32(Buffer.byteLength(s)), Buffer.from(s)]));
}

/** `entries_added ‖ first ‖ last ‖ max_deleted ‖ length` (first as Pika may leave it: any). */
function metaFields(s: StreamDesc): Buffer {
  const first = s.entries.length > 0 ? ([s.entries[0][0], s.entries[0][1]] as const) : ([0n, 0n] as const);
  return Buffer.concat([u64le(s.entriesAdded), idLE(first), idLE(s.lastId), idLE(s.maxDeletedId), u32(s.length ?? s.entries.length)]);
}

function lines3(s: StreamDesc): string[] {
  const version = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    return b;
  };
  const dataKey = (v: number, ms: bigint, seq: bigint): Buffer => Buffer.concat([u32(s.name.length), s.name, version(v), idBE(ms, seq)]);
  const out = [`put default ${x(s.name)} ${x(Buffer.concat([u32(0), metaFields(s), version(s.version)]))}`];
  for (const [ms, seq, ...fv] of s.stale ?? []) out.push(`put data_cf ${x(dataKey(s.version - 1, ms, seq))} ${x(message(fv))}`);
  for (const [ms, seq, ...fv] of s.entries) out.push(`put data_cf ${x(dataKey(s.version, ms, seq))} ${x(message(fv))}`);
  return out;
}

/** E(key) ‖ delimiter (storage.md §2.3.1); the names used here hold no NUL. */
function enc4(name: Buffer): Buffer {
  if (name.includes(0)) throw new Error('4.0 stream fixtures: no NUL in names (4.0.1 mangles them)');
  return Buffer.concat([Buffer.alloc(8), name, Buffer.alloc(2)]);
}

function lines4(s: StreamDesc): string[] {
  const dataKey = (v: number, ms: bigint, seq: bigint): Buffer => Buffer.concat([enc4(s.name), u64le(BigInt(v)), idBE(ms, seq), Buffer.alloc(16)]);
  const meta = Buffer.concat([Buffer.from([5]), u32(0), metaFields(s), u64le(BigInt(s.version))]);
  const out = [`put default ${x(Buffer.concat([enc4(s.name), Buffer.alloc(16)]))} ${x(meta)}`];
  for (const [ms, seq, ...fv] of s.stale ?? []) out.push(`put stream_data_cf ${x(dataKey(s.version - 1, ms, seq))} ${x(message(fv))}`);
  for (const [ms, seq, ...fv] of s.entries) out.push(`put stream_data_cf ${x(dataKey(s.version, ms, seq))} ${x(message(fv))}`);
  return out;
}

const CFS_4 = ['cf hash_data_cf', 'cf set_data_cf', 'cf list_data_cf pika-lists4', 'cf zset_data_cf', 'cf zset_score_cf pika-zscore4', 'cf stream_data_cf'];

/** Makes every copied file writable (the fixtures are read-only). */
function writable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) writable(p);
    else chmodSync(p, 0o644);
  }
}

/**
 * A copy of `<version>-base/dump` under a new temp dir with `streams` written into its db0 (3.5.5:
 * the `streams/` DB; 4.0.1: instance 0). Returns the dump root (`…/dump`).
 */
export function dumpWithStreams(version: '3.5.5' | '4.0.1', streams: readonly StreamDesc[], into = mkdtempSync(join(tmpdir(), 'pm-streams-'))): string {
  const root = join(into, 'dump');
  cpSync(join(FIXTURES, 'snapshots', `${version}-base`, 'dump'), root, { recursive: true });
  writable(root);
  const dir = version === '3.5.5' ? join(root, 'db0', 'streams') : join(root, 'db0', '0');
  const script = [
    'option format_version 5',
    'option checksum xxh3',
    ...(version === '3.5.5' ? ['cf data_cf'] : CFS_4),
    'open',
    ...streams.flatMap((s) => (version === '3.5.5' ? lines3(s) : lines4(s))),
    'flush',
    'close',
  ];
  const file = join(into, `streams-${version}.txt`);
  writeFileSync(file, script.join('\n') + '\n');
  execFileSync(writerBinary(), [dir, file], { stdio: ['ignore', 'inherit', 'inherit'] });
  return root;
}

/** A stream of `n` entries 1000+i-0 … with two fields each (for chunking). */
export function bigStream(name: string, n: number): StreamDesc {
  const entries = Array.from({ length: n }, (_, i) => [1000n + BigInt(i), 0n, 'i', String(i), 'pad', 'p'.repeat(i % 50)] as const);
  return { name: Buffer.from(name), entries, entriesAdded: BigInt(n), lastId: [1000n + BigInt(n - 1), 0n], maxDeletedId: [0n, 0n], version: 1 };
}

/** The streams every test writes: live, binary, with a stale incarnation, DELeted, XDEL-emptied. */
export const STREAMS: readonly StreamDesc[] = [
  {
    name: Buffer.from('st:a'),
    entries: [
      [1n, 1n, 'f1', 'v1'],
      [1n, 2n, 'a', '', 'b', 'x\u00ffy'],
      [5n, 0n, 'k', 'v'],
    ],
    entriesAdded: 5n,
    lastId: [7n, 0n],
    maxDeletedId: [7n, 0n],
    version: 3,
    stale: [[9n, 9n, 'old', 'gone']],
  },
  { name: Buffer.from('st:big-ids'), entries: [[18446744073709551615n, 18446744073709551614n, 'f', 'v']], entriesAdded: 1n, lastId: [18446744073709551615n, 18446744073709551614n], maxDeletedId: [0n, 0n], version: 1 },
  // DEL: every field zeroed but the version (storage-observed W2); the old entries stay.
  { name: Buffer.from('st:deleted'), entries: [], entriesAdded: 0n, lastId: [0n, 0n], maxDeletedId: [0n, 0n], version: 4, stale: [[2n, 0n, 'f', 'v']] },
  // XDEL of every entry: length 0, counters kept; Pika takes it for no stream.
  { name: Buffer.from('st:emptied'), entries: [], entriesAdded: 2n, lastId: [3n, 0n], maxDeletedId: [3n, 0n], version: 2 },
  bigStream('st:big', 300),
];
