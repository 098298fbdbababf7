import { existsSync, statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/load.js';
import type { DataType } from '../core/record.js';
import type { PikaSource } from '../verify/pika-source.js';
import { parsePikaKeyspace } from '../verify/keyspace-info.js';
import { infoFields, infoNumber } from './info-fields.js';
import { pikaConfig, type MasterFacts } from './master.js';
import type { TargetFacts } from './target.js';
import type { CheckItem } from './verdict.js';

/** The spool stops taking entries with less than this left on its disk (ops/binlog-spool.ts). */
const DISK_RESERVE = 64 * 2 ** 20;

export interface SourceSize {
  /** Keys per type, Pika's own count (or RocksDB's estimate, then `estimated`); null: unknown. */
  readonly keys: Readonly<Record<DataType, number>> | null;
  readonly total: number | null;
  readonly estimated: boolean;
  /** `db_size` of INFO: bytes of the master's DBs on disk (compressed), what the snapshot transfer moves. */
  readonly dbBytes: number | null;
}

export interface CapacityOptions {
  /** How long to wait for a key count this run started. */
  readonly countWaitMs: number;
  /** Interval between the two binlog-offset samples. */
  readonly binlogSampleMs: number;
}

/**
 * Keys per type and disk size of the master, the ETA of the load at the measured write rate, the
 * binlog the master keeps against the binlog it writes meanwhile, the spool's disk, and the
 * target's memory against the data's estimated size in Redis.
 */
export async function checkCapacity(config: Config, m: MasterFacts, t: TargetFacts, o: CapacityOptions): Promise<CheckItem[]> {
  const items: CheckItem[] = [];
  const pika = m.pika;
  if (pika === null) return items;
  const size = await sourceSize(pika, m.info, o.countWaitMs);
  items.push(keysItem(size));
  const eta = t.writesPerSec !== null && size.total !== null ? size.total / t.writesPerSec : null;
  items.push(
    eta === null
      ? { group: 'capacity', id: 'capacity.eta', verdict: 'warn', detail: 'no ETA: the key count or the target write rate is unknown', fix: 'see the key count and target.write-rate items' }
      : { group: 'capacity', id: 'capacity.eta', verdict: 'ok', detail: `about ${duration(eta)} to load ${size.total} keys at ${Math.round(t.writesPerSec!)} keys/s (one connection measured; the sink uses ${config.values['redis-sender-num']}, big keys take longer)`, data: { seconds: Math.round(eta) } },
  );
  const binlogRate = await binlogBytesPerSec(pika, o.binlogSampleMs);
  items.push(await retentionItem(config, pika, binlogRate, eta));
  items.push(spoolDiskItem(config, size, binlogRate, eta));
  items.push(memoryItem(size, await meanStringBytes(pika), t));
  return items;
}

async function sourceSize(pika: PikaSource, info: ReadonlyMap<string, string>, waitMs: number): Promise<SourceSize> {
  const dbBytes = infoNumber(info, 'db_size');
  const call = async (...args: string[]) => ((await pika.call('INFO', ...args)) as Buffer).toString();
  const scanning = async () => infoFields(await call('stats')).get('is_scaning_keyspace') === 'Yes';
  let text = await call('keyspace');
  // 3.5+ print the last count only in the reply to `INFO keyspace 1` (which also starts a count);
  // 3.2–3.4 print it on every `INFO keyspace`.
  const onlyWithRescan = /info keyspace 1/i.test(text);
  // A count is started only when none runs: a second one would scan the whole DB again.
  if (countTime(text) === null && !(await scanning())) text = await call('keyspace', '1');
  if (countTime(text) === null) {
    const until = Date.now() + waitMs;
    let done = false;
    while (!done && Date.now() < until) {
      await sleep(200);
      done = !(await scanning());
    }
    if (done) text = await call('keyspace', ...(onlyWithRescan ? ['1'] : []));
  }
  if (countTime(text) !== null) {
    const counts = parsePikaKeyspace(text);
    const keys = counts?.keys ?? { string: 0, hash: 0, list: 0, set: 0, zset: 0, stream: 0 };
    return { keys, total: Object.values(keys).reduce((a, b) => a + b, 0), estimated: false, dbBytes };
  }
  return { ...rocksEstimate(info), dbBytes };
}

/** The `# Time:` of Pika's last key count (3.2: a date, 1970 before any; 3.5+: 0 before any). */
function countTime(text: string): string | null {
  const t = /^# Time:\s*(.*)$/m.exec(text)?.[1]?.trim() ?? null;
  return t === null || t === '0' || t.startsWith('1970-') ? null : t;
}

/** RocksDB's own estimate (INFO all of 3.5+: `strings_estimate_num_keys`…; 4.0: per instance), rough: it counts entries, not keys. */
function rocksEstimate(info: ReadonlyMap<string, string>): Pick<SourceSize, 'keys' | 'total' | 'estimated'> {
  const per: Record<DataType, number> = { string: 0, hash: 0, list: 0, set: 0, zset: 0, stream: 0 };
  const names: Record<string, DataType> = { strings: 'string', hashes: 'hash', lists: 'list', sets: 'set', zsets: 'zset' };
  let seen = false;
  let total = 0;
  for (const [k, v] of info) {
    const m = /^(\w+?)_estimate_num_keys$/.exec(k);
    if (m === null) continue;
    seen = true;
    total += Number(v) || 0;
    const type = names[m[1]];
    if (type !== undefined) per[type] += Number(v) || 0;
  }
  if (!seen) return { keys: null, total: null, estimated: true };
  return { keys: Object.values(per).some((n) => n > 0) ? per : null, total, estimated: true };
}

function keysItem(s: SourceSize): CheckItem {
  const bytes = s.dbBytes === null ? 'db_size unknown' : `${mib(s.dbBytes)} on disk (db_size)`;
  const data = { keys: s.keys, total: s.total, estimated: s.estimated, dbBytes: s.dbBytes };
  if (s.total === null) {
    return { group: 'capacity', id: 'capacity.keys', verdict: 'warn', detail: `key count unknown (a count is running or did not finish in time); ${bytes}`, fix: 'run check again once INFO keyspace on the master shows the count', data };
  }
  const per = s.keys === null ? '' : ` (${Object.entries(s.keys).filter(([, n]) => n > 0).map(([t, n]) => `${t} ${n}`).join(', ') || 'empty'})`;
  return {
    group: 'capacity',
    id: 'capacity.keys',
    verdict: s.estimated ? 'warn' : 'ok',
    detail: `${s.estimated ? 'about ' : ''}${s.total} keys${per}; ${bytes}${s.estimated ? " (RocksDB's estimate: Pika's count did not finish in time)" : ''}`,
    ...(s.estimated ? { fix: 'run check again once INFO keyspace on the master shows the count' } : {}),
    data,
  };
}

/** Binlog bytes written per second (the fastest DB), from two `INFO replication` samples. */
async function binlogBytesPerSec(pika: PikaSource, sampleMs: number): Promise<number | null> {
  const fileSize = Number((await pikaConfig(pika, 'binlog-file-size')) ?? NaN);
  const sample = async () => offsets(((await pika.call('INFO', 'replication')) as Buffer).toString(), fileSize);
  const a = await sample();
  const t0 = Date.now();
  await sleep(sampleMs);
  const b = await sample();
  const secs = (Date.now() - t0) / 1000;
  let best: number | null = null;
  for (const [db, end] of b) {
    const start = a.get(db);
    if (start === undefined || !Number.isFinite(end - start)) continue;
    const rate = Math.max(0, end - start) / secs;
    best = Math.max(best ?? 0, rate);
  }
  return best;
}

/** `db0 binlog_offset=F O` (3.2–3.5.2) or `db0:binlog_offset=F O` (3.5.3+): bytes since binlog 0 per DB. */
function offsets(text: string, fileSize: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^(db\d+)[ :]binlog_offset=(\d+) (\d+)/gm)) out.set(m[1], Number(m[2]) * fileSize + Number(m[3]));
  return out;
}

/**
 * Pika purges binlog files beyond `expire-logs-nums` or older than `expire-logs-days`. From the
 * snapshot until our BinlogSync starts the master must keep what it writes; while the snapshot
 * loads the spool takes it (up to spool-max-bytes and the disk), past that the master must keep it.
 */
async function retentionItem(config: Config, pika: PikaSource, rate: number | null, eta: number | null): Promise<CheckItem> {
  return retentionVerdict({
    expireLogsNums: Number(await pikaConfig(pika, 'expire-logs-nums')),
    binlogFileSize: Number(await pikaConfig(pika, 'binlog-file-size')),
    expireLogsDays: Number(await pikaConfig(pika, 'expire-logs-days')),
    binlogBytesPerSec: rate,
    etaSeconds: eta,
    spoolMaxBytes: config.values['spool-max-bytes'],
  });
}

export interface RetentionInput {
  /** The master's conf (NaN: CONFIG GET refused). */
  readonly expireLogsNums: number;
  readonly binlogFileSize: number;
  readonly expireLogsDays: number;
  /** The master's binlog write rate (null: unknown). */
  readonly binlogBytesPerSec: number | null;
  /** The load's ETA (null: unknown). */
  readonly etaSeconds: number | null;
  /** 0: no limit but the disk's. */
  readonly spoolMaxBytes: number;
}

/** The binlog verdict: ok with twice the ETA kept, warn when the spool must make up the difference, fail when even it cannot. */
export function retentionVerdict(i: RetentionInput): CheckItem {
  const { expireLogsNums: nums, binlogFileSize: fileSize, expireLogsDays: days, binlogBytesPerSec: rate, etaSeconds: eta } = i;
  if (!Number.isFinite(nums) || !Number.isFinite(fileSize) || nums <= 0 || fileSize <= 0) {
    return { group: 'capacity', id: 'capacity.binlog', verdict: 'warn', detail: 'CONFIG GET expire-logs-nums / binlog-file-size refused', fix: 'read them on the master by hand: the binlog kept must outlast the snapshot transfer' };
  }
  const keptBytes = nums * fileSize;
  const daysSec = Number.isFinite(days) && days > 0 ? days * 86_400 : Infinity;
  const data = { expireLogsNums: nums, binlogFileSize: fileSize, expireLogsDays: days, binlogBytesPerSec: rate === null ? null : Math.round(rate), etaSeconds: eta === null ? null : Math.round(eta) };
  const kept = `expire-logs-nums ${nums} × binlog-file-size ${mib(fileSize)} = ${mib(keptBytes)}`;
  if (rate === null) return { group: 'capacity', id: 'capacity.binlog', verdict: 'warn', detail: `${kept}; the master's binlog rate could not be read`, fix: 'check INFO replication on the master', data };
  const keptSec = Math.min(rate > 0 ? keptBytes / rate : Infinity, daysSec);
  const head = `${kept}, written at ${mib(rate)}/s: the master keeps ${Number.isFinite(keptSec) ? duration(keptSec) : 'it indefinitely'}`;
  if (eta === null) return { group: 'capacity', id: 'capacity.binlog', verdict: 'warn', detail: `${head}; no ETA to compare it with`, fix: 'see capacity.eta', data };
  const during = rate * eta;
  const spoolMax = i.spoolMaxBytes || Infinity;
  const nums2 = Math.ceil((2 * during) / fileSize);
  if (keptSec >= 2 * eta) return { group: 'capacity', id: 'capacity.binlog', verdict: 'ok', detail: `${head}, the load takes about ${duration(eta)}`, data };
  if (during <= keptBytes + spoolMax && daysSec >= eta) {
    return { group: 'capacity', id: 'capacity.binlog', verdict: 'warn', detail: `${head}, the load about ${duration(eta)}: the spool (spool-max-bytes ${mib(spoolMax)}) has to hold the ${mib(during)} written meanwhile`, fix: `raise expire-logs-nums on the master (CONFIG SET expire-logs-nums ${nums2}) for a margin`, data };
  }
  return {
    group: 'capacity',
    id: 'capacity.binlog',
    verdict: 'fail',
    detail: `${head}, the load about ${duration(eta)}: the binlog written meanwhile (${mib(during)}) outgrows what the master keeps and the spool holds`,
    fix: `CONFIG SET expire-logs-nums ${nums2} on the master (and expire-logs-days ≥ ${Math.ceil((2 * eta) / 86_400)}), or raise spool-max-bytes`,
    data,
  };
}

/** The snapshot lands under db-sync-path and the spool beside it: room for both, plus the spool's reserve. */
function spoolDiskItem(config: Config, size: SourceSize, rate: number | null, eta: number | null): CheckItem {
  const path = resolve(config.values['db-sync-path']);
  let dir = path;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const st = statfsSync(dir);
  const free = Number(st.bavail) * Number(st.bsize);
  const snapshot = size.dbBytes ?? 0;
  const spoolMax = config.values['spool-max-bytes'] || Infinity;
  const spool = rate !== null && eta !== null ? Math.min(rate * eta, spoolMax) : 0;
  const data = { path, freeBytes: free, snapshotBytes: snapshot, spoolBytes: Math.round(spool) };
  const head = `${mib(free)} free under ${path}; the snapshot needs about ${mib(snapshot)}`;
  if (free < snapshot + DISK_RESERVE) {
    return { group: 'capacity', id: 'capacity.disk', verdict: 'fail', detail: `${head}: it does not fit (plus the 64 MiB the spool keeps free)`, fix: 'point db-sync-path at a bigger disk or free space', data };
  }
  if (free < snapshot + spool + DISK_RESERVE) {
    return { group: 'capacity', id: 'capacity.disk', verdict: 'warn', detail: `${head}, the spool about ${mib(spool)} during the load: the spool will stop short (the master must then keep the rest)`, fix: 'more room under db-sync-path, or a longer binlog retention on the master', data };
  }
  return { group: 'capacity', id: 'capacity.disk', verdict: 'ok', detail: `${head}${spool > 0 ? `, the spool about ${mib(spool)}` : ''}`, data };
}

/** Strings whose length is sampled for the memory estimate. */
const STRLEN_SAMPLE = 200;

/** Mean length of the first strings SCANX lists (a bounded sample); 0 when there are none. */
async function meanStringBytes(pika: PikaSource): Promise<number> {
  let n = 0;
  let bytes = 0;
  for await (const batch of pika.scanType('string', STRLEN_SAMPLE)) {
    for (const key of batch.slice(0, STRLEN_SAMPLE - n)) bytes += (await pika.call('STRLEN', key)) as number;
    n += Math.min(batch.length, STRLEN_SAMPLE - n);
    if (n >= STRLEN_SAMPLE) break;
  }
  return n === 0 ? 0 : bytes / n;
}

/**
 * Redis memory the data will take: every key at the target's measured memory per small key, plus
 * the values: the larger of db_size (RocksDB's compressed bytes, which leave out what is still in
 * the memtable) and the string count × the sampled mean string length. Rough by nature.
 */
function memoryItem(size: SourceSize, meanString: number, t: TargetFacts): CheckItem {
  if (t.maxMemory === null || t.usedMemory === null) return { group: 'capacity', id: 'capacity.memory', verdict: 'warn', detail: 'INFO memory of the target was refused', fix: 'allow +info to the ACL user' };
  const values = Math.max(size.dbBytes ?? 0, (size.keys?.string ?? 0) * meanString);
  const estimate = (size.total ?? 0) * (t.bytesPerKey ?? 100) + values;
  const data = { estimateBytes: estimate, usedMemory: t.usedMemory, maxMemory: t.maxMemory, policy: t.maxMemoryPolicy };
  const head = `the data needs about ${mib(estimate)} in Redis (estimate)`;
  if (t.maxMemory === 0) return { group: 'capacity', id: 'capacity.memory', verdict: 'ok', detail: `${head}; maxmemory is 0 (no limit: the host's RAM is)`, data };
  const room = t.maxMemory - t.usedMemory;
  const evicts = t.maxMemoryPolicy !== null && t.maxMemoryPolicy !== 'noeviction';
  const limit = `maxmemory ${mib(t.maxMemory)}, ${mib(t.usedMemory)} used, policy ${t.maxMemoryPolicy}`;
  if (estimate > room) {
    return {
      group: 'capacity',
      id: 'capacity.memory',
      verdict: 'fail',
      detail: `${head}; ${limit}: ${evicts ? 'Redis would evict migrated keys' : 'writes will fail with OOM part-way'}`,
      fix: `raise maxmemory to at least ${mib(t.usedMemory + estimate * 1.3)} (CONFIG SET maxmemory …) or a bigger target`,
      data,
    };
  }
  if (evicts || estimate > 0.8 * room) {
    return { group: 'capacity', id: 'capacity.memory', verdict: 'warn', detail: `${head}; ${limit}${evicts ? ': an eviction policy may drop migrated keys under pressure' : ': less than 20 % margin'}`, fix: 'maxmemory-policy noeviction and more headroom', data };
  }
  return { group: 'capacity', id: 'capacity.memory', verdict: 'ok', detail: `${head}; ${limit}`, data };
}

function mib(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'unlimited';
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function duration(sec: number): string {
  if (sec < 90) return `${Math.max(1, Math.round(sec))} s`;
  if (sec < 5400) return `${Math.round(sec / 60)} min`;
  if (sec < 172_800) return `${(sec / 3600).toFixed(1)} h`;
  return `${(sec / 86_400).toFixed(1)} days`;
}
