import type { Redis } from 'ioredis';
import type { PikaFamily } from '../../src/convert/types.js';

/**
 * A stand-in for a Pika master in conversion tests: runs each client command on a reference Redis
 * (holding what the master would hold) and returns the argv list(s) that Pika of `version` writes
 * to its binlog for it — the rewrite table of replication.md §5.3 plus observed.md (W5: per-key
 * `del` keeps the client's spelling). Pika-only commands are carried out on the reference by
 * plain client-side code, independent of the converter's scripts.
 */
export class PikaLogger {
  constructor(
    private readonly ref: Redis,
    readonly family: PikaFamily,
    readonly version: string,
  ) {}

  private ge(v: string): boolean {
    const p = (s: string) => s.split('.').map(Number);
    const [a, b] = [p(this.version), p(v)];
    for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i];
    return true;
  }

  private get cd(): boolean {
    return this.family === 'C' || this.family === 'D';
  }

  private call(argv: ReadonlyArray<string | Buffer>): Promise<unknown> {
    return this.ref.call(String(argv[0]), ...argv.slice(1));
  }

  async run(argv: string[]): Promise<Array<Array<string | Buffer>>> {
    const name = argv[0].toLowerCase();
    const now = () => Math.floor(Date.now() / 1000);
    const [k] = argv.slice(1);
    const is401 = this.family === 'D' && this.ge('4.0.1');
    const upTo35 = this.family !== 'D';
    const INT32 = 2147483647;
    switch (name) {
      case 'set': {
        const opts = argv.slice(3).map((o) => o.toLowerCase());
        const vx = opts.indexOf('vx');
        if (vx >= 0) {
          const target = argv[3 + vx + 1];
          const ttl = argv.slice(3).filter((_, i) => i !== vx && i !== vx + 1);
          if ((await this.ref.type(k)) === 'string' && (await this.ref.get(k)) === target) await this.call(['SET', k, argv[2], ...ttl]);
          return [argv];
        }
        await this.call(argv);
        const ex = opts.indexOf('ex');
        const px = opts.indexOf('px');
        if ((ex >= 0 || px >= 0) && !opts.includes('nx') && !opts.includes('xx')) {
          const s = ex >= 0 ? Number(argv[3 + ex + 1]) : Math.floor(Number(argv[3 + px + 1]) / 1000);
          return [['pksetexat', k, String(now() + s), argv[2]]];
        }
        return [argv];
      }
      case 'setex':
        await this.call(argv);
        return [['pksetexat', k, String(now() + Number(argv[2])), argv[3]]];
      case 'psetex':
        await this.call(argv);
        return [['pksetexat', k, String(is401 ? Date.now() + Number(argv[2]) : now() + Math.floor(Number(argv[2]) / 1000)), argv[3]]];
      case 'setnx': {
        const r = await this.call(argv);
        if (this.family === 'A' || (this.family === 'B' && !this.ge('3.3.6'))) return r === 1 ? [['set', k, argv[2]]] : [];
        return [['setnx', k, argv[2]]];
      }
      case 'expire':
        await this.call(argv);
        return [['expireat', k, String(now() + Number(argv[2]))]];
      case 'pexpire':
        await this.call(argv);
        return is401 ? [['pexpireat', k, String(Date.now() + Number(argv[2]))]] : [['expireat', k, String(now() + Math.floor(Number(argv[2]) / 1000))]];
      case 'pexpireat': {
        const s = Math.floor(Number(argv[2]) / 1000);
        if (upTo35 && s > INT32) await this.ref.del(k);
        else await this.call(argv);
        return is401 ? [argv] : [['expireat', k, String(s)]];
      }
      case 'expireat':
        // Pika ≤ 3.5 keeps expiry in 32-bit seconds: past 2038 the key is gone at once, yet logged.
        if (upTo35 && Number(argv[2]) > INT32) await this.ref.del(k);
        else await this.call(argv);
        return [argv];
      case 'incr':
      case 'incrby':
      case 'incrbyfloat':
      case 'append': {
        await this.call(argv);
        if (this.family === 'C' && this.ge('3.5.5')) return [['pksetexat', k, '0', (await this.ref.getBuffer(k))!]];
        if (is401) {
          const at = Number(await this.ref.call('PEXPIRETIME', k));
          return [['pksetexat', k, String(at > 0 ? Math.floor(at / 1000) : 0), (await this.ref.getBuffer(k))!]];
        }
        return [argv];
      }
      case 'del':
      case 'unlink':
        await this.call(argv);
        return this.cd ? argv.slice(1).map((key) => [argv[0], key]) : [argv];
      case 'mset': {
        await this.call(argv);
        return this.cd ? pairs(argv.slice(1)).map(([a, b]) => ['set', a, b]) : [argv];
      }
      case 'msetnx': {
        const r = await this.call(argv);
        if (!this.cd) return [argv];
        return r === 1 ? pairs(argv.slice(1)).map(([a, b]) => ['set', a, b]) : [];
      }
      case 'rpoplpush': {
        const v = (await this.ref.callBuffer('RPOPLPUSH', argv[1], argv[2])) as Buffer | null;
        if (!this.cd) return [argv];
        return v === null ? [] : [['RPOP', argv[1]], ['LPUSH', argv[2], v]];
      }
      case 'blpop':
      case 'brpop': {
        const r = (await this.call(argv)) as [string, string] | null;
        return r === null ? [] : [[name === 'blpop' ? 'lpop' : 'rpop', r[0]]];
      }
      case 'spop': {
        const r = (await this.ref.callBuffer('SPOP', k)) as Buffer | null;
        if (this.family === 'D' || (this.family === 'C' && this.ge('3.5.4'))) return r === null ? [] : [['srem', k, r]];
        return [argv];
      }
      case 'smove': {
        const r = await this.call(argv);
        if (!this.cd) return [argv];
        return r === 1 ? [['srem', argv[1], argv[3]], ['sadd', argv[2], argv[3]]] : [];
      }
      case 'sunionstore':
      case 'sinterstore':
      case 'sdiffstore': {
        await this.call(argv);
        if (!this.cd) return [argv];
        const members = await this.ref.smembersBuffer(k);
        return members.length === 0 ? [['del', k]] : [['del', k], ['sadd', k, ...members]];
      }
      case 'zunionstore':
      case 'zinterstore': {
        await this.call(argv);
        if (!this.cd) return [argv];
        const flat = (await this.ref.callBuffer('ZRANGE', k, '0', '-1', 'WITHSCORES')) as Buffer[];
        const out: Array<string | Buffer> = ['zadd', k];
        for (let i = 0; i < flat.length; i += 2) out.push(g17(parseScore(flat[i + 1].toString())), flat[i]);
        return flat.length === 0 ? [['del', k]] : [['del', k], out];
      }
      case 'bitop':
      case 'pfmerge': {
        await this.call(argv);
        const dest = name === 'bitop' ? argv[2] : argv[1];
        return this.cd ? [['set', dest, (await this.ref.getBuffer(dest))!]] : [argv];
      }
      case 'flushdb': {
        if (argv.length === 1) {
          await this.call(argv);
          return [argv];
        }
        await this.deleteMatching('*', argv[1].toLowerCase(), 0);
        return [argv];
      }
      case 'pkpatternmatchdel': {
        const type = this.family === 'D' ? '' : argv[2].toLowerCase();
        const limit = this.family === 'C' && this.ge('3.5.5') ? Number(argv[3] ?? 100) : 0;
        const deleted = await this.deleteMatching(argv[1], type, limit);
        return is401 ? deleted.map((key) => ['del', key]) : [argv];
      }
      case 'delvx':
        if ((await this.ref.type(k)) === 'string' && (await this.ref.get(k)) === argv[2]) await this.ref.del(k);
        return [argv];
      case 'xadd':
      case 'xtrim':
      case 'xdel': {
        // Pika trims exactly whatever `~` says, and forgets a stream left with no entry.
        const exact = argv.map((a) => (a === '~' ? '=' : a));
        const id = (await this.call(exact)) as string;
        if ((await this.ref.xlen(k)) === 0) await this.ref.del(k);
        if (name !== 'xadd') return [argv];
        const at = argv.findIndex((a, i) => i >= 2 && a === '*');
        return [argv.map((a, i) => (i === at ? id : a))];
      }
      default:
        await this.call(argv);
        return [argv];
    }
  }

  /** Pika's pattern delete, done by hand on the reference: matching keys of a type, the first `limit` in key order. */
  private async deleteMatching(pattern: string, type: string, limit: number): Promise<string[]> {
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = type === '' ? await this.ref.scan(cursor, 'MATCH', pattern, 'COUNT', 100) : await this.ref.scan(cursor, 'MATCH', pattern, 'COUNT', 100, 'TYPE', type);
      cursor = next;
      for (const key of keys) found.add(key);
    } while (cursor !== '0');
    let keys = [...found].sort();
    if (limit > 0) keys = keys.slice(0, limit);
    for (const key of keys) await this.ref.del(key);
    return keys;
  }
}

function pairs<T>(a: T[]): Array<[T, T]> {
  const out: Array<[T, T]> = [];
  for (let i = 0; i + 1 < a.length; i += 2) out.push([a[i], a[i + 1]]);
  return out;
}

function parseScore(s: string): number {
  return s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s);
}

/** C's `%.17g`, as Pika formats the scores of a rewritten ZUNIONSTORE. */
export function g17(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const trim = (m: string) => (m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m);
  const s = x.toPrecision(17);
  if (!s.includes('e')) return trim(s);
  const [m, e] = s.split('e');
  const exp = Number(e);
  return `${trim(m)}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}
