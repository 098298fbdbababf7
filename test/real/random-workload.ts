/**
 * A seeded random write workload for real Pika masters: every write command pika-migrate converts,
 * over a small keyspace so that commands keep hitting the same keys (pops of empty lists, SMOVE
 * into existing sets, SETEX over a hash in colliding mode …). The same seed gives the same command sequence.
 */
import type { Redis } from 'ioredis';
import type { RealPikaVersion } from '../helpers/real-pika.js';

export type KeyspaceMode = 'per-type' | 'colliding';
type Kind = 'string' | 'hash' | 'list' | 'set' | 'zset';

export interface WorkloadOptions {
  readonly version: RealPikaVersion;
  readonly mode: KeyspaceMode;
  /** Names per type (per-type) or in all (colliding). */
  readonly names: number;
  /** ±inf zset scores: off where the master's Z*STORE arithmetic on them is not Redis's (3.2.7). */
  readonly infScores?: boolean;
}

/** What the workload sent, for the failure message: commands per name and the master's error replies. */
export interface WorkloadStats {
  readonly sent: Record<string, number>;
  readonly errors: Record<string, number>;
}

export function newStats(): WorkloadStats {
  return { sent: {}, errors: {} };
}

/**
 * Masters whose colliding-names run is expected to be exact: all of them. 4.0 holds one type per
 * name, so a colliding name is only ever one type (WRONGTYPE from the master otherwise); 3.x holds
 * a name in several types at once, which the multi-type rule (side names) keeps exact.
 */
export function collidingNamesExactOn(): readonly RealPikaVersion[] {
  return ['3.2.7', '3.5.5', '4.0.1'];
}

/**
 * Before 3.5.4 the binlog holds `SPOP k` without the member popped (reported as
 * binlog_notes_spop-nondeterministic): a replay pops another one, so no run with SPOP is exact.
 */
function spopLogged(version: RealPikaVersion): boolean {
  return version !== '3.2.7';
}

/**
 * 3.5.5 and 4.0.1 log APPEND to a missing key as `pksetexat k 0 ''`, without the value (reported as
 * binlog_notes_append-value-lost): their runs send SET instead.
 */
function appendLogged(version: RealPikaVersion): boolean {
  return version === '3.2.7';
}

/**
 * With colliding names, a set STORE into a name that holds other types is logged as `del d` plus
 * `sadd d …` by 3.5.5 (`del` drops every type of d, on Pika's own replicas too, while the master
 * replaced only the set), and as `del d` alone by 4.0.1 when it failed with WRONGTYPE (its d
 * unchanged): their colliding runs send SADD/SREM instead. 3.2.7 logs the STORE itself.
 */
function setStoreSafe(o: WorkloadOptions): boolean {
  return o.mode === 'per-type' || o.version === '3.2.7';
}

/**
 * With colliding names, 4.0.1's SMOVE onto a destination of another type answers WRONGTYPE but
 * removes the member from the source, and logs nothing (seen with seed 447682128): its colliding runs
 * send SREM instead. 3.x keeps types apart, and per-type names never collide.
 */
function smoveSafe(o: WorkloadOptions): boolean {
  return o.mode === 'per-type' || o.version !== '4.0.1';
}

/** 3.5.5 and 4.0.1 (RocksDB 7.8 builds) abort on ZUNIONSTORE/ZINTERSTORE of overlapping zsets. */
function zstoreSafe(version: RealPikaVersion): boolean {
  return version === '3.2.7';
}

const KINDS: readonly Kind[] = ['string', 'hash', 'list', 'set', 'zset'];
const PREFIX: Readonly<Record<Kind, string>> = { string: 's', hash: 'h', list: 'l', set: 'S', zset: 'z' };

/** One command of the workload: name and arguments, all strings. */
export type Cmd = readonly [string, ...string[]];

/**
 * The generator: `next()` returns the next command. Values stay short and printable; members and
 * fields come from small pools so that removes and pops find something.
 */
export class RandomWorkload {
  constructor(
    private readonly rand: () => number,
    private readonly o: WorkloadOptions,
  ) {}

  private int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  /** A name for a command on `kind`. */
  key(kind: Kind): string {
    const i = this.int(this.o.names);
    return this.o.mode === 'per-type' ? `${PREFIX[kind]}:${i}` : `k:${i}`;
  }

  private member(): string {
    return `m${this.int(12)}`;
  }

  private value(): string {
    return `v${this.int(1000)}`;
  }

  private score(): string {
    const r = this.rand();
    if (this.o.infScores === true && r < 0.05) return r < 0.025 ? '+inf' : '-inf';
    return r < 0.5 ? String(this.int(21) - 10) : (this.rand() * 200 - 100).toFixed(3);
  }

  /** A TTL long enough that nothing expires while a test runs. */
  private ttl(): string {
    return String(600 + this.int(3000));
  }

  next(): Cmd {
    const kind = this.pick(KINDS);
    const r = this.rand();
    if (r < 0.06) return ['DEL', this.key(kind), ...(this.rand() < 0.3 ? [this.key(this.pick(KINDS))] : [])];
    if (r < 0.1) return ['EXPIRE', this.key(kind), this.ttl()];
    if (r < 0.12) return ['PERSIST', this.key(kind)];
    switch (kind) {
      case 'string':
        return this.string();
      case 'hash':
        return this.hash();
      case 'list':
        return this.list();
      case 'set':
        return this.set();
      case 'zset':
        return this.zset();
    }
  }

  private string(): Cmd {
    const k = this.key('string');
    switch (this.int(7)) {
      case 0:
        return ['SET', k, this.value()];
      case 1:
        return ['SETEX', k, this.ttl(), this.value()];
      case 2:
        return ['INCR', k];
      case 3:
        return ['INCRBY', k, String(this.int(100) - 50)];
      case 4:
        return appendLogged(this.o.version) ? ['APPEND', k, this.value()] : ['SET', k, this.value()];
      case 5:
        return ['MSET', k, this.value(), this.key('string'), this.value()];
      default:
        return ['SET', k, String(this.int(100))];
    }
  }

  private hash(): Cmd {
    const k = this.key('hash');
    const f = `f${this.int(8)}`;
    switch (this.int(4)) {
      case 0:
        // Pika's HSET takes one field; HMSET is its several-fields form.
        return ['HMSET', k, f, this.value(), `f${this.int(8)}`, this.value()];
      case 1:
        return ['HDEL', k, f];
      case 2:
        return ['HINCRBY', k, `n${this.int(3)}`, String(this.int(20) - 10)];
      default:
        return ['HSET', k, f, this.value()];
    }
  }

  private list(): Cmd {
    const k = this.key('list');
    switch (this.int(11)) {
      case 0:
        return ['LPUSH', k, this.value(), this.value()];
      case 1:
      case 2:
        return ['RPUSH', k, this.value(), this.value()];
      case 3:
        return ['LPOP', k];
      case 4:
        return ['RPOP', k];
      case 5:
        return ['LSET', k, String(this.int(6) - 3), this.value()];
      case 6:
        return ['LTRIM', k, String(this.int(3)), String(this.int(12) - 2)];
      case 7:
        return ['LREM', k, String(this.int(5) - 2), `v${this.int(1000)}`];
      case 8:
        return ['LINSERT', k, this.rand() < 0.5 ? 'BEFORE' : 'AFTER', this.value(), this.value()];
      default:
        return ['RPOPLPUSH', k, this.key('list')];
    }
  }

  private set(): Cmd {
    const k = this.key('set');
    switch (this.int(8)) {
      case 0:
      case 1:
        return ['SADD', k, this.member(), this.member(), this.member()];
      case 2:
        return ['SREM', k, this.member()];
      case 3:
        return spopLogged(this.o.version) ? ['SPOP', k] : ['SREM', k, this.member()];
      case 4: {
        // 3.5.5 was seen to drop the member of `SMOVE k k m` while logging `srem k m` + `sadd k m`.
        const to = this.key('set');
        if (!smoveSafe(this.o)) return ['SREM', k, this.member()];
        return this.o.version === '3.5.5' && to === k ? ['SREM', k, 'none'] : ['SMOVE', k, to, this.member()];
      }
      case 5:
        return setStoreSafe(this.o) ? ['SINTERSTORE', k, this.key('set'), this.key('set')] : ['SADD', k, this.member()];
      case 6:
        return setStoreSafe(this.o) ? ['SUNIONSTORE', k, this.key('set'), this.key('set')] : ['SREM', k, this.member()];
      default:
        return setStoreSafe(this.o) ? ['SDIFFSTORE', k, this.key('set'), this.key('set')] : ['SADD', k, this.member()];
    }
  }

  private zset(): Cmd {
    const k = this.key('zset');
    switch (this.int(zstoreSafe(this.o.version) ? 7 : 5)) {
      case 0:
      case 1:
        return ['ZADD', k, this.score(), this.member(), this.score(), this.member()];
      case 2:
        return ['ZREM', k, this.member()];
      case 3:
        return ['ZINCRBY', k, String(this.int(10) - 5), this.member()];
      case 4: {
        const lo = this.int(20) - 10;
        return ['ZREMRANGEBYSCORE', k, String(lo), String(lo + this.int(6))];
      }
      case 5:
        return ['ZUNIONSTORE', k, '2', this.key('zset'), this.key('zset'), ...this.aggregate()];
      default:
        return ['ZINTERSTORE', k, '2', this.key('zset'), this.key('zset'), ...this.aggregate()];
    }
  }

  private aggregate(): string[] {
    const r = this.int(4);
    return r === 0 ? [] : ['AGGREGATE', ['SUM', 'MIN', 'MAX'][r - 1]];
  }
}

/**
 * Sends `n` commands of `w` to the master in pipelines of `batch`, counting what was sent and the
 * master's error replies (WRONGTYPE, no such key for LSET, index out of range …): those change
 * nothing on the master and are logged nowhere, so they are fine.
 */
export async function runWorkload(c: Redis, w: RandomWorkload, n: number, stats: WorkloadStats, batch = 20): Promise<void> {
  for (let done = 0; done < n; ) {
    const p = c.pipeline();
    const cmds: Cmd[] = [];
    for (let i = 0; i < batch && done < n; i++, done++) {
      const cmd = w.next();
      cmds.push(cmd);
      p.call(cmd[0], ...cmd.slice(1));
    }
    const res = (await p.exec()) ?? [];
    cmds.forEach((cmd, i) => {
      stats.sent[cmd[0]] = (stats.sent[cmd[0]] ?? 0) + 1;
      const err = res[i]?.[0];
      if (err) {
        const why = `${cmd[0]}: ${err.message.split(' ').slice(0, 4).join(' ')}`;
        stats.errors[why] = (stats.errors[why] ?? 0) + 1;
      }
    });
  }
}

/** The seed of a run: `PM_SEED` replays one, else a fresh one (printed with every failure). */
export function seedOf(): number {
  const s = process.env.PM_SEED;
  if (s !== undefined && s !== '') {
    const v = Number(s);
    if (!Number.isSafeInteger(v)) throw new Error(`PM_SEED must be an integer, got ${s}`);
    return v;
  }
  return Math.floor(Math.random() * 2 ** 31);
}
