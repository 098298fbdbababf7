import { CONFLICT_POLICIES, type ConflictPolicy } from '../convert/records.js';
import type { DataType } from '../core/record.js';
import { parseKeyRenames, type KeyRenameRule } from '../convert/rename.js';
import { bool, clusterSeeds, dbPairs, hostPort, hostPortList, int, nonEmpty, oneOf, permutationOf, port, str, subsetOf, words, type HostPort, type ValueParser } from './values.js';

/**
 * Every conf key the daemon reads, with its parser and default, in one place. pika.conf.example
 * documents each of them (a test keeps the two in step). Keys not listed here are Pika's own and are
 * accepted as they are, so an operator's existing pika.conf loads unchanged.
 */
export const schema = {
  // Admin port (Redis protocol). 9222 like the C++ pika-migrate, so it can run beside a Pika on 9221.
  port: { parse: port, default: 9222 },
  bind: { parse: nonEmpty('bind'), default: '0.0.0.0' },
  'network-interface': { parse: str, default: '' },
  requirepass: { parse: str, default: '' },
  // As in Redis: with no requirepass, only loopback clients are served (anyone reaching the port
  // could SLAVEOF the daemon to their own master, CONFIG SET or SHUTDOWN it).
  'protected-mode': { parse: bool, default: true },
  // Pika's own key, here for the admin port. Pika's default is 20000; ours is lower because each
  // connection may hold up to 128 KiB before AUTH and the port serves operators and monitoring.
  maxclients: { parse: int(1, 1_000_000), default: 1000 },
  masterauth: { parse: str, default: '' },
  // An ACL user (Pika 3.5.3+) for the one read on the master's client port (INFO server); empty:
  // AUTH masterauth. The replication handshake itself knows no user and always sends masterauth.
  'master-client-user': { parse: str, default: '' },
  'master-client-pwd': { parse: str, default: '' },
  'log-path': { parse: str, default: './log/' },
  'log-level': { parse: oneOf('trace', 'debug', 'info', 'warn', 'error', 'fatal'), default: 'info' },
  'log-format': { parse: oneOf('auto', 'json', 'text'), default: 'auto' },
  'db-sync-path': { parse: nonEmpty('db-sync-path'), default: './dbsync/' },
  slaveof: { parse: hostPort, default: null as HostPort | null },
  'target-redis-host': { parse: nonEmpty('target-redis-host'), default: '127.0.0.1' },
  'target-redis-port': { parse: port, default: 6379 },
  'target-redis-pwd': { parse: str, default: '' },
  'target-redis-user': { parse: str, default: '' },
  'target-redis-db': { parse: int(0, 65535), default: 0 },
  // Pika's own key: the master must have exactly this many DBs (db0…dbN-1), and every one is followed.
  databases: { parse: int(1, 65535), default: 1 },
  // Target Redis DB per master DB, `src:dst` pairs; unlisted: db0 → target-redis-db, dbN → N.
  'db-map': { parse: dbPairs, default: [] as Array<[number, number]> },
  // A Redis Cluster target: yes (seed = target-redis-host:port) or seed nodes ip:port,ip:port.
  'target-redis-cluster': { parse: clusterSeeds, default: null as HostPort[] | null },
  // TLS to the target (and to its sentinels). The files are read once, at start; verify checks the
  // server's certificate against the CA (or the system's CAs) and its name against the servername.
  'target-redis-tls': { parse: bool, default: false },
  'target-redis-tls-ca-file': { parse: str, default: '' },
  'target-redis-tls-cert-file': { parse: str, default: '' },
  'target-redis-tls-key-file': { parse: str, default: '' },
  'target-redis-tls-servername': { parse: str, default: '' },
  'target-redis-tls-verify': { parse: bool, default: true },
  // A Sentinel-managed target: the sentinels are asked for the master's address (target-redis-host
  // and -port are then unused), again on every reconnect, so the senders follow a failover.
  'target-redis-sentinels': { parse: hostPortList, default: [] as HostPort[] },
  'target-redis-sentinel-master': { parse: str, default: '' },
  'target-redis-sentinel-user': { parse: str, default: '' },
  'target-redis-sentinel-pwd': { parse: str, default: '' },
  // Acknowledge a batch (to the master, in the checkpoint) only once this many replicas of the
  // target have it (WAIT): a failover to one of them then loses nothing. 0: on the target's reply.
  'target-redis-wait-replicas': { parse: int(0, 64), default: 0 },
  'sync-batch-num': { parse: int(1, 100_000), default: 100 },
  'redis-sender-num': { parse: int(1, 256), default: 10 },
  // Commands and argument bytes per second sent to the target (0 = no limit); CONFIG SET on the
  // admin port changes them at run time.
  'target-max-ops': { parse: int(0, 100_000_000), default: 0 },
  'target-max-bytes': { parse: int(0, Number.MAX_SAFE_INTEGER), default: 0 },
  // What happens to a snapshot key that already exists on the target: merge into it, replace it,
  // skip it (kept and reported), or fail (stop the load).
  'conflict-policy': { parse: oneOf(...CONFLICT_POLICIES), default: 'merge' as ConflictPolicy },
  // A name Pika 3.x holds in several types is copied as the first of them in this order.
  'type-order': { parse: permutationOf<DataType>('string', 'hash', 'list', 'set', 'zset'), default: ['string', 'hash', 'list', 'set', 'zset'] as DataType[] },
  // Which keys are copied (snapshot and binlog alike): Redis globs, whitespace-separated. No
  // filter-keys: every key; filter-exclude-keys wins over it; filter-types: the types copied.
  'filter-keys': { parse: words, default: [] as string[] },
  'filter-exclude-keys': { parse: words, default: [] as string[] },
  'filter-types': { parse: subsetOf<DataType>('string', 'hash', 'list', 'set', 'zset', 'stream'), default: ['string', 'hash', 'list', 'set', 'zset'] as DataType[] },
  // Key renames by prefix, after the filters, for snapshot and binlog alike: `old=>new` pairs,
  // whitespace-separated, backslash escapes; the longest matching prefix wins.
  'key-rename-prefix': { parse: parseKeyRenames, default: [] as KeyRenameRule[] },
  // While a snapshot loads, the binlog is spooled to db-sync-path; past this many bytes acks stop
  // (the master keeps the binlog) until the load is done. 0 = no limit but the disk's.
  'spool-max-bytes': { parse: int(0, Number.MAX_SAFE_INTEGER), default: 8 * 1024 * 1024 * 1024 },
  // FLUSHDB the target before a full sync loads (for a second full sync over the first one's keys).
  'target-flush-on-full-sync': { parse: bool, default: false },
  // Prometheus metrics on http://<bind>:<metrics-port>/metrics; 0 = off.
  'metrics-port': { parse: int(0, 65535), default: 0 },
  daemonize: { parse: bool, default: false },
} satisfies Record<string, { parse: ValueParser<unknown>; default: unknown }>;

export type ConfKey = keyof typeof schema;

/** Keys that CONFIG SET may change while the daemon runs. */
export const RUNTIME_KEYS: ReadonlySet<string> = new Set(['target-max-ops', 'target-max-bytes']);
export type ConfValues = { -readonly [K in ConfKey]: ReturnType<(typeof schema)[K]['parse']> };

export function isKnownKey(key: string): key is ConfKey {
  return Object.prototype.hasOwnProperty.call(schema, key);
}
