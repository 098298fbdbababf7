import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { BinlogPosition } from '../core/binlog.js';
import type { Logger } from '../core/log.js';
import type { SinkStats } from '../sink/sink.js';

export const PHASES = ['idle', 'connecting', 'full_sync', 'incremental', 'error', 'stopping'] as const;

/** Everything the metrics show, read at each scrape. */
export interface MetricsSnapshot {
  readonly phase: string;
  readonly linkUp: boolean;
  readonly inSync: boolean;
  /** Per DB of the master (each has its own binlog). */
  readonly dbs: ReadonlyArray<DbMetrics>;
  /** Snapshot load counts: keys, records, commands, bytes, elements, and keys per type. */
  readonly load: Readonly<Record<string, number>>;
  readonly binlogEntries: number;
  readonly binlogCommands: number;
  readonly binlogNotes: Readonly<Record<string, number>>;
  /** Master write → Redis acknowledgement of the last canary (`SET pika-migrate:canary <ms>`). */
  readonly canaryDelayMs: number | null;
  readonly sink: SinkStats;
}

export interface DbMetrics {
  readonly db: number;
  readonly offsets: Readonly<Record<'master' | 'received' | 'acked' | 'applied', BinlogPosition | null>>;
  readonly lagEntries: number;
  /** Null when master and applied are in different binlog files (no common byte axis). */
  readonly lagBytes: number | null;
  readonly lagSeconds: number;
}

const TYPES = new Set(['string', 'hash', 'list', 'set', 'zset']);

/**
 * The Prometheus metrics (prom-client), computed from one snapshot per scrape: nothing is counted
 * twice and the hot paths pay nothing. Cumulative numbers are counters (they only grow within a
 * process), levels are gauges.
 */
export function buildRegistry(read: () => MetricsSnapshot): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pika_migrate_' });
  let snap: MetricsSnapshot | null = null;
  // Every metric's collect runs in the same scrape: read once, at the first.
  const current = (): MetricsSnapshot => (snap ??= read());
  type Fill = (set: (labels: Record<string, string>, v: number) => void, s: MetricsSnapshot) => void;
  // Values come from the snapshot at each scrape: reset, then set (a counter by one inc of its total).
  const metric = (kind: 'counter' | 'gauge', name: string, help: string, labelNames: string[], fill: Fill) => {
    const config = { name: `pika_migrate_${name}`, help, labelNames, registers: [registry] };
    if (kind === 'counter') {
      return new Counter({ ...config, collect() { this.reset(); fill((labels, v) => v > 0 && this.inc(labels, v), current()); } });
    }
    return new Gauge({ ...config, collect() { this.reset(); fill((labels, v) => this.set(labels, v), current()); } });
  };
  const counter = (name: string, help: string, labelNames: string[], fill: Fill) => metric('counter', name, help, labelNames, fill);
  const gauge = (name: string, help: string, labelNames: string[], fill: Fill) => metric('gauge', name, help, labelNames, fill);

  gauge('phase', '1 for the phase the daemon is in', ['phase'], (set, s) => {
    for (const p of PHASES) set({ phase: p }, s.phase === p ? 1 : 0);
  });
  gauge('master_link_up', 'replication link to the master is up', [], (set, s) => set({}, s.linkUp ? 1 : 0));
  gauge('in_sync', '1 once the link is up with nothing pending: the cut-over signal', [], (set, s) => set({}, s.inSync ? 1 : 0));
  gauge('binlog_filenum', 'binlog file number of a position, per master DB', ['db', 'position'], (set, s) => {
    for (const d of s.dbs) for (const [k, p] of Object.entries(d.offsets)) if (p !== null) set({ db: String(d.db), position: k }, p.filenum);
  });
  gauge('binlog_offset_bytes', 'byte offset within its binlog file of a position, per master DB', ['db', 'position'], (set, s) => {
    for (const d of s.dbs) for (const [k, p] of Object.entries(d.offsets)) if (p !== null) set({ db: String(d.db), position: k }, p.offset);
  });
  gauge('lag_entries', 'binlog entries received and not yet applied in Redis, per master DB', ['db'], (set, s) => {
    for (const d of s.dbs) set({ db: String(d.db) }, d.lagEntries);
  });
  gauge('lag_bytes', 'binlog bytes between the master and Redis (same file only), per master DB', ['db'], (set, s) => {
    for (const d of s.dbs) if (d.lagBytes !== null) set({ db: String(d.db) }, d.lagBytes);
  });
  gauge('lag_seconds', 'seconds since the master wrote the oldest entry not yet in Redis, per master DB', ['db'], (set, s) => {
    for (const d of s.dbs) set({ db: String(d.db) }, d.lagSeconds);
  });
  gauge('canary_delay_seconds', 'master write to Redis acknowledgement of the last SET pika-migrate:canary <unix ms>', [], (set, s) => {
    if (s.canaryDelayMs !== null) set({}, s.canaryDelayMs / 1000);
  });
  counter('load_keys_total', 'snapshot keys read, by type', ['type'], (set, s) => {
    for (const [k, v] of Object.entries(s.load)) if (TYPES.has(k)) set({ type: k }, v);
  });
  counter('load_records_total', 'snapshot records (keys or chunks of big keys) read', [], (set, s) => set({}, s.load.records ?? 0));
  counter('load_commands_total', 'commands sent for the snapshot', [], (set, s) => set({}, s.load.commands ?? 0));
  counter('load_bytes_total', 'payload bytes read from the snapshot', [], (set, s) => set({}, s.load.bytes ?? 0));
  counter('binlog_entries_total', 'binlog entries received and converted', [], (set, s) => set({}, s.binlogEntries));
  counter('binlog_commands_total', 'commands the binlog entries became', [], (set, s) => set({}, s.binlogCommands));
  counter('binlog_notes_total', 'binlog entries that could not be replayed exactly, by code', ['code'], (set, s) => {
    for (const [code, v] of Object.entries(s.binlogNotes)) set({ code }, v);
  });
  counter('sink_commands_sent_total', 'commands written to Redis', [], (set, s) => set({}, s.sink.total.sent));
  counter('sink_commands_acked_total', 'commands Redis acknowledged', [], (set, s) => set({}, s.sink.total.acked));
  counter('sink_batches_total', 'batches (one script call each) written to Redis', [], (set, s) => set({}, s.sink.total.batches));
  counter('sink_retries_total', 'batches written again after a retryable error or a reconnect', [], (set, s) => set({}, s.sink.total.retries));
  counter('sink_reconnects_total', 'reconnections to Redis', [], (set, s) => set({}, s.sink.total.reconnects));
  counter('sink_errors_total', 'error replies from Redis, by class', ['class'], (set, s) => {
    for (const [cls, v] of Object.entries(s.sink.errorClasses)) set({ class: cls }, v);
  });
  counter('sink_refused_total', 'commands refused before sending', [], (set, s) => set({}, s.sink.refused));
  counter('sink_skipped_as_applied_total', 'binlog commands not sent again after a restart (already applied)', [], (set, s) => set({}, s.sink.skippedAsApplied));
  counter('sink_possible_repeats_total', 'commands sent again that Redis may already have applied (cluster target: at-least-once)', [], (set, s) => set({}, s.sink.possibleRepeats));
  counter('sink_redirections_total', 'MOVED and ASK redirections followed (cluster target)', [], (set, s) => set({}, s.sink.redirections));
  counter('sink_keys_kept_total', 'keys left as they were by conflict-policy skip', [], (set, s) => set({}, s.sink.keysKept));
  gauge('sink_queue_depth', 'commands waiting to be written, per sender', ['sender'], (set, s) => {
    s.sink.senders.forEach((st, i) => set({ sender: String(i) }, st.queued));
  });
  gauge('sink_in_flight', 'commands written and not yet acknowledged, per sender', ['sender'], (set, s) => {
    s.sink.senders.forEach((st, i) => set({ sender: String(i) }, st.inFlight));
  });
  const metrics = registry.metrics.bind(registry);
  registry.metrics = async () => {
    snap = null;
    try {
      return await metrics();
    } finally {
      snap = null;
    }
  };
  return registry;
}

/** Serves `GET /metrics` (and `/` for a quick look) on host:port. */
export async function startMetricsServer(opts: { host: string; port: number; read: () => MetricsSnapshot; logger: Logger }): Promise<Server> {
  const registry = buildRegistry(opts.read);
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
      res.writeHead(404).end('not found: GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (e: Error) => {
        opts.logger.error({ err: e }, 'metrics scrape failed');
        res.writeHead(500).end(`${e.message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return server;
}
