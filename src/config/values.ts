/**
 * Value parsers for conf keys. Each returns the parsed value or throws a plain Error whose message
 * is the reason; the loader prefixes it with `file:line key:`.
 */
export type ValueParser<T> = (raw: string) => T;

export function int(min: number, max: number): ValueParser<number> {
  return (raw) => {
    if (!/^-?\d+$/.test(raw)) throw new Error(`expected an integer, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max) throw new Error(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

export const port: ValueParser<number> = int(1, 65535);

/** Pika's conventions: `yes`/`no` (also accepts true/false, 1/0). */
export const bool: ValueParser<boolean> = (raw) => {
  const v = raw.toLowerCase();
  if (v === 'yes' || v === 'true' || v === '1') return true;
  if (v === 'no' || v === 'false' || v === '0') return false;
  throw new Error(`expected yes or no, got "${raw}"`);
};

export const str: ValueParser<string> = (raw) => raw;

export function nonEmpty(what: string): ValueParser<string> {
  return (raw) => {
    if (raw === '') throw new Error(`${what} must not be empty`);
    return raw;
  };
}

export function oneOf<T extends string>(...choices: T[]): ValueParser<T> {
  return (raw) => {
    const v = raw.toLowerCase() as T;
    if (!choices.includes(v)) throw new Error(`expected one of ${choices.join(', ')}, got "${raw}"`);
    return v;
  };
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `ip:port` (an IPv6 address in brackets: `[::1]:9221`). Empty means unset. */
export const hostPort: ValueParser<HostPort | null> = (raw) => {
  if (raw === '') return null;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(raw) ?? /^([^:\s]+):(\d+)$/.exec(raw);
  if (!m) throw new Error(`expected ip:port, got "${raw}"`);
  return { host: m[1], port: port(m[2]) };
};

/**
 * `target-redis-cluster`: `no` (a single Redis), `yes` (a cluster; target-redis-host:port is the
 * seed), or the seeds themselves, `ip:port` separated by commas or blanks.
 */
export const clusterSeeds: ValueParser<HostPort[] | null> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (v === '' || v === 'no' || v === 'false' || v === '0') return null;
  if (v === 'yes' || v === 'true' || v === '1') return [];
  return raw
    .split(/[\s,]+/)
    .filter((w) => w !== '')
    .map((w) => {
      const m = /^\[([^\]]+)\]:(\d+)$/.exec(w) ?? /^([^:\s]+):(\d+)$/.exec(w);
      if (m === null) throw new Error(`expected yes, no or seed nodes ip:port[,ip:port…], got "${raw}"`);
      return { host: m[1], port: port(m[2]) };
    });
};

/** `host:port,host:port` (commas and/or spaces); empty means none. */
export const hostPortList: ValueParser<HostPort[]> = (raw) =>
  raw
    .split(/[\s,]+/)
    .filter((x) => x !== '')
    .map((x) => hostPort(x) as HostPort);

/** Sizes as Pika writes them: plain bytes or with a K/M/G suffix (powers of 1024). */
export const bytes: ValueParser<number> = (raw) => {
  const m = /^(\d+)\s*([kKmMgG]?)[bB]?$/.exec(raw);
  if (!m) throw new Error(`expected a size like 1048576, 512K, 64M or 2G, got "${raw}"`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
};

/** A list naming each of `items` exactly once, separated by commas and/or spaces. */
export function permutationOf<T extends string>(...items: T[]): ValueParser<T[]> {
  return (raw) => {
    const got = raw.toLowerCase().split(/[\s,]+/).filter((x) => x !== '');
    const bad = got.filter((x) => !items.includes(x as T));
    if (bad.length > 0) throw new Error(`unknown ${bad.length === 1 ? 'entry' : 'entries'} ${bad.join(', ')}; expected each of ${items.join(', ')} once`);
    const missing = items.filter((x) => !got.includes(x));
    if (missing.length > 0 || got.length !== items.length) {
      throw new Error(`expected each of ${items.join(', ')} exactly once, got "${raw}"${missing.length > 0 ? ` (missing ${missing.join(', ')})` : ''}`);
    }
    return got as T[];
  };
}

/** `src:dst` pairs of DB numbers, whitespace-separated (db-map); each source at most once. */
export const dbPairs: ValueParser<Array<[number, number]>> = (raw) => {
  const out: Array<[number, number]> = [];
  for (const w of raw.split(/\s+/).filter((x) => x !== '')) {
    const m = /^(\d{1,5}):(\d{1,5})$/.exec(w);
    if (!m) throw new Error(`"${w}" is not source:target (DB numbers, e.g. 1:3)`);
    const pair: [number, number] = [Number(m[1]), Number(m[2])];
    if (out.some(([s]) => s === pair[0])) throw new Error(`db${pair[0]} is mapped twice`);
    out.push(pair);
  }
  return out;
};

/** Whitespace-separated words (globs, names); empty means none. */
export const words: ValueParser<string[]> = (raw) => raw.split(/\s+/).filter((w) => w !== '');

/** Some of `items`, each at most once, separated by commas and/or spaces. */
export function subsetOf<T extends string>(...items: T[]): ValueParser<T[]> {
  return (raw) => {
    const got = raw.toLowerCase().split(/[\s,]+/).filter((x) => x !== '');
    const bad = got.filter((x) => !items.includes(x as T));
    if (bad.length > 0) throw new Error(`unknown ${bad.length === 1 ? 'entry' : 'entries'} ${bad.join(', ')}; expected some of ${items.join(', ')}`);
    if (new Set(got).size !== got.length) throw new Error(`an entry is listed twice in "${raw}"`);
    if (got.length === 0) throw new Error(`expected at least one of ${items.join(', ')}`);
    return got as T[];
  };
}
