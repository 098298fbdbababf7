import type { BinlogPosition } from '../core/binlog.js';
import type { MetricsSnapshot } from '../ops/metrics.js';
import type { SinkStats } from '../sink/sink.js';
import type { Migration } from './migration.js';

type Lines = Array<readonly [string, string | number]>;
type MigrationStatus = ReturnType<Migration['status']>;

const offset = (p: BinlogPosition | null): string => (p === null ? '' : `${p.filenum} ${p.offset}`);

/**
 * Our fields after Pika's in `INFO replication`: the master's offset, what was received, acked
 * and applied, and the lag in entries, bytes (same binlog file only: Pika's files have no common
 * byte axis) and seconds since the master wrote the oldest entry not yet in Redis. Offsets are
 * the first DB's; with several DBs (each has its own binlog) `dbN_*` lines give each DB's, and the
 * lag is the total in entries and the largest in seconds.
 */
export function replicationExtra(ms: readonly MigrationStatus[]): Lines {
  const m = ms[0];
  if (m === undefined) return [];
  const { link } = m;
  const lines: Lines = [
    ['master_family', link.family ?? ''],
    ['master_version', link.masterVersion ?? ''],
    ['master_run_id', link.runId ?? ''],
    ['master_binlog_offset', offset(link.masterOffset)],
    ['received_binlog_offset', offset(link.receivedOffset)],
    ['acked_binlog_offset', offset(link.ackedOffset)],
    ['applied_binlog_offset', offset(m.binlog.applied)],
    ['lag_entries', totalLag(ms)],
    ['lag_bytes', ms.length === 1 ? (lagBytesOf(link.masterOffset, m.binlog.applied) ?? '') : ''],
    ['lag_seconds', Math.max(...ms.map((x) => x.binlog.lagSeconds))],
    ['last_error', link.lastError ?? ''],
  ];
  if (ms.length > 1) {
    for (const x of ms) {
      const db = `db${x.db}`;
      lines.push(
        [`${db}_master_binlog_offset`, offset(x.link.masterOffset)],
        [`${db}_applied_binlog_offset`, offset(x.binlog.applied)],
        [`${db}_lag_entries`, x.binlog.lagEntries],
        [`${db}_lag_bytes`, lagBytesOf(x.link.masterOffset, x.binlog.applied) ?? ''],
        [`${db}_lag_seconds`, x.binlog.lagSeconds],
      );
    }
  }
  return lines;
}

const totalLag = (ms: readonly MigrationStatus[]): number => ms.reduce((n, x) => n + x.binlog.lagEntries, 0);

function lagBytesOf(master: BinlogPosition | null, applied: BinlogPosition | null): number | null {
  return master !== null && applied !== null && master.filenum === applied.filenum ? Math.max(0, master.offset - applied.offset) : null;
}

/** The cut-over signal: every DB following the binlog with its link up and nothing pending anywhere. */
function inSync(ms: readonly MigrationStatus[], sink: SinkStats): boolean {
  return ms.length > 0 && ms.every((m) => m.phase === 'incremental' && m.link.linkUp && m.binlog.lagEntries === 0) && sink.total.queued === 0 && sink.total.inFlight === 0;
}

/** The same status for the Prometheus metrics. */
export function metricsOf(phase: string, ms: readonly MigrationStatus[], sink: SinkStats): MetricsSnapshot {
  const m = ms[0] ?? null;
  const load = m?.load?.snapshot().counts ?? {};
  return {
    phase,
    linkUp: ms.length > 0 && ms.every((x) => x.link.linkUp),
    inSync: inSync(ms, sink),
    dbs: ms.map((x) => ({
      db: x.db,
      offsets: { master: x.link.masterOffset, received: x.link.receivedOffset, acked: x.link.ackedOffset, applied: x.binlog.applied },
      lagEntries: x.binlog.lagEntries,
      lagBytes: lagBytesOf(x.link.masterOffset, x.binlog.applied),
      lagSeconds: x.binlog.lagSeconds,
    })),
    load,
    binlogEntries: m?.binlog.entries ?? 0,
    binlogCommands: m?.binlog.commands ?? 0,
    binlogNotes: m?.binlog.notes ?? {},
    canaryDelayMs: m?.binlog.canaryDelayMs ?? null,
    sink,
  };
}

/** `INFO migrate`: phase, snapshot load counts, binlog counts, sink counts. */
export function migrateInfo(phase: string, ms: readonly MigrationStatus[], sink: SinkStats): Lines {
  const lines: Lines = [['phase', phase]];
  const m = ms[0];
  if (ms.length > 1) for (const x of ms) lines.push([`db${x.db}_phase`, x.phase], [`db${x.db}_binlog_entries`, x.binlog.entries]);
  if (m !== undefined) {
    const snap = m.link.snapshot;
    if (snap !== null) {
      lines.push(['snapshot_phase', snap.phase], ['snapshot_files_done', snap.filesDone], ['snapshot_bytes_received', snap.bytesReceived]);
    }
    if (m.load !== null) {
      const p = m.load.snapshot();
      lines.push(['load_keys', p.done], ['load_keys_estimated', p.total ?? ''], ['load_keys_per_sec', Math.round(p.rate)], ['load_eta_seconds', p.etaSeconds ?? '']);
      for (const [k, v] of Object.entries(p.counts)) if (k !== 'keys') lines.push([`load_${k}`, v]);
    }
    if (m.lastLoad !== null) {
      lines.push(['load_type_conflicts', m.lastLoad.typeConflicts], ['load_keys_kept', m.lastLoad.keysKept], ['load_filtered', m.lastLoad.filtered]);
      for (const [reason, n] of Object.entries(m.lastLoad.skipped)) lines.push([`load_skipped_${slug(reason)}`, n]);
    }
    // Every DB's: the gap is per DB (3.5.3–3.5.5 masters).
    for (const x of ms) if (x.streamsNotCopied !== undefined) lines.push([ms.length > 1 ? `db${x.db}_streams_not_copied` : 'streams_not_copied', x.streamsNotCopied ?? 'unknown']);
    if (m.spool !== null) {
      lines.push(['spool_stage', m.spool.stage], ['spool_entries', m.spool.entries], ['spool_bytes', m.spool.bytes], ['spool_replayed', m.spool.replayed], ['spool_durable_offset', offset(m.spool.durable)]);
      lines.push(['spool_acks_stopped', m.spool.stopped ?? 'no']);
      if (m.spool.diskFreeBytes !== null) lines.push(['spool_disk_free_bytes', m.spool.diskFreeBytes]);
    }
    lines.push(['binlog_entries', m.binlog.entries], ['binlog_commands', m.binlog.commands]);
    for (const [code, n] of Object.entries(m.binlog.notes)) lines.push([`binlog_notes_${slug(code)}`, n]);
    lines.push(['in_sync', inSync(ms, sink) ? 'yes' : 'no']);
    if (m.binlog.canaryDelayMs !== null) {
      lines.push(['canary_delay_ms', m.binlog.canaryDelayMs], ['canary_age_seconds', Math.round((Date.now() - (m.binlog.canaryAt ?? 0)) / 1000)]);
    }
  }
  lines.push(...Object.entries(flattenStats({ sink: sink })));
  return lines;
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '').slice(0, 40);
}

/** `{a: {b: 1}}` → `{a_b: 1}`, arrays by index: INFO is flat `key:value` lines. */
function flattenStats(o: unknown, prefix = '', out: Record<string, string | number> = {}): Record<string, string | number> {
  if (o === null || o === undefined) return out;
  if (typeof o !== 'object') {
    out[prefix] = typeof o === 'number' ? o : String(o);
    return out;
  }
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) flattenStats(v, prefix ? `${prefix}_${k}` : k, out);
  return out;
}
