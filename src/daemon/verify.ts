import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/load.js';
import { hostPort, int, type HostPort } from '../config/values.js';
import { ConfigError } from '../core/errors.js';
import { printableBytes } from '../core/command.js';
import { SIDE_KEY_PREFIX, sideKey } from '../core/scripts.js';
import type { Logger } from '../core/log.js';
import type { DataType } from '../core/record.js';
import type { KeyFilter } from '../convert/filter.js';
import { Progress } from '../ops/progress.js';
import { RateLimiter } from '../sink/rate-limit.js';
import { isPikaInternalKey, looksLikeHll3x } from '../snapshot/pika/special-keys.js';
import { compareValue } from '../verify/compare-value.js';
import { totalKeys } from '../verify/keyspace-info.js';
import { hasStreams, PIKA_PTTL_ORDER, PikaSource, type PikaSourceOptions } from '../verify/pika-source.js';
import { DiffReport, keyText, type DiffKind, type Difference, type NonDiffKind } from '../verify/report.js';
import { parseSampling, sampled, type Sampling } from '../verify/sample.js';
import type { VerifySummary } from '../verify/summary.js';
import { ClusterTargetReader } from '../verify/cluster-target-reader.js';
import { RedisTargetReader, type TargetReader } from '../verify/target-reader.js';
import { keyFilterOf } from './key-filter.js';
import { targetConnectionOptions } from './target.js';

/** Names asked for per SCANX / SCAN call. */
const SCAN_COUNT = 512;
/** pika-migrate's own keys in the target DB (sink markers, applied positions, load guard, canary). */
const OWN_PREFIX = Buffer.from('pika-migrate:');

export interface VerifyOptions {
  readonly source: PikaSourceOptions;
  /** Opens the Redis side (a single Redis, or a cluster reader). */
  readonly openTarget: () => Promise<TargetReader>;
  /** `type-order`: which type of a name held in several types the migration copied. */
  readonly typeOrder: readonly DataType[];
  /** filter-keys, filter-exclude-keys, filter-types (null: every key). */
  readonly filter: KeyFilter | null;
  /**
   * Whether the migration kept the other types of a name held in several types under side names
   * (a single Redis); false for a Redis Cluster target, where a side name would hash to another
   * slot: only the first type in type-order was copied, the others are counted as shadowed.
   */
  readonly sideNames: boolean;
  readonly sampling: Sampling;
  /** Allowed expiry gap, on top of the source's own granularity (3.x: whole seconds). */
  readonly ttlToleranceMs: number;
  /** Keys looked at per second, both sides together; 0 = no limit. */
  readonly maxKeysPerSec: number;
  readonly reportFile: string | null;
  readonly maxDiffs: number;
  /** Elements read per command for big keys (sync-batch-num). */
  readonly chunk: number;
  /** Keys compared at once (their commands share round trips). Default 64. */
  readonly concurrency?: number;
  readonly logger: Logger;
  readonly bar?: NodeJS.WriteStream | null;
  readonly signal?: AbortSignal;
}

type Outcome = { readonly kind: 'match'; readonly type: DataType; readonly ttlUnverifiable: boolean } | { readonly kind: NonDiffKind } | (Difference & { readonly compared: boolean });

interface Candidate {
  readonly key: Buffer;
  readonly type: DataType;
}

/**
 * Proves a copy right before cut-over: every (name, type) that Pika holds, read type by type, is
 * held by Redis with the same type, value and expiry (within the tolerance), unless the
 * migration's own rules leave it out — the key filters, Pika's HyperLogLogs and slot-migration keys (not
 * copied). Then every Redis key (or the sample of them) is looked up in Pika to find extras.
 */
export async function verify(o: VerifyOptions): Promise<VerifySummary> {
  const log = o.logger.child({ module: 'verify' });
  const pika = await PikaSource.connect(o.source);
  let target: TargetReader | null = null;
  try {
    target = await o.openTarget();
    return await run(o, log, pika, target);
  } finally {
    pika.close();
    target?.close();
  }
}

async function run(o: VerifyOptions, log: Logger, pika: PikaSource, target: TargetReader): Promise<VerifySummary> {
  const started = Date.now();
  const compared: Record<DataType, number> = { string: 0, hash: 0, list: 0, set: 0, zset: 0, stream: 0 };
  const differences: Record<DiffKind, number> = { missing: 0, extra: 0, type: 0, value: 0, ttl: 0 };
  const differencesByType: Record<string, number> = {};
  const notDifferences: Record<NonDiffKind, number> = { filtered: 0, 'not-copied': 0, vanished: 0, 'ttl-unverifiable': 0, shadowed: 0 };
  const report = new DiffReport(o.reportFile, o.maxDiffs);
  const progress = new Progress({ label: 'verify', unit: 'keys', logger: log, bar: o.bar });
  const limiter = new RateLimiter(o.maxKeysPerSec, 0);
  const counts = await pika.keyCounts();
  // Both passes count: Pika's (name, type) pairs, then about as many Redis keys.
  if (counts !== null) progress.setTotal(o.sampling.kind === 'all' ? 2 * totalKeys(counts) : null);
  log.info(
    { pikaVersion: pika.version, family: pika.family, source: pika.name, target: target.name, sampling: o.sampling, pikaKeyCounts: counts?.keys ?? 'unknown (run info keyspace 1 on Pika to count)' },
    'verify: comparing Pika with Redis',
  );
  const record = (out: Outcome): void => {
    if (out.kind === 'match') {
      compared[out.type]++;
      if (out.ttlUnverifiable) notDifferences['ttl-unverifiable']++;
    } else if (out.kind in notDifferences) notDifferences[out.kind as NonDiffKind]++;
    else {
      const d = out as Difference & { compared: boolean };
      if (d.compared) compared[d.type as DataType]++;
      differences[d.kind]++;
      differencesByType[d.type] = (differencesByType[d.type] ?? 0) + 1;
      progress.add(d.kind);
      if (report.add(d)) log.warn({ kind: d.kind, key: keyText(d.key), type: d.type }, `difference: ${d.kind} ${keyText(d.key)} (${d.type}): ${d.detail}`);
    }
  };
  let pikaKeys = 0;
  let redisKeys = 0;
  const check = new KeyCheck(o, pika, target);
  progress.start();
  try {
    await forEachLimited(sampled(candidates(pika, o.typeOrder, SCAN_COUNT), o.sampling), o, limiter, async (c) => {
      pikaKeys++;
      progress.add('keys');
      record(await withKey(c.key, c.type, () => check.pikaKey(c)));
    });
    if (!o.signal?.aborted) {
      await forEachLimited(sampled(redisKeysToCheck(target, o.filter, SCAN_COUNT), o.sampling), o, limiter, async (key) => {
        redisKeys++;
        progress.add('keys');
        const out = await withKey(key, 'any', () => check.redisKey(key));
        if (out !== null) record(out);
      });
    }
  } finally {
    progress.stop('done');
    await report.close();
  }
  const mode = o.sampling.kind === 'all' ? 'full' : o.sampling.kind === 'ratio' ? `sampled (ratio ${o.sampling.ratio})` : `sampled (${o.sampling.count} keys a side)`;
  return {
    source: pika.name,
    pikaVersion: pika.version,
    target: target.name,
    mode,
    compared,
    differences,
    differencesByType,
    notDifferences,
    pikaKeys,
    redisKeys,
    elapsedMs: Date.now() - started,
    interrupted: o.signal?.aborted === true,
    reportFile: o.reportFile,
  };
}

/** Every (name, type) Pika holds: one SCANX walk per type, in type-order, then the streams. */
async function* candidates(pika: PikaSource, typeOrder: readonly DataType[], count: number): AsyncGenerator<Candidate> {
  for (const type of typeOrder) for await (const keys of pika.scanType(type, count)) for (const key of keys) yield { key, type };
  for (const key of await pika.streamNames()) yield { key, type: 'stream' };
}

/** Redis keys the filters accept, without pika-migrate's own (its side names are looked at). */
async function* redisKeysToCheck(t: TargetReader, filter: KeyFilter | null, count: number): AsyncGenerator<Buffer> {
  for await (const keys of t.scan(count)) {
    for (const key of keys) {
      if (key.length >= OWN_PREFIX.length && key.subarray(0, OWN_PREFIX.length).equals(OWN_PREFIX)) {
        const side = parseSideKey(key);
        if (side !== null && (filter === null || filter.acceptsKey(side.name))) yield key;
        continue;
      }
      if (filter !== null && !filter.acceptsKey(key)) continue;
      yield key;
    }
  }
}

class KeyCheck {
  private readonly slackMs: number;

  constructor(
    private readonly o: VerifyOptions,
    private readonly pika: PikaSource,
    private readonly target: TargetReader,
  ) {
    this.slackMs = o.ttlToleranceMs + pika.ttlGranularityMs;
  }

  async pikaKey({ key, type }: Candidate): Promise<Outcome> {
    const filter = this.o.filter;
    if (filter !== null && !filter.acceptsKey(key)) return { kind: 'filtered' };
    if (isPikaInternalKey(key)) return { kind: 'not-copied' };
    let ttlUnverifiable = false;
    let target = this.target;
    let redisKey = key;
    /** Multi-type: the types ahead of this one, and those that held the name when its place in Redis was decided. */
    let before = new Set<DataType>();
    let ahead = new Set<DataType>();
    if (this.pika.multiType) {
      // The multi-type rule: Redis holds the first type in type-order that holds the name under
      // the name, every other type under its side name (a stream comes after every type-order
      // type: the reader reads streams last). PTTL answers for the first type in PIKA_PTTL_ORDER.
      // Probe the types ahead of this one in either order.
      const copiedFirst = type === 'stream' ? this.o.typeOrder : this.o.typeOrder.slice(0, this.o.typeOrder.indexOf(type));
      const pttlFirst = PIKA_PTTL_ORDER.slice(0, Math.max(0, PIKA_PTTL_ORDER.indexOf(type)));
      before = new Set([...copiedFirst, ...pttlFirst]);
      ahead = await this.typesHolding(key, before);
      if (copiedFirst.some((t) => ahead.has(t))) {
        if (!this.o.sideNames) return { kind: 'shadowed' };
        redisKey = sideKey(type, key);
        target = onKey(this.target, redisKey);
      }
      ttlUnverifiable = pttlFirst.some((t) => ahead.has(t));
    }
    // The migration filters the type that won the name (load-snapshot.ts), so this comes after the probes.
    if (filter !== null && !filter.acceptsType(type)) return { kind: 'filtered' };
    const [redisType, redisTtl, pikaTtl] = await Promise.all([
      this.target.call('TYPE', redisKey).then((b) => (b as Buffer).toString()),
      this.target.call('PTTL', redisKey) as Promise<number>,
      // Pika's streams have no expiry (its PTTL does not look at them).
      type === 'stream' ? -1 : this.pika.pttl(key),
    ]);
    const diff = (kind: DiffKind, detail: string, compared = true): Outcome => ({ kind, key, type, detail, compared });
    if (redisType !== type) {
      if (!(await this.pika.holds(key, type)) || this.expiring(pikaTtl)) return { kind: 'vanished' };
      // A type ahead expired or was deleted after the probes: the place decided from them (and the
      // PTTL, which then answered for another type) is stale, and the daemon moves the value
      // within a second. Not a difference: the name changed while it was being compared.
      if (before.size > 0 && !sameTypes(ahead, await this.typesHolding(key, before))) return { kind: 'vanished' };
      if (type === 'string' && isHll((await this.pika.call('GET', key)) as Buffer | null)) return { kind: 'not-copied' };
      const where = redisKey === key ? '' : ` under ${printableBytes(redisKey, 100)}`;
      return redisType === 'none' ? diff('missing', `not in redis${where}`, false) : diff('type', `redis holds a ${redisType}${where}`, false);
    }
    const verdict = await compareValue(this.pika, target, key, type, this.o.chunk);
    if ('gone' in verdict) return { kind: 'vanished' };
    if (!verdict.same) return diff('value', verdict.detail);
    if (ttlUnverifiable) return { kind: 'match', type, ttlUnverifiable };
    const ttl = this.ttlDifference(pikaTtl, redisTtl);
    return ttl === null ? { kind: 'match', type, ttlUnverifiable: false } : diff('ttl', ttl);
  }

  /**
   * A Redis key Pika does not hold (in any type) is an extra; null when Pika holds it. A side name
   * is an extra when Pika does not hold its name in its type.
   */
  async redisKey(key: Buffer): Promise<Outcome | null> {
    const side = parseSideKey(key);
    if (side !== null) {
      if (await this.pika.holds(side.name, side.type)) return null;
      const type = ((await this.target.call('TYPE', key)) as Buffer).toString();
      if (type === 'none') return null;
      return { kind: 'extra', key, type, detail: `side name of ${side.type} ${printableBytes(side.name, 100)}, which pika does not hold`, compared: false };
    }
    if (await this.pika.exists(key)) return null;
    const type = ((await this.target.call('TYPE', key)) as Buffer).toString();
    if (type === 'none') return null;
    // 3.5.x EXISTS does not look at streams (storage.cc Storage::Exists, v3.5.5): ask XLEN.
    if (type === 'stream' && hasStreams(this.pika.version) && (await this.pika.holds(key, 'stream'))) return null;
    return { kind: 'extra', key, type, detail: 'in redis, not in pika', compared: false };
  }

  /** Which of `types` hold `key` on Pika now. */
  private async typesHolding(key: Buffer, types: ReadonlySet<DataType>): Promise<Set<DataType>> {
    const held = await Promise.all([...types].map(async (t) => ((await this.pika.holds(key, t)) ? t : null)));
    return new Set(held.filter((t): t is DataType => t !== null));
  }

  /** Pika's PTTL says the key expires within the slack (or, 4.0.1: PTTL 0 for a key already gone). */
  private expiring(pikaTtl: number): boolean {
    return pikaTtl === -2 || (pikaTtl >= 0 && pikaTtl <= this.slackMs);
  }

  private ttlDifference(pikaTtl: number, redisTtl: number): string | null {
    if (pikaTtl === -1 && redisTtl === -1) return null;
    if (pikaTtl === -1) return `pika persistent, redis expires in ${redisTtl} ms`;
    if (redisTtl === -1) return `pika expires in ${pikaTtl} ms, redis persistent`;
    if (Math.abs(pikaTtl - redisTtl) <= this.slackMs) return null;
    return `pika expires in ${pikaTtl} ms, redis in ${redisTtl} ms (more than ${this.slackMs} ms apart)`;
  }
}

const SIDE_PREFIX = Buffer.from(SIDE_KEY_PREFIX);
const SIDE_TYPES: readonly DataType[] = ['string', 'hash', 'list', 'set', 'zset'];

/** `pika-migrate:t:<type>:<name>` → its type and name; null for any other key. */
function parseSideKey(key: Buffer): { type: DataType; name: Buffer } | null {
  if (key.length <= SIDE_PREFIX.length || !key.subarray(0, SIDE_PREFIX.length).equals(SIDE_PREFIX)) return null;
  const colon = key.indexOf(0x3a, SIDE_PREFIX.length);
  if (colon < 0) return null;
  const type = key.subarray(SIDE_PREFIX.length, colon).toString('latin1') as DataType;
  return SIDE_TYPES.includes(type) ? { type, name: key.subarray(colon + 1) } : null;
}

/** The target as seen for one key: every call about `key` reads `redisKey` (a side name) instead. */
function onKey(t: TargetReader, redisKey: Buffer): TargetReader {
  return {
    name: t.name,
    multiLookups: t.multiLookups,
    call: (name, _key, ...args) => t.call(name, redisKey, ...args),
    scan: (count) => t.scan(count),
    close: () => t.close(),
  };
}

/**
 * HyperLogLogs are strings the migration does not copy (special-keys.ts). 4.0 flags them in the
 * meta, which the Redis protocol does not show (storage redis_hyperloglog.cc IsHyperloglogObj),
 * but GET answers the same 2^17 registers as 3.x: recognised by shape on every version.
 */
function isHll(v: Buffer | null): boolean {
  return v !== null && looksLikeHll3x(v, 0, v.length);
}

/** Errors name the key they were about; Redis and Pika errors are surfaced, never swallowed. */
async function withKey<T>(key: Buffer, type: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw new Error(`verify of key '${printableBytes(key, 100)}' (${type}): ${(e as Error).message}`, { cause: e });
  }
}

/** Runs `f` on each item, `concurrency` at a time, paced by the limiter; the first failure stops it. */
async function forEachLimited<T>(items: AsyncIterable<T>, o: VerifyOptions, limiter: RateLimiter, f: (it: T) => Promise<void>): Promise<void> {
  const inflight = new Set<Promise<void>>();
  const max = o.concurrency ?? 64;
  let failure: { e: unknown } | null = null;
  for await (const it of items) {
    if (failure !== null || o.signal?.aborted) break;
    const wait = limiter.take(0);
    if (wait > 0) await sleep(wait);
    const p: Promise<void> = f(it)
      .catch((e: unknown) => {
        failure ??= { e };
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= max) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  if (failure !== null) throw (failure as { e: unknown }).e;
}


/** The `verify` subcommand's flags, as commander hands them over (strings, unparsed). */
export interface VerifyFlags {
  readonly source?: string;
  readonly sourcePassword?: string;
  readonly sample?: string;
  readonly ttlTolerance?: string;
  readonly maxKeysPerSec?: string;
  readonly report?: string;
  readonly maxDiffs?: string;
}

/**
 * Verify's options from the conf (the Pika from `slaveof` and `masterauth`, the target from
 * `target-redis-*`, `type-order`, the filters, `sync-batch-num` as the read chunk) and the flags,
 * which win. A flag that does not parse is a ConfigError (exit code 2) naming it.
 */
export function verifyOptionsOf(config: Config, flags: VerifyFlags, logger: Logger, signal?: AbortSignal): VerifyOptions {
  const v = config.values;
  const flagInt = (name: string, raw: string | undefined, dflt: number, max = Number.MAX_SAFE_INTEGER): number => {
    if (raw === undefined) return dflt;
    try {
      return int(0, max)(raw);
    } catch (e) {
      throw new ConfigError(`verify --${name}: ${(e as Error).message}`);
    }
  };
  let source: HostPort | null = v.slaveof;
  if (flags.source !== undefined) {
    try {
      source = hostPort(flags.source);
    } catch (e) {
      throw new ConfigError(`verify --source: ${(e as Error).message}`);
    }
  }
  if (source === null) throw new ConfigError(`verify: no Pika to read: set slaveof in ${config.file} or pass --source <host:port>`);
  const sampling = parseSampling(flags.sample);
  if (sampling === null) throw new ConfigError(`verify --sample: expected a key count (an integer ≥ 1) or a ratio between 0 and 1, got "${flags.sample}"`);
  const password = flags.sourcePassword ?? v.masterauth;
  return {
    source: { host: source.host, port: source.port, ...(password !== '' ? { password } : {}) },
    openTarget: () => {
      // The same target as the migration's: TLS, ACL user, Sentinel (files read now: a ConfigError names the key).
      const endpoint = targetConnectionOptions(config);
      const cluster = v['target-redis-cluster'];
      // The conf's loader already refuses target-redis-db ≠ 0 with a cluster.
      if (cluster !== null) {
        const nodes = cluster.length > 0 ? cluster : [{ host: v['target-redis-host'], port: v['target-redis-port'] }];
        return ClusterTargetReader.connect({ nodes, password: endpoint.password, username: endpoint.username, ...(endpoint.tls ? { tls: endpoint.tls } : {}) });
      }
      return RedisTargetReader.connect(endpoint);
    },
    typeOrder: v['type-order'],
    filter: keyFilterOf(v),
    sideNames: v['target-redis-cluster'] === null,
    sampling,
    ttlToleranceMs: flagInt('ttl-tolerance', flags.ttlTolerance, 1000),
    maxKeysPerSec: flagInt('max-keys-per-sec', flags.maxKeysPerSec, 0),
    reportFile: flags.report ?? null,
    maxDiffs: flagInt('max-diffs', flags.maxDiffs, 1000),
    chunk: v['sync-batch-num'],
    logger,
    signal,
  };
}

function sameTypes(a: ReadonlySet<DataType>, b: ReadonlySet<DataType>): boolean {
  return a.size === b.size && [...a].every((t) => b.has(t));
}
