import type { BinlogPosition } from '../core/binlog.js';
import { shownValue } from '../core/secrets.js';

/** Per-DB link state in the vocabulary of Pika 3.5.5+'s `repl_connect_status`. */
export type PikaLinkState =
  | 'connected'
  | 'syncing_full'
  | 'try_to_incr_sync'
  | 'try_to_full_sync'
  | 'connecting'
  | 'no_connect'
  | 'error';

/** The same states as older Pika spells them in `db_repl_state:(db0:…)`. */
const legacyState: Record<PikaLinkState, string> = {
  connected: 'Connected',
  syncing_full: 'WaitDBSync',
  try_to_incr_sync: 'TryConnect',
  try_to_full_sync: 'TryDBSync',
  connecting: 'WaitReply',
  no_connect: 'NoConnect',
  error: 'Error',
};

export type Lines = ReadonlyArray<readonly [string, string | number]>;

export interface ReplicationInfo {
  readonly master: { host: string; port: number } | null;
  readonly replicationId: string;
  readonly dbs: ReadonlyArray<{
    readonly db: number;
    readonly state: PikaLinkState;
    /** Last binlog position whose commands Redis acknowledged (what a Pika replica calls its binlog_offset). */
    readonly applied: BinlogPosition | null;
  }>;
  readonly fullSyncRunning: boolean;
  /** Our own fields (documented in the README), appended after Pika's. */
  readonly extra: Lines;
}

/** Key counts of one type, as Pika's `Keyspace` section prints them. */
export interface KeyspaceCounts {
  readonly keys: number;
  readonly expires: number;
  readonly invalidKeys: number;
}

export interface KeyspaceInfo {
  /** When the counts were taken (`# Time:` line, `YYYY-MM-DD HH:MM:SS` like Pika). */
  readonly time: string;
  /** How long counting took, in seconds. */
  readonly durationSeconds: number;
  readonly dbs: ReadonlyArray<{
    readonly db: number;
    readonly strings: KeyspaceCounts;
    readonly hashes: KeyspaceCounts;
    readonly lists: KeyspaceCounts;
    readonly zsets: KeyspaceCounts;
    readonly sets: KeyspaceCounts;
  }>;
}

export interface InfoData {
  readonly server: Lines;
  readonly data: Lines;
  readonly clients: Lines;
  readonly stats: Lines;
  /** Commands by upper-case name, as Pika's `Command_Exec_Count` (names with a zero count are left out). */
  readonly commandExecCount: Lines;
  readonly cpu: Lines;
  readonly replication: ReplicationInfo;
  readonly keyspace: KeyspaceInfo;
  /** pika-migrate's own section: phase, senders, queues, errors. */
  readonly migrate: Lines;
}

type Section = 'server' | 'data' | 'clients' | 'stats' | 'command_exec_count' | 'cpu' | 'replication' | 'keyspace' | 'migrate';

/** Pika's `INFO` (no argument) order, then ours. */
const DEFAULT_SECTIONS: readonly Section[] = ['server', 'data', 'clients', 'stats', 'cpu', 'replication', 'keyspace', 'migrate'];
/**
 * Pika's `INFO all` order (3.5.x), then ours. Pika also prints CommandStats, Cache and RocksDB
 * here; they describe a storage engine we do not have, and pika_exporter reads them only when
 * present.
 */
const ALL_SECTIONS: readonly Section[] = ['server', 'data', 'clients', 'stats', 'command_exec_count', 'cpu', 'replication', 'keyspace', 'migrate'];

/**
 * Renders INFO the way Pika does (sections `# Name`, `key:value` lines, CRLF, an empty line
 * between sections), so scripts and pika_exporter that parse a Pika replica's INFO keep working.
 * No argument gives Pika's default sections, `all`/`everything` adds Command_Exec_Count; the
 * section names are Pika's (case-insensitive); an unknown section gives an empty reply, like Pika.
 */
export function renderInfo(data: InfoData, section?: string): string {
  const want = (section ?? 'default').toLowerCase();
  const chosen =
    want === 'default' ? DEFAULT_SECTIONS : want === 'all' || want === 'everything' ? ALL_SECTIONS : ALL_SECTIONS.filter((s) => s === want);
  return chosen.map((s) => renderSection(data, s)).join('\r\n');
}

function renderSection(data: InfoData, s: Section): string {
  switch (s) {
    case 'server':
      return block('# Server', data.server);
    case 'data':
      return block('# Data', data.data);
    case 'clients':
      return block('# Clients', data.clients);
    case 'stats':
      return block('# Stats', data.stats);
    case 'command_exec_count':
      return block('# Command_Exec_Count', data.commandExecCount);
    case 'cpu':
      return block('# CPU', data.cpu);
    case 'replication':
      return renderReplication(data.replication);
    case 'keyspace':
      return renderKeyspace(data.keyspace);
    case 'migrate':
      return block('# Migrate', data.migrate);
  }
}

function block(title: string, lines: Lines): string {
  return [title, ...lines.map(([k, v]) => `${k}:${shownValue(k, String(v))}`)].join('\r\n') + '\r\n';
}

function renderReplication(r: ReplicationInfo): string {
  const lines: string[] = [];
  // The space form `db0 binlog_offset=` of Pika 3.2.0–3.5.2: pika_exporter's rule for >= 3.2.0
  // matches only it (3.5.3+ print `db0:binlog_offset=`, which that rule misses).
  const offsets = r.dbs.map((d) => `db${d.db} binlog_offset=${d.applied?.filenum ?? 0} ${d.applied?.offset ?? 0},safety_purge=none`);
  if (r.master === null) {
    // Pika shows a standalone instance as a master without replicas.
    lines.push('# Replication(MASTER)', 'role:master', `ReplicationID:${r.replicationId}`, 'connected_slaves:0', ...offsets);
  } else {
    const linkUp = r.dbs.length > 0 && r.dbs.every((d) => d.state === 'connected');
    lines.push(
      '# Replication(SLAVE)',
      'role:slave',
      `ReplicationID:${r.replicationId}`,
      `master_host:${r.master.host}`,
      `master_port:${r.master.port}`,
      `master_link_status:${linkUp ? 'up' : 'down'}`,
      'repl_connect_status:',
      ...r.dbs.map((d) => `db${d.db}:${d.state}`),
      'slave_priority:100',
      'slave_read_only:1',
    );
    const notConnected = r.dbs.filter((d) => d.state !== 'connected');
    if (notConnected.length > 0) {
      lines.push(`db_repl_state:${notConnected.map((d) => `(db${d.db}:${legacyState[d.state]})`).join(',')}`);
    }
    lines.push(`is_eligible_for_master_election:${r.fullSyncRunning ? 'false' : 'true'}`, ...offsets);
  }
  for (const [k, v] of r.extra) lines.push(`${k}:${shownValue(k, String(v))}`);
  return lines.join('\r\n') + '\r\n';
}

function renderKeyspace(k: KeyspaceInfo): string {
  const lines = ['# Keyspace', `# Time:${k.time}`, `# Duration: ${k.durationSeconds}s`];
  const one = (db: number, name: string, c: KeyspaceCounts) => `db${db} ${name}_keys=${c.keys}, expires=${c.expires}, invalid_keys=${c.invalidKeys}`;
  for (const d of k.dbs) {
    lines.push(one(d.db, 'Strings', d.strings), one(d.db, 'Hashes', d.hashes), one(d.db, 'Lists', d.lists), one(d.db, 'Zsets', d.zsets), one(d.db, 'Sets', d.sets));
  }
  return lines.join('\r\n') + '\r\n';
}
