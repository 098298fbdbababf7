/**
 * The Redis-protocol reads `pika-migrate verify` sends to a Pika, answered from a PikaKeyspace
 * with Pika's quirks (checked against pika_kv.cc / blackwidow / storage, v3.2.7…v4.0.1):
 * - 3.x: each type's commands see only that type (GET of a name that is also a hash answers the
 *   string); `TYPE` answers the first of string, hash, list, zset, set; `PTTL` the first of
 *   string, hash, list, set, zset, in whole seconds × 1000; `EXISTS` counts every type.
 * - 4.0: one type per name, WRONGTYPE across types, `PTTL`/`TTL` of a missing key answer 0.
 * - `SCANX <type> <start> [MATCH p] [COUNT n]` → [next start or "", keys]; `KEYS p stream`, `XLEN`,
 *   `XRANGE k start + [COUNT n]` for streams (they have no expiry; PTTL and TYPE leave them out); `INFO keyspace` in
 *   Pika's per-type lines (3.2 spells `invaild_keys`, 4.0 adds `Streams_keys`).
 * Anything else, or a malformed argument list, is refused rather than guessed.
 */
import type { Reply } from '../../src/admin/resp.js';
import { SimpleString } from '../../src/admin/resp.js';
import { globToRegExp } from '../../src/core/glob.js';
import type { DataType } from '../../src/core/record.js';
import type { PikaKeyspace } from './pika-keyspace.js';

const WRONGTYPE = new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
const TYPE_ORDER_3X: readonly DataType[] = ['string', 'hash', 'list', 'zset', 'set'];
const PTTL_ORDER_3X: readonly DataType[] = ['string', 'hash', 'list', 'set', 'zset'];
const TYPES: readonly DataType[] = ['string', 'hash', 'list', 'set', 'zset', 'stream'];

export const CLIENT_READS = new Set(['keys', 'xlen', 'xrange', 'scanx', 'type', 'pttl', 'exists', 'get', 'hlen', 'llen', 'scard', 'zcard', 'hscan', 'sscan', 'zscan', 'lrange']);

const wrongArgs = (cmd: string): Error => new Error(`ERR wrong number of arguments for '${cmd}' command`);

function int(b: Buffer | undefined): number | null {
  if (b === undefined || !/^-?\d+$/.test(b.toString())) return null;
  return Number(b.toString());
}

/** Pika's d2string: `%.17g`, `inf` / `-inf`. */
export function pikaScore(x: number): string {
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Number.isInteger(x) && Math.abs(x) < 1e17) return String(x);
  const [mant, exp] = x.toPrecision(17).split('e');
  const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
  return exp === undefined ? m : `${m}e${exp[0]}${exp.slice(1).padStart(2, '0')}`;
}

export function answerRead(ks: PikaKeyspace, cmd: string, argv: Buffer[], now: number): Reply {
  const key = argv[1];
  // 4.0: a name of another type answers WRONGTYPE; 3.x: that type simply does not hold it.
  const of = (type: DataType) => {
    if (!ks.multiType) for (const t of TYPES) if (t !== type && ks.live(t, key) !== null) throw WRONGTYPE;
    return ks.live(type, key);
  };
  switch (cmd) {
    case 'scanx':
      return scanx(ks, argv);
    case 'keys': {
      // `KEYS <pattern> stream` (3.5.3+, 4.0) lists the streams that have entries.
      if (argv.length !== 3 || argv[2].toString().toLowerCase() !== 'stream') return new Error("ERR this test master serves 'keys' only as KEYS <pattern> stream");
      const re = globToRegExp(argv[1].toString('latin1'));
      return ks.keys('stream').filter((k) => re.test(k.toString('latin1')));
    }
    case 'xlen': {
      if (argv.length !== 2) return wrongArgs(cmd);
      const e = of('stream');
      return e === null ? 0 : (e.value as { entries: unknown[] }).entries.length;
    }
    case 'xrange':
      return xrange(argv, of);
    case 'type': {
      if (argv.length !== 2) return wrongArgs(cmd);
      const t = (ks.multiType ? TYPE_ORDER_3X : TYPES).find((x) => ks.live(x, key) !== null);
      return new SimpleString(t ?? 'none');
    }
    case 'pttl': {
      if (argv.length !== 2) return wrongArgs(cmd);
      const e = (ks.multiType ? PTTL_ORDER_3X : TYPES).map((t) => ks.live(t, key)).find((x) => x !== null);
      if (e === undefined) return ks.multiType ? -2 : 0;
      if (e.expireAtMs === null) return -1;
      return ks.multiType ? (e.expireAtMs / 1000 - Math.floor(now / 1000)) * 1000 : e.expireAtMs - now;
    }
    case 'exists': {
      if (argv.length < 2) return wrongArgs(cmd);
      let n = 0;
      // 3.5.x's EXISTS does not look at streams (storage.cc Storage::Exists, v3.5.5).
      for (const k of argv.slice(1)) n += TYPES.filter((t) => (t !== 'stream' || !ks.multiType) && ks.live(t, k) !== null).length;
      return n;
    }
    case 'get': {
      if (argv.length !== 2) return wrongArgs(cmd);
      const e = of('string');
      return e === null ? null : (e.value as { value: Buffer }).value;
    }
    case 'hlen':
    case 'llen':
    case 'scard':
    case 'zcard': {
      if (argv.length !== 2) return wrongArgs(cmd);
      const type = ({ hlen: 'hash', llen: 'list', scard: 'set', zcard: 'zset' } as const)[cmd];
      const e = of(type);
      if (e === null) return 0;
      const v = e.value;
      return v.type === 'hash' ? v.fields.length : v.type === 'list' ? v.elements.length : v.type === 'set' || v.type === 'zset' ? v.members.length : 0;
    }
    case 'lrange': {
      if (argv.length !== 4) return wrongArgs(cmd);
      let [start, stop] = [int(argv[2]), int(argv[3])];
      if (start === null || stop === null) return new Error('ERR value is not an integer or out of range');
      const e = of('list');
      const els = e === null ? [] : (e.value as { elements: Buffer[] }).elements;
      if (start < 0) start = Math.max(0, els.length + start);
      if (stop < 0) stop = els.length + stop;
      return els.slice(start, Math.min(stop, els.length - 1) + 1);
    }
    case 'hscan':
    case 'sscan':
    case 'zscan':
      return scanMembers(cmd, argv, of);
    default:
      return new Error(`ERR this test master does not serve '${cmd}' on its client port`);
  }
}

/** The `[MATCH p] [COUNT n]` pairs from argv[3] on, as the scan commands of Pika take them (COUNT 10, no MATCH by default). */
function scanOptions(argv: Buffer[]): { count: number; match: RegExp | null } | Error {
  let count = 10;
  let match: RegExp | null = null;
  for (let i = 3; i < argv.length; i += 2) {
    const opt = argv[i].toString().toLowerCase();
    if (opt === 'count') {
      const n = int(argv[i + 1]);
      if (n === null || n <= 0) return new Error('ERR value is not an integer or out of range');
      count = n;
    } else if (opt === 'match') match = globToRegExp(argv[i + 1].toString('latin1'));
    else return new Error('ERR syntax error');
  }
  return { count, match };
}

/** HSCAN/SSCAN/ZSCAN key cursor [MATCH p] [COUNT n]: the cursor is how many elements came before. */
function scanMembers(cmd: 'hscan' | 'sscan' | 'zscan', argv: Buffer[], of: (t: DataType) => ReturnType<PikaKeyspace['live']>): Reply {
  if (argv.length < 3 || argv.length % 2 === 0) return wrongArgs(cmd);
  const cursor = int(argv[2]);
  if (cursor === null || cursor < 0) return new Error('ERR invalid cursor');
  const opts = scanOptions(argv);
  if (opts instanceof Error) return opts;
  const { count, match } = opts;
  const type = ({ hscan: 'hash', sscan: 'set', zscan: 'zset' } as const)[cmd];
  const e = of(type);
  const v = e?.value;
  const items: Buffer[][] =
    v === undefined ? [] : v.type === 'hash' ? v.fields.map(([f, x]) => [f, x]) : v.type === 'set' ? v.members.map((m) => [m]) : v.type === 'zset' ? v.members.map(([m, s]) => [m, Buffer.from(pikaScore(s))]) : [];
  const page = items.slice(cursor, cursor + count);
  const next = cursor + count >= items.length ? 0 : cursor + count;
  return [Buffer.from(String(next)), page.filter((it) => match === null || match.test(it[0].toString('latin1'))).flat()];
}

function scanx(ks: PikaKeyspace, argv: Buffer[]): Reply {
  if (argv.length < 3 || argv.length % 2 === 0) return wrongArgs('scanx');
  const type = argv[1].toString().toLowerCase() as DataType;
  // Pika up to 4.0.1 has no stream type in SCANX (streams are listed by `KEYS p stream`).
  if (type === 'stream' || !TYPES.includes(type)) return new Error('ERR invalid DB type');
  const start = argv[2];
  const opts = scanOptions(argv);
  if (opts instanceof Error) return opts;
  const { count, match } = opts;
  // Like blackwidow's Scan: `count` live keys are visited, those matching are returned.
  const { keys, next } = ks.page(type, start, count);
  return [next ?? Buffer.alloc(0), keys.filter((k) => match === null || match.test(k.toString('latin1')))];
}

/** `INFO keyspace` as the version writes it, as if an `info keyspace 1` count had just finished. */
export function keyspaceInfo(ks: PikaKeyspace, version: string): string {
  const [major, minor] = version.split('.').map(Number);
  const invalid = major === 3 && minor === 2 ? 'invaild_keys' : 'invalid_keys';
  const lines = ['# Keyspace'];
  if (major > 3 || minor >= 5) lines.push('# Use "info keyspace 1" to do async statistics');
  lines.push('# Time:2026-12-01 08:00:00', '# Duration: 0s');
  const names: Array<[string, DataType]> = [['Strings', 'string'], ['Hashes', 'hash'], ['Lists', 'list'], ['Zsets', 'zset'], ['Sets', 'set']];
  for (const [name, t] of names) {
    const c = ks.counts(t);
    lines.push(`db0 ${name}_keys=${c.keys}, expires=${c.expires}, ${invalid}=0`);
  }
  if (major >= 4) lines.push('', 'db0 Streams_keys=0, expires=0, invalid_keys=0');
  return lines.join('\r\n') + '\r\n';
}

/** `XRANGE key <start> + [COUNT n]`, start `-` or an inclusive `ms-seq`: what verify sends. */
function xrange(argv: Buffer[], of: (type: DataType) => { value: unknown } | null): Reply {
  if (argv.length !== 4 && argv.length !== 6) return wrongArgs('xrange');
  if (argv[3].toString() !== '+' || (argv.length === 6 && argv[4].toString().toLowerCase() !== 'count')) return new Error('ERR this test master serves XRANGE k start + [COUNT n] only');
  const id = (s: string): [bigint, bigint] => {
    const [ms, seq] = s.split('-');
    return [BigInt(ms), BigInt(seq ?? '0')];
  };
  const start = argv[2].toString();
  const from = start === '-' ? null : id(start);
  const count = argv.length === 6 ? Number(argv[5].toString()) : Infinity;
  const e = of('stream');
  const entries = e === null ? [] : (e.value as { entries: Array<[string, Buffer[]]> }).entries;
  const ge = ([m, s]: [bigint, bigint]) => from === null || m > from[0] || (m === from[0] && s >= from[1]);
  return entries.filter(([i]) => ge(id(i))).slice(0, count).map(([i, fv]) => [Buffer.from(i), fv]);
}
