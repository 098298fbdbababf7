import { arch, machine, release, type } from 'node:os';
import type { InfoData, KeyspaceCounts } from '../admin/info.js';
import type { SinkStats } from '../sink/pool.js';
import type { Migration } from './migration.js';

type MigrationStatus = ReturnType<Migration['status']>;

/**
 * The Pika version we claim in `pika_version`. Tools pick their INFO parser by it: pika_exporter
 * reads every 3.3.3+ the same way except for the binlog line, which its rule for 3.2.0+ finds only
 * in the space form `db0 binlog_offset=` that Pika printed up to 3.5.2. So we claim 3.5.2 and print
 * that form; the 3.5.5 lines we add (repl_connect_status, is_eligible_for_master_election) are
 * ignored by those rules. Our own version is `pika_migrate_version`.
 */
export const CLAIMED_PIKA_VERSION = '3.5.2';

/** What the Pika-shaped sections are made of; the daemon fills it at each INFO. */
export interface PikaInfoInput {
  readonly pikaMigrateVersion: string;
  readonly runId: string;
  readonly startedAt: number;
  readonly configFile: string;
  readonly port: number;
  readonly serverId: string;
  readonly senders: number;
  readonly phase: string;
  readonly migration: MigrationStatus | null;
  readonly sink: SinkStats;
  readonly admin: { readonly connections: number; readonly connectionsReceived: number; readonly bytesIn: number; readonly bytesOut: number };
  /** Per-second rates of the sink's acknowledged commands and of bytes in and out. */
  readonly rates: { readonly ops: number; readonly adminIn: number; readonly adminOut: number; readonly replIn: number };
  readonly commandCounts: ReadonlyMap<string, number>;
  readonly dbSyncBytes: number;
  readonly logBytes: number;
}

export type PikaSections = Omit<InfoData, 'replication' | 'migrate'>;

/**
 * INFO's Server, Data, Clients, Stats, Command_Exec_Count, CPU and Keyspace in Pika 3.5's field
 * order. Fields we can measure are true (uptime, admin-port clients and bytes, process memory and
 * CPU, the sink's commands, bytes from the master, keys loaded); fields about Pika's storage
 * engine, which we do not have, are constants (README "Observability" lists which are which).
 */
export function pikaSections(i: PikaInfoInput): PikaSections {
  const now = Date.now();
  const m = i.migration;
  const replIn = replicationBytesIn(m);
  const mem = process.memoryUsage().rss;
  const cpu = process.cpuUsage();
  const fatal = i.phase === 'error';
  return {
    server: [
      ['pika_version', CLAIMED_PIKA_VERSION],
      ['pika_git_sha', ''],
      ['pika_build_compile_date', ''],
      ['os', `${type()} ${release()} ${machine()}`],
      ['arch_bits', arch().endsWith('64') ? 64 : 32],
      ['process_id', process.pid],
      ['tcp_port', i.port],
      // One event loop does our work; the senders to Redis play the part of Pika's sync threads.
      ['thread_num', 1],
      ['sync_thread_num', i.senders],
      ['uptime_in_seconds', Math.floor((now - i.startedAt) / 1000)],
      ['uptime_in_days', Math.floor(now / 86_400_000) - Math.floor(i.startedAt / 86_400_000) + 1],
      ['config_file', i.configFile],
      ['server_id', i.serverId],
      ['run_id', i.runId],
      ['pika_migrate_version', i.pikaMigrateVersion],
      ['node_version', process.version],
    ],
    data: [
      ['db_size', i.dbSyncBytes],
      ['db_size_human', `${Math.floor(i.dbSyncBytes / 2 ** 20)}M`],
      ['log_size', i.logBytes],
      ['log_size_human', `${Math.floor(i.logBytes / 2 ** 20)}M`],
      ['compression', 'none'],
      ['used_memory', mem],
      ['used_memory_human', `${Math.floor(mem / 2 ** 20)}M`],
      ['db_memtable_usage', 0],
      ['db_tablereader_usage', 0],
      ['db_fatal', fatal ? 1 : 0],
      ['db_fatal_msg', fatal ? oneLine(m?.link.lastError ?? 'error') : 'nullptr'],
    ],
    clients: [['connected_clients', i.admin.connections]],
    stats: [
      ['total_connections_received', i.admin.connectionsReceived],
      ['instantaneous_ops_per_sec', Math.round(i.rates.ops)],
      ['total_commands_processed', i.sink.total.acked],
      ['total_net_input_bytes', i.admin.bytesIn + replIn],
      ['total_net_output_bytes', i.admin.bytesOut],
      ['total_net_repl_input_bytes', replIn],
      ['total_net_repl_output_bytes', 0],
      ['instantaneous_input_kbps', kbps(i.rates.adminIn + i.rates.replIn)],
      ['instantaneous_output_kbps', kbps(i.rates.adminOut)],
      ['instantaneous_input_repl_kbps', kbps(i.rates.replIn)],
      ['instantaneous_output_repl_kbps', kbps(0)],
      ['is_bgsaving', 'No'],
      ['is_scaning_keyspace', 'No'],
      ['is_compact', 'No'],
      ['compact_cron', ''],
      ['compact_interval', ''],
      ['is_slots_reloading', 'No, , 0'],
      ['is_slots_cleaningup', 'No, , 0'],
      ['is_slots_migrating', 'No, , 0'],
    ],
    commandExecCount: [...i.commandCounts].filter(([, n]) => n > 0).map(([name, n]) => [name.toUpperCase(), n] as const),
    cpu: [
      ['used_cpu_sys', (cpu.system / 1e6).toFixed(2)],
      ['used_cpu_user', (cpu.user / 1e6).toFixed(2)],
      // Node has no getrusage(RUSAGE_CHILDREN); the only child is the 3.2–3.4 rsync daemon.
      ['used_cpu_sys_children', '0.00'],
      ['used_cpu_user_children', '0.00'],
    ],
    keyspace: keyspaceOf(m, i.startedAt),
  };
}

/** Bytes from the master: the replication link's and the snapshot transfer's. */
export function replicationBytesIn(m: MigrationStatus | null): number {
  return m === null ? 0 : m.link.bytesReceived + (m.link.snapshot?.bytesReceived ?? 0);
}

/** What the last snapshot load wrote, per type: Redis may hold more or fewer keys since. */
function keyspaceOf(m: MigrationStatus | null, startedAt: number): InfoData['keyspace'] {
  const load = m?.lastLoad ?? null;
  const c = (t: string): KeyspaceCounts => ({ keys: load?.counts[t] ?? 0, expires: 0, invalidKeys: 0 });
  return {
    time: pikaTime(load?.endedAt ?? startedAt),
    durationSeconds: load === null ? 0 : Math.round(load.elapsedMs / 1000),
    dbs: [{ db: 0, strings: c('string'), hashes: c('hash'), lists: c('list'), zsets: c('zset'), sets: c('set') }],
  };
}

function kbps(bytesPerSecond: number): string {
  return (bytesPerSecond / 1024).toFixed(2);
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

/** `YYYY-MM-DD HH:MM:SS` in local time, as Pika's Keyspace `# Time:` line. */
function pikaTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

