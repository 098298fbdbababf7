import type { BinlogPosition } from '../core/binlog.js';

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
  readonly extra: ReadonlyArray<readonly [string, string | number]>;
}

export interface InfoData {
  readonly server: ReadonlyArray<readonly [string, string | number]>;
  readonly replication: ReplicationInfo;
  /** pika-migrate's own section: phase, senders, queues, errors. */
  readonly migrate: ReadonlyArray<readonly [string, string | number]>;
}

const sections = ['server', 'replication', 'migrate'] as const;

/**
 * Renders INFO the way Pika does (sections `# Name`, `key:value` lines, CRLF), so scripts and
 * pika_exporter that parse a Pika replica's INFO keep working. `all`/`default`/`everything`
 * give every section; an unknown section gives an empty reply, like Redis.
 */
export function renderInfo(data: InfoData, section?: string): string {
  const want = (section ?? 'default').toLowerCase();
  const chosen = want === 'all' || want === 'default' || want === 'everything' ? sections : sections.filter((s) => s === want);
  const blocks: string[] = [];
  for (const s of chosen) {
    if (s === 'server') blocks.push(block('# Server', data.server));
    else if (s === 'replication') blocks.push(renderReplication(data.replication));
    else blocks.push(block('# Migrate', data.migrate));
  }
  return blocks.join('\r\n');
}

function block(title: string, lines: ReadonlyArray<readonly [string, string | number]>): string {
  return [title, ...lines.map(([k, v]) => `${k}:${v}`)].join('\r\n') + '\r\n';
}

function renderReplication(r: ReplicationInfo): string {
  const lines: string[] = [];
  const offsets = r.dbs.map((d) => `db${d.db}:binlog_offset=${d.applied?.filenum ?? 0} ${d.applied?.offset ?? 0},safety_purge=none`);
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
  for (const [k, v] of r.extra) lines.push(`${k}:${v}`);
  return lines.join('\r\n') + '\r\n';
}
