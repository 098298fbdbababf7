/**
 * The data a test master serves on its client port: what a Pika holds, type by type. On 3.x
 * (families A–C) one name may live in several types at once, each with its own expiry, and each
 * type's commands see only that type; 4.0 (D) holds one type per name. Expiries are kept the way
 * the version keeps them: whole seconds on 3.x, milliseconds on 4.0.
 */
import type { DataType } from '../../src/core/record.js';
import type { MasterFamily } from './fake-master.js';
import { bytesOf, type ExpectedFile } from '../pika/expected.js';

export type PikaValue =
  | { type: 'string'; value: Buffer }
  | { type: 'hash'; fields: Array<[Buffer, Buffer]> }
  | { type: 'list'; elements: Buffer[] }
  | { type: 'set'; members: Buffer[] }
  | { type: 'zset'; members: Array<[Buffer, number]> }
  /** Entries in ID order: [`ms-seq`, field, value, …]. */
  | { type: 'stream'; entries: Array<[string, Buffer[]]> };

export interface PikaEntry {
  readonly key: Buffer;
  readonly value: PikaValue;
  /** Absolute ms (3.x: a whole second), or null when persistent. */
  readonly expireAtMs: number | null;
}

export const PIKA_TYPES: readonly DataType[] = ['string', 'hash', 'list', 'set', 'zset'];
/** Every type held, streams (3.5.3+, 4.0) included. */
const HELD_TYPES: readonly DataType[] = [...PIKA_TYPES, 'stream'];

const byBytes = (a: Buffer, b: Buffer): number => Buffer.compare(a, b);

export class PikaKeyspace {
  private readonly types = new Map<DataType, Map<string, PikaEntry>>(HELD_TYPES.map((t) => [t, new Map()]));
  /** Each type's names in meta order, rebuilt after a change (SCANX pages through them). */
  private readonly sortedCache = new Map<DataType, Buffer[]>();

  constructor(
    readonly family: MasterFamily,
    private readonly now: () => number = Date.now,
  ) {}

  get multiType(): boolean {
    return this.family !== 'D';
  }

  /** Stores (replaces) `key` in its value's type. 4.0 refuses a second type for a name, as Pika 4.0 does. */
  set(key: Buffer | string, value: PikaValue, expireAtMs: number | null = null): void {
    const k = typeof key === 'string' ? Buffer.from(key) : key;
    if (!this.multiType) {
      for (const t of HELD_TYPES) if (t !== value.type && this.live(t, k) !== null) throw new Error(`4.0 holds one type per name: ${k.toString()} is a ${t}`);
    }
    const at = expireAtMs === null ? null : this.multiType ? Math.floor(expireAtMs / 1000) * 1000 : expireAtMs;
    this.types.get(value.type)!.set(k.toString('latin1'), { key: k, value: sorted(value), expireAtMs: at });
    this.sortedCache.delete(value.type);
  }

  delete(key: Buffer | string, type: DataType): void {
    this.types.get(type)!.delete((typeof key === 'string' ? Buffer.from(key) : key).toString('latin1'));
    this.sortedCache.delete(type);
  }

  /** The entry of `key` in `type` unless it has expired (Pika hides expired keys at once). */
  live(type: DataType, key: Buffer): PikaEntry | null {
    const e = this.types.get(type)!.get(key.toString('latin1'));
    if (e === undefined || (e.expireAtMs !== null && e.expireAtMs <= this.now())) return null;
    return e;
  }

  /** Live keys of `type` in Pika's meta order (raw bytes). */
  keys(type: DataType): Buffer[] {
    return this.sorted(type).filter((k) => this.live(type, k) !== null);
  }

  /** Up to `count` live keys of `type` from `start` on (inclusive), and the key after them (null at the end). */
  page(type: DataType, start: Buffer, count: number): { keys: Buffer[]; next: Buffer | null } {
    const all = this.sorted(type);
    let lo = 0;
    let hi = all.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (Buffer.compare(all[mid], start) < 0) lo = mid + 1;
      else hi = mid;
    }
    const keys: Buffer[] = [];
    let i = lo;
    for (; i < all.length && keys.length < count; i++) if (this.live(type, all[i]) !== null) keys.push(all[i]);
    while (i < all.length && this.live(type, all[i]) === null) i++;
    return { keys, next: i < all.length ? all[i] : null };
  }

  private sorted(type: DataType): Buffer[] {
    let s = this.sortedCache.get(type);
    if (s === undefined) {
      s = [...this.types.get(type)!.values()].map((e) => e.key).sort(byBytes);
      this.sortedCache.set(type, s);
    }
    return s;
  }

  /** Live keys per type and how many of them expire: what a finished `info keyspace 1` counted. */
  counts(type: DataType): { keys: number; expires: number } {
    const keys = this.keys(type);
    return { keys: keys.length, expires: keys.filter((k) => this.live(type, k)!.expireAtMs !== null).length };
  }

  /** A master's expected.json (every type of every name, the one expiry of the name). */
  static fromExpected(exp: ExpectedFile, family: MasterFamily): PikaKeyspace {
    const ks = new PikaKeyspace(family);
    for (const [name, k] of Object.entries(exp.keys)) {
      for (const [type, { v }] of Object.entries(k.types) as Array<[DataType, { v: unknown }]>) ks.set(bytesOf(name), valueOf(type, v), k.expireAt);
    }
    return ks;
  }
}

function valueOf(type: DataType, v: unknown): PikaValue {
  switch (type) {
    case 'string':
      return { type, value: bytesOf(v as string) };
    case 'hash':
      return { type, fields: Object.entries(v as Record<string, string>).map(([f, x]) => [bytesOf(f), bytesOf(x)]) };
    case 'list':
      return { type, elements: (v as string[]).map(bytesOf) };
    case 'set':
      return { type, members: (v as string[]).map(bytesOf) };
    case 'zset':
      return { type, members: (v as Array<[string, string]>).map(([m, s]) => [bytesOf(m), s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s)]) };
    case 'stream':
      throw new Error('the test master holds no streams');
  }
}

/** Hashes, sets and zsets in the order Pika's data keys keep them (by field or member bytes), for HSCAN/SSCAN/ZSCAN. */
function sorted(v: PikaValue): PikaValue {
  if (v.type === 'hash') return { type: 'hash', fields: [...v.fields].sort((a, b) => byBytes(a[0], b[0])) };
  if (v.type === 'set') return { type: 'set', members: [...v.members].sort(byBytes) };
  if (v.type === 'zset') return { type: 'zset', members: [...v.members].sort((a, b) => byBytes(a[0], b[0])) };
  return v;
}
