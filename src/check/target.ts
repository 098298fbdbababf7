import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Config } from '../config/load.js';
import type { DbRoute } from '../daemon/db-map.js';
import { targetConnectionOptions } from '../daemon/target.js';
import { ioredisOptions, targetName } from '../sink/connection.js';
import { slotTag } from '../core/cluster-slot.js';
import { parseClusterSlots } from '../sink/cluster-slots.js';
import { atLeast } from '../verify/target-reader.js';
import { infoFields, infoNumber } from './info-fields.js';
import type { CheckItem } from './verdict.js';

/** What the target checks measured, for the capacity checks. */
export interface TargetFacts {
  readonly reachable: boolean;
  readonly version: string | null;
  /** Throwaway string writes per second from one connection (null: not measured). */
  readonly writesPerSec: number | null;
  /** Target memory one throwaway key took (key, 64-byte value, overhead). */
  readonly bytesPerKey: number | null;
  readonly usedMemory: number | null;
  /** 0: no limit. */
  readonly maxMemory: number | null;
  readonly maxMemoryPolicy: string | null;
}

/** Prefix of every key `check` writes; all are deleted before it ends. */
export const CHECK_PREFIX = 'pika-migrate:check:';

const UNREACHABLE: TargetFacts = { reachable: false, version: null, writesPerSec: null, bytesPerKey: null, usedMemory: null, maxMemory: null, maxMemoryPolicy: null };

/**
 * The target as the migration will use it: reachable with the conf's credentials, its version,
 * standalone or cluster as the conf says (every slot served), the ACL user allowed every command
 * the sink sends, keys already in the DBs the master's DBs go to (against conflict-policy), and a
 * short measured write rate (the ETA) and memory per key (the size estimate).
 */
export async function checkTarget(config: Config, routes: readonly DbRoute[], opts: { timeoutMs: number; probeWrites: number }): Promise<{ items: CheckItem[]; facts: TargetFacts }> {
  const v = config.values;
  const endpoint = targetConnectionOptions(config);
  const cluster = v['target-redis-cluster'];
  const seed = cluster !== null && cluster.length > 0 ? { ...endpoint, host: cluster[0].host, port: cluster[0].port } : endpoint;
  const name = targetName(seed);
  const c = new Redis({
    ...ioredisOptions(seed),
    lazyConnect: true,
    // No ready check, no CLIENT SETINFO: commands the ACL user may lack (it is one of the things checked).
    enableReadyCheck: false,
    disableClientInfo: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: opts.timeoutMs,
    commandTimeout: 30_000,
  });
  let lastError: Error | null = null;
  c.on('error', (e: Error) => (lastError = e));
  const items: CheckItem[] = [];
  try {
    try {
      await c.connect();
      await c.ping();
    } catch (e) {
      const msg = (lastError ?? (e as Error)).message;
      const auth = /NOAUTH|WRONGPASS|invalid password|invalid username/i.test(msg);
      items.push({
        group: 'target',
        id: 'target.connect',
        verdict: 'fail',
        detail: `cannot reach or log in to the target ${name}: ${msg}`,
        fix: auth ? 'check target-redis-user / target-redis-pwd' : 'check target-redis-host / -port (or the sentinels, the TLS files) and that Redis runs',
      });
      return { items, facts: UNREACHABLE };
    }
    items.push({ group: 'target', id: 'target.connect', verdict: 'ok', detail: `${name} answers${v['target-redis-user'] ? ` as ACL user ${v['target-redis-user']}` : ''}` });
    const server = infoFields(await infoOrEmpty(c, 'server'));
    const version = server.get('redis_version') ?? null;
    items.push(versionItem(version));
    const clusterCheck = await clusterItems(c, cluster !== null, seed.host);
    items.push(...clusterCheck);
    const acl = await aclItem(c, config, routes, version);
    items.push(acl);
    items.push(...(await existingKeyItems(c, config, routes, cluster !== null)));
    const memory = infoFields(await infoOrEmpty(c, 'memory'));
    const blocked = acl.verdict === 'fail' ? 'the ACL user may not write' : clusterCheck.some((i) => i.verdict === 'fail') ? 'the cluster check failed' : null;
    const measured = blocked !== null ? null : await measureWrites(c, routes[0]?.target ?? 0, cluster !== null, opts.probeWrites);
    if (measured === null) {
      items.push({ group: 'target', id: 'target.write-rate', verdict: 'warn', detail: `not measured: ${blocked}`, fix: 'fix that first' });
    } else if ('error' in measured) {
      items.push({ group: 'target', id: 'target.write-rate', verdict: 'fail', detail: `throwaway writes were refused after ${measured.written}: ${measured.error}`, fix: /OOM/.test(measured.error) ? 'the target is out of memory already: raise maxmemory or free it' : 'see the error' });
    } else {
      items.push({
        group: 'target',
        id: 'target.write-rate',
        verdict: 'ok',
        detail: `${measured.written} throwaway SETs (${CHECK_PREFIX}*, deleted) at ${Math.round(measured.perSec)}/s from one connection`,
        data: { writesPerSec: Math.round(measured.perSec), bytesPerKey: measured.bytesPerKey },
      });
    }
    const ok = measured !== null && !('error' in measured);
    return {
      items,
      facts: {
        reachable: true,
        version,
        writesPerSec: ok ? measured.perSec : null,
        bytesPerKey: ok ? measured.bytesPerKey : null,
        usedMemory: infoNumber(memory, 'used_memory'),
        maxMemory: infoNumber(memory, 'maxmemory'),
        maxMemoryPolicy: memory.get('maxmemory_policy') ?? null,
      },
    };
  } finally {
    c.disconnect();
  }
}

async function infoOrEmpty(c: Redis, section: string): Promise<string> {
  try {
    return (await c.call('INFO', section)) as string;
  } catch {
    return '';
  }
}

function versionItem(version: string | null): CheckItem {
  if (version === null) return { group: 'target', id: 'target.version', verdict: 'warn', detail: 'INFO server refused or without redis_version', fix: 'allow +info to the ACL user (the sink reads INFO server once)' };
  const data = { version };
  if (!atLeast(version, [6, 2])) {
    return {
      group: 'target',
      id: 'target.version',
      verdict: 'warn',
      detail: `Redis ${version}: before 6.2 there is no SET … PXAT (expiries go through scripts) nor SMISMEMBER/ZMSCORE (verify reads member by member, slower)`,
      fix: 'Redis 6.2 or later is faster; 7.0+ for ACL DRYRUN and XSETID ENTRIESADDED',
      data,
    };
  }
  return { group: 'target', id: 'target.version', verdict: 'ok', detail: `Redis ${version}${atLeast(version, [7, 0]) ? '' : ' (7.0 adds ACL DRYRUN and XSETID ENTRIESADDED)'}`, data };
}

async function clusterItems(c: Redis, wantCluster: boolean, askedHost: string): Promise<CheckItem[]> {
  const enabled = infoFields(await infoOrEmpty(c, 'cluster')).get('cluster_enabled') === '1';
  if (enabled !== wantCluster) {
    return [
      enabled
        ? { group: 'target', id: 'target.cluster', verdict: 'fail', detail: 'the target is a Redis Cluster node but target-redis-cluster is no', fix: 'set target-redis-cluster : yes (or the seed nodes)' }
        : { group: 'target', id: 'target.cluster', verdict: 'fail', detail: 'target-redis-cluster is set but the target is not in cluster mode', fix: 'point target-redis-cluster at a cluster, or set it to no' },
    ];
  }
  if (!enabled) return [];
  try {
    const map = parseClusterSlots(await c.call('CLUSTER', 'SLOTS'), askedHost);
    return [{ group: 'target', id: 'target.cluster', verdict: 'ok', detail: `all 16384 slots served by ${new Set(map).size} masters` }];
  } catch (e) {
    return [{ group: 'target', id: 'target.cluster', verdict: 'fail', detail: `CLUSTER SLOTS: ${(e as Error).message}`, fix: 'assign every slot to a master (redis-cli --cluster fix) and allow +cluster|slots to the ACL user' }];
  }
}

/**
 * Every command the sink sends (README "ACL user"), with arguments on our own keys. `ACL DRYRUN`
 * (Redis 7+) asks without running anything; when the user may not use it (it is an admin
 * command) or Redis is older, each command is run for real on `pika-migrate:check:acl*` keys and
 * a NOPERM reply is the answer (any other error means it was allowed). FLUSHDB cannot be run to
 * find out: without DRYRUN it is reported as unverified.
 */
async function aclItem(c: Redis, config: Config, routes: readonly DbRoute[], version: string | null): Promise<CheckItem> {
  const v = config.values;
  if (version !== null && !atLeast(version, [6, 0])) return { group: 'target', id: 'target.acl', verdict: 'ok', detail: `Redis ${version} has no ACL users; the password is all` };
  const user = v['target-redis-user'] || 'default';
  // One hash tag: the multi-key DEL stays in one slot on a cluster.
  const k = `${CHECK_PREFIX}{acl}`;
  const cmds: string[][] = [
    ['PING'],
    ['CLIENT', 'SETNAME', 'pika-migrate-check'],
    ['INFO', 'server'],
    ['SCRIPT', 'LOAD', 'return 1'],
    ['EVALSHA', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', '0'],
    ['GET', k],
    ['EXISTS', k],
    ['TYPE', k],
    ['SCAN', '0', 'MATCH', `${k}*`, 'COUNT', '1'],
    ['HEXISTS', `${k}:h`, 'f'],
    ['HGETALL', `${k}:h`],
    ['SET', k, 'v'],
    ['HSET', `${k}:h`, 'f', 'v'],
    ['RPUSH', `${k}:l`, 'v'],
    ['SADD', `${k}:s`, 'v'],
    ['ZADD', `${k}:z`, '1', 'v'],
    ['PEXPIREAT', k, '1'],
    ['DEL', k, `${k}:h`, `${k}:l`, `${k}:s`, `${k}:z`],
  ];
  if (routes.some((r) => r.target !== 0)) cmds.push(['SELECT', String(routes.find((r) => r.target !== 0)!.target)], ['SELECT', String(routes[0].target)]);
  if (v['target-flush-on-full-sync']) cmds.push(['FLUSHDB']);
  if (v['target-redis-wait-replicas'] > 0) cmds.push(['WAIT', '0', '1']);
  // Optional: without them batches of overwrites (strings, hash fields, set and zset members) go through the batch script (sink/native-batch.ts).
  const optional = new Set(['multi', 'exec', 'client info', 'client kill']);
  if (version === null || atLeast(version, [6, 2])) cmds.push(['MULTI'], ['EXEC'], ['CLIENT', 'INFO'], ['CLIENT', 'KILL', 'ID', '0', 'ADDR', '0.0.0.0:0']);
  const denied: string[] = [];
  const unverified: string[] = [];
  let how = 'ACL DRYRUN';
  let dryRun = version !== null && atLeast(version, [7, 0]);
  for (const cmd of cmds) {
    const label = cmd[0] === 'CLIENT' || cmd[0] === 'SCRIPT' ? `${cmd[0]} ${cmd[1]}`.toLowerCase() : cmd[0].toLowerCase();
    if (dryRun) {
      try {
        const r = String(await c.call('ACL', 'DRYRUN', user, ...cmd));
        if (r !== 'OK') denied.push(`${label} (${r})`);
        continue;
      } catch {
        // This user may not run ACL DRYRUN: find out by running the commands themselves.
        dryRun = false;
        how = 'running each command on pika-migrate:check:{acl}* keys';
      }
    }
    if (cmd[0] === 'FLUSHDB') {
      unverified.push('flushdb');
      continue;
    }
    try {
      await c.call(cmd[0], ...cmd.slice(1));
    } catch (e) {
      if (/NOPERM/.test((e as Error).message)) denied.push(label);
    }
  }
  if (!dryRun) how = 'running each command on pika-migrate:check:{acl}* keys';
  const slower = denied.filter((d) => optional.has(d.split(' (')[0]));
  denied.splice(0, denied.length, ...denied.filter((d) => !optional.has(d.split(' (')[0])));
  const data = { user, method: how, denied, unverified, slower };
  if (denied.length > 0) {
    return {
      group: 'target',
      id: 'target.acl',
      verdict: 'fail',
      detail: `user ${user} may not run: ${denied.join(', ')} (${how})`,
      fix: 'ACL SETUSER pika-migrate on >PASSWORD resetkeys ~* resetchannels -@all +@write +get +exists +type +scan +hexists +hgetall +ping +info +select +evalsha +script|load +client|setname +multi +exec +client|info +client|kill (README "ACL user")',
      data,
    };
  }
  if (unverified.length > 0) {
    return { group: 'target', id: 'target.acl', verdict: 'warn', detail: `user ${user} may run every command tried (${how}); not verifiable without ACL DRYRUN: ${unverified.join(', ')}`, fix: `check that ${user} has +flushdb (target-flush-on-full-sync)`, data };
  }
  if (slower.length > 0) {
    return {
      group: 'target',
      id: 'target.acl',
      verdict: 'warn',
      detail: `user ${user} may run every command the sink needs, but not ${slower.join(', ')}: batches of overwrites (strings, hash fields, set and zset members) go through the batch script, which costs Redis about a third more CPU (${how})`,
      fix: `ACL SETUSER ${user} +multi +exec +client|info +client|kill`,
      data,
    };
  }
  return { group: 'target', id: 'target.acl', verdict: 'ok', detail: `user ${user} may run every command the sink sends (${how})`, data };
}

/** Keys already in the Redis DBs the master's DBs go to, read from INFO keyspace. */
async function existingKeyItems(c: Redis, config: Config, routes: readonly DbRoute[], cluster: boolean): Promise<CheckItem[]> {
  const v = config.values;
  const text = await infoOrEmpty(c, 'keyspace');
  const counts = routes.map((r) => ({ db: r.target, keys: Number(new RegExp(`^db${r.target}:keys=(\\d+)`, 'm').exec(text)?.[1] ?? 0) }));
  const total = counts.reduce((a, b) => a + b.keys, 0);
  const where = counts.filter((x) => x.keys > 0).map((x) => `db${x.db}: ${x.keys}`).join(', ');
  const data = { counts, conflictPolicy: v['conflict-policy'], flush: v['target-flush-on-full-sync'] };
  const seedNote = cluster ? ' (on the seed node only)' : '';
  if (total === 0) return [{ group: 'target', id: 'target.existing-keys', verdict: 'ok', detail: `the target DBs are empty${seedNote}`, data }];
  if (v['target-flush-on-full-sync']) {
    return [{ group: 'target', id: 'target.existing-keys', verdict: 'warn', detail: `${where}${seedNote}: target-flush-on-full-sync : yes will FLUSHDB them at the full sync`, fix: 'make sure nothing else lives in those DBs', data }];
  }
  const policy = v['conflict-policy'];
  const effect: Record<string, string> = {
    merge: 'merge writes into same-named keys (a hash gains fields, a list grows)',
    replace: 'replace deletes each same-named key first',
    skip: 'skip keeps same-named keys as they are and reports them',
    fail: 'fail stops the load at the first same-named key (exit 1)',
  };
  return [
    {
      group: 'target',
      id: 'target.existing-keys',
      verdict: policy === 'fail' ? 'fail' : 'warn',
      detail: `${where}${seedNote} keys already there; conflict-policy : ${policy}: ${effect[policy]}`,
      fix: 'empty the target DBs, or set target-flush-on-full-sync : yes, or choose conflict-policy deliberately (merge, replace, skip, fail)',
      data,
    },
  ];
}

type Measured = { written: number; perSec: number; bytesPerKey: number } | { written: number; error: string };

/**
 * `n` SETs of 64-byte values in pipelined batches of 100, then deleted: a floor for the load's
 * key rate (the sink uses several connections and packs batches into one script). On a cluster
 * the keys share a hash tag of a slot the seed serves, so the seed takes them all.
 */
async function measureWrites(c: Redis, db: number, cluster: boolean, n: number): Promise<Measured> {
  if (db !== 0) await c.call('SELECT', String(db));
  let tag = String(process.pid);
  if (cluster) {
    const slots = (await c.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, string?]]>;
    const myId = String(await c.call('CLUSTER', 'MYID'));
    const own = slots.find((r) => r[2][2] === myId) ?? slots[0];
    tag = `{${slotTag(Number(own[0]))}}`;
  }
  const value = randomBytes(32).toString('hex');
  const before = infoNumber(infoFields((await c.call('INFO', 'memory')) as string), 'used_memory');
  let written = 0;
  const started = process.hrtime.bigint();
  const keys: string[] = [];
  let error: string | null = null;
  try {
    while (written < n) {
      const p = c.pipeline();
      const batch = Math.min(100, n - written);
      const batchKeys: string[] = [];
      for (let i = 0; i < batch; i++) {
        const key = `${CHECK_PREFIX}${tag}:${written + i}`;
        batchKeys.push(key);
        p.set(key, value);
      }
      const replies = (await p.exec()) ?? [];
      // Only what was written is deleted (a refused SET wrote nothing, and may be in another slot).
      batchKeys.forEach((k, i) => {
        if (replies[i]?.[0] === null) keys.push(k);
      });
      const failed = replies.find(([e]) => e !== null);
      if (failed) {
        error = (failed[0] as Error).message;
        break;
      }
      written += batch;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const after = infoNumber(infoFields((await c.call('INFO', 'memory')) as string), 'used_memory');
    if (error !== null) return { written, error };
    const bytesPerKey = before !== null && after !== null && written > 0 ? Math.max(0, Math.round((after - before) / written)) : 0;
    return { written, perSec: written / Math.max(seconds, 1e-6), bytesPerKey };
  } finally {
    for (let i = 0; i < keys.length; i += 500) await c.call('DEL', ...keys.slice(i, i + 500));
    if (db !== 0) await c.call('SELECT', '0');
  }
}
