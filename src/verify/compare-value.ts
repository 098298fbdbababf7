import { printableBytes } from '../core/command.js';
import type { DataType } from '../core/record.js';
import { SIZE_COMMAND, type PikaSource } from './pika-source.js';
import type { TargetReader } from './target-reader.js';

/** What the values of one key in one type say: the same, different (with the first difference), or gone from Pika meanwhile. */
export type ValueVerdict = { readonly same: true } | { readonly same: false; readonly detail: string } | { readonly gone: true };

const SAME: ValueVerdict = { same: true };
const GONE: ValueVerdict = { gone: true };
const differ = (detail: string): ValueVerdict => ({ same: false, detail });
const show = (b: Buffer | null): string => (b === null ? '(nil)' : `'${printableBytes(b, 60)}'`);

/**
 * Compares the value `key` holds in Pika as `type` with the one Redis holds (the caller has checked
 * that Redis holds the same type). Memory stays within `chunk` elements per key whatever its size:
 * sizes first, then Pika's elements chunk by chunk (HSCAN/SSCAN/ZSCAN, LRANGE), each looked up on
 * Redis (HMGET, SMISMEMBER/ZMSCORE on 6.2+, else one SISMEMBER/ZSCORE per member); with equal
 * sizes and every Pika element found equal, the two hold the same. Zsets are read with ZSCAN
 * because Pika's ZRANGE skips members scored ±inf (fixtures README).
 */
export async function compareValue(p: PikaSource, t: TargetReader, key: Buffer, type: DataType, chunk: number): Promise<ValueVerdict> {
  if (type === 'string') {
    const [a, b] = (await Promise.all([p.call('GET', key), t.call('GET', key)])) as [Buffer | null, Buffer | null];
    if (a === null) return GONE;
    return b !== null && a.equals(b) ? SAME : differ(`pika ${a.length} bytes ${show(a)}, redis ${b === null ? '(nil)' : `${b.length} bytes ${show(b)}`}`);
  }
  const size = SIZE_COMMAND[type];
  const [pn, rn] = (await Promise.all([p.call(size, key), t.call(size, key)])) as [number, number];
  if (pn === 0) return GONE;
  const unit = { hash: 'fields', list: 'elements', set: 'members', zset: 'members', stream: 'entries' }[type];
  // A zset may hold NaN scores, which the migration leaves out (records.ts): count them first.
  if (pn !== rn && type !== 'zset') return differ(`pika ${pn} ${unit}, redis ${rn}`);
  if (type === 'list') return compareList(p, t, key, pn, chunk);
  if (type === 'stream') return compareStream(p, t, key, chunk);
  const scanned = await compareScanned(p, t, key, type, chunk);
  if (scanned.verdict !== SAME) return scanned.verdict;
  if (scanned.seen === 0) return GONE;
  const copied = scanned.seen - scanned.nan;
  return copied === rn ? SAME : differ(`pika ${copied} ${unit}${scanned.nan > 0 ? ` (and ${scanned.nan} scored NaN, not copied)` : ''}, redis ${rn}`);
}

async function compareList(p: PikaSource, t: TargetReader, key: Buffer, n: number, chunk: number): Promise<ValueVerdict> {
  for (let start = 0; start < n; start += chunk) {
    const end = String(Math.min(n, start + chunk) - 1);
    const [a, b] = (await Promise.all([p.call('LRANGE', key, String(start), end), t.call('LRANGE', key, String(start), end)])) as [Buffer[], Buffer[]];
    if (a.length === 0 && start === 0) return GONE;
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const x = a[i] ?? null;
      const y = b[i] ?? null;
      if (x === null || y === null || !x.equals(y)) return differ(`element ${start + i}: pika ${show(x)}, redis ${show(y)}`);
    }
  }
  return SAME;
}

/**
 * Entries in ID order, `chunk` at a time from both sides (XRANGE from the ID after the last one
 * read: `(id` needs Redis 6.2, the next ID works everywhere); IDs and field/value lists must be equal.
 */
async function compareStream(p: PikaSource, t: TargetReader, key: Buffer, chunk: number): Promise<ValueVerdict> {
  let start = '-';
  for (let i = 0; ; ) {
    const range = ['XRANGE', key, start, '+', 'COUNT', String(chunk)] as const;
    const [a, b] = (await Promise.all([p.call(...range), t.call(...range)])) as [StreamReply, StreamReply];
    if (a.length === 0 && i === 0) return GONE;
    for (let j = 0; j < Math.max(a.length, b.length); j++, i++) {
      const x = a[j] ?? null;
      const y = b[j] ?? null;
      if (x === null || y === null) return differ(`entry ${i}: pika ${x === null ? '(none)' : x[0].toString()}, redis ${y === null ? '(none)' : y[0].toString()}`);
      if (!x[0].equals(y[0])) return differ(`entry ${i}: pika id ${x[0].toString()}, redis id ${y[0].toString()}`);
      const fx = x[1];
      const fy = y[1];
      const k = fx.findIndex((f, n) => fy[n] === undefined || !f.equals(fy[n]));
      if (k >= 0 || fx.length !== fy.length) {
        const n = k >= 0 ? k : fx.length;
        return differ(`entry ${x[0].toString()} item ${n}: pika ${show(fx[n] ?? null)}, redis ${show(fy[n] ?? null)}`);
      }
    }
    if (a.length < chunk) return SAME;
    start = nextStreamId(a[a.length - 1][0].toString());
  }
}

type StreamReply = Array<[Buffer, Buffer[]]>;

/** The smallest stream ID after `id` (`ms-seq`, u64 each). */
export function nextStreamId(id: string): string {
  const [ms, seq] = id.split('-').map(BigInt);
  return seq === 0xffff_ffff_ffff_ffffn ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`;
}

const SCAN_COMMAND = { hash: 'HSCAN', set: 'SSCAN', zset: 'ZSCAN' } as const;

/** Pika's elements looked up on Redis, chunk by chunk; `seen` counts elements, `nan` zset members scored NaN (skipped). */
async function compareScanned(p: PikaSource, t: TargetReader, key: Buffer, type: 'hash' | 'set' | 'zset', chunk: number): Promise<{ verdict: ValueVerdict; seen: number; nan: number }> {
  let cursor = '0';
  let seen = 0;
  let nan = 0;
  do {
    const [next, flat] = (await p.call(SCAN_COMMAND[type], key, cursor, 'COUNT', String(chunk))) as [Buffer, Buffer[]];
    cursor = next.toString();
    let verdict: ValueVerdict;
    if (type === 'hash') {
      seen += flat.length / 2;
      verdict = await checkFields(t, key, flat);
    } else if (type === 'set') {
      seen += flat.length;
      verdict = await checkMembers(t, key, flat);
    } else {
      seen += flat.length / 2;
      const kept: Buffer[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        if (Number.isNaN(parseScore(flat[i + 1].toString()))) nan++;
        else kept.push(flat[i], flat[i + 1]);
      }
      verdict = await checkScores(t, key, kept);
    }
    if (verdict !== SAME) return { verdict, seen, nan };
  } while (cursor !== '0');
  return { verdict: SAME, seen, nan };
}

async function checkFields(t: TargetReader, key: Buffer, flat: Buffer[]): Promise<ValueVerdict> {
  if (flat.length === 0) return SAME;
  const fields = flat.filter((_, i) => i % 2 === 0);
  const got = (await t.call('HMGET', key, ...fields)) as Array<Buffer | null>;
  for (let i = 0; i < fields.length; i++) {
    const want = flat[2 * i + 1];
    if (got[i] === null || !got[i]!.equals(want)) return differ(`field ${show(fields[i])}: pika ${show(want)}, redis ${show(got[i])}`);
  }
  return SAME;
}

async function checkMembers(t: TargetReader, key: Buffer, members: Buffer[]): Promise<ValueVerdict> {
  if (members.length === 0) return SAME;
  const found = t.multiLookups
    ? ((await t.call('SMISMEMBER', key, ...members)) as number[])
    : ((await Promise.all(members.map((m) => t.call('SISMEMBER', key, m)))) as number[]);
  const i = found.findIndex((x) => x !== 1);
  return i < 0 ? SAME : differ(`member ${show(members[i])} not in redis`);
}

async function checkScores(t: TargetReader, key: Buffer, flat: Buffer[]): Promise<ValueVerdict> {
  if (flat.length === 0) return SAME;
  const members = flat.filter((_, i) => i % 2 === 0);
  const scores = (
    t.multiLookups ? await t.call('ZMSCORE', key, ...members) : await Promise.all(members.map((m) => t.call('ZSCORE', key, m)))
  ) as Array<Buffer | null>;
  for (let i = 0; i < members.length; i++) {
    const want = parseScore(flat[2 * i + 1].toString());
    const got = scores[i] === null ? null : parseScore(scores[i]!.toString());
    if (got !== want) {
      return differ(`member ${show(members[i])}: pika score ${flat[2 * i + 1].toString()}, redis ${got === null ? '(not a member)' : scores[i]!.toString()}`);
    }
  }
  return SAME;
}

/** Scores as both servers write them: `%.17g`-style text, `inf`/`-inf` (Pika's d2string, Redis). */
export function parseScore(s: string): number {
  const l = s.toLowerCase();
  if (l === 'inf' || l === '+inf' || l === 'infinity') return Infinity;
  if (l === '-inf' || l === '-infinity') return -Infinity;
  if (l === 'nan') return NaN;
  return Number(s);
}
