import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { compareBinlogPositions, type BinlogEntry, type BinlogPosition } from '../core/binlog.js';
import { CorruptionError, FatalError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { decodeBinlogItem } from './binlog-item.js';
import { familyOfVersion, fetchPikaVersion, type ClientPortAuth } from './master-version.js';
import { parseInfoFile, type SnapshotInfo } from './info-file.js';
import { MsgType, Status, TrySyncReply, type InnerRequest, type InnerResponse, type NodeId, type WireOffset } from './messages.js';
import { LinkClosedError, ReplConnection } from './repl-connection.js';
import { RsyncDaemon } from './rsync-daemon.js';
import { SnapshotChangedError, pullSnapshot } from './rsync-client.js';

export interface ReplicaHandler {
  /** The snapshot of `db` arrived in `dir` (A–C: the five type dirs; D: instance dirs) starting at `start`; resolve when loaded into Redis. */
  loadSnapshot(dir: string, db: number, start: BinlogPosition): Promise<void>;
  /** One decoded entry, in order. Return a promise to apply backpressure. */
  applyEntry(entry: BinlogEntry): void | Promise<void>;
  /** The end position of the last entry whose commands Redis has acknowledged (all earlier ones too). Acks to the master never go past it. */
  appliedPosition(db: number): BinlogPosition | null;
}

/** All in milliseconds; defaults follow Pika (§3.5.5) or the spec's recommendations. */
export interface ReplicaTimeouts {
  /** Wait for a reply to MetaSync/TrySync/DBSync (Pika: 10 s). */
  readonly requestMs: number;
  /** Master silent (no frame) while nothing is unacked → reconnect (Pika: 20 s). */
  readonly silenceMs: number;
  /** Send a ping when nothing was sent to the master for this long (spec: ~5 s; master drops at 20 s). */
  readonly pingIntervalMs: number;
  /** How often applied progress is checked to send acks. */
  readonly ackPollMs: number;
  /** First reconnect delay; doubles on consecutive failures up to `maxReconnectDelayMs`. */
  readonly reconnectDelayMs: number;
  readonly maxReconnectDelayMs: number;
  /** Retry MetaSync after "Slave AlreadyExist" (Pika: ≥ 10 s). */
  readonly metaRetryMs: number;
  /** A/B: the master must connect to our rsync daemon within this time after DBSync. */
  readonly snapshotConnectMs: number;
  /** A/B: give up when the push shows no progress for this long (the master never reports failure). */
  readonly snapshotStallMs: number;
  /** C/D: one rsync-service request. */
  readonly rsyncRequestMs: number;
  readonly rsyncMetaRetryMs: number;
  /** C/D: how long to wait for the master's dump (meta kErr) before reconnecting. */
  readonly rsyncMetaBudgetMs: number;
}

export const DEFAULT_TIMEOUTS: ReplicaTimeouts = {
  requestMs: 10_000,
  silenceMs: 20_000,
  pingIntervalMs: 5_000,
  ackPollMs: 5,
  reconnectDelayMs: 3_000,
  maxReconnectDelayMs: 60_000,
  metaRetryMs: 10_000,
  snapshotConnectMs: 120_000,
  snapshotStallMs: 600_000,
  rsyncRequestMs: 5_000,
  rsyncMetaRetryMs: 1_000,
  rsyncMetaBudgetMs: 600_000,
};

export interface ReplicaOptions {
  masterHost: string;
  masterPort: number;
  masterAuth?: string;
  /** How to log in on the master's client port P for INFO server; default `AUTH <masterAuth>`. */
  masterClientAuth?: ClientPortAuth;
  /** The IP we report to the master (A/B: it pushes the snapshot there). Default: our side of a probe connection to master P. */
  localIp?: string;
  /** The port we report (A/B: our rsync daemon listens on it + 1000). */
  localPort: number;
  dbSyncPath: string;
  force: boolean;
  resumeFrom?: BinlogPosition;
  logger: Logger;
  handler: ReplicaHandler;
  timeouts?: Partial<ReplicaTimeouts>;
  /** A/B: address the rsync daemon binds (default: `localIp` when given, else 0.0.0.0 as Pika). */
  rsyncBindAddress?: string;
  /** C/D pull: parallel readers (≤ 4), chunk size, throttle (bytes/s, 0 = none). */
  rsyncParallel?: number;
  rsyncChunkBytes?: number;
  rsyncThrottleBytesPerSec?: number;
  /**
   * When the master cannot continue from our offset (kSyncPointBePurged, or a 3.5.0 master whose
   * run id changed) take a new snapshot (default) or stop with an error.
   */
  fullSyncOnPurge?: boolean;
  /** The master's ids as a checkpoint recorded them: a master with other ids is another master. */
  expectIdentity?: { runId?: string; replicationId?: string };
  /** Largest accepted frame body (default: Pika's 512 MiB limit). */
  maxFrameBytes?: number;
}

export type Family = 'A' | 'B' | 'C' | 'D';
/** Pika's per-DB replication states as `info replication` words them (3.5.5+). */
export type DbReplState = 'no_connect' | 'connecting' | 'try_to_incr_sync' | 'try_to_full_sync' | 'syncing_full' | 'connected' | 'error';

export interface SnapshotProgress {
  phase: 'requested' | 'transferring' | 'loading' | 'done';
  filesTotal: number | null;
  filesDone: number;
  bytesReceived: number;
  start: BinlogPosition | null;
}

export interface ReplicaStatus {
  linkUp: boolean;
  masterHost: string;
  masterPort: number;
  /** `A/B` until the stream shows which (B+ puts term/index into offsets). */
  family: Family | 'A/B' | null;
  masterVersion?: string;
  runId?: string;
  replicationId?: string;
  sessionId: number | null;
  dbs: Array<{ db: number; state: DbReplState }>;
  masterOffset: BinlogPosition | null;
  receivedOffset: BinlogPosition | null;
  ackedOffset: BinlogPosition | null;
  lastEntryExecTime: number | null;
  entriesReceived: number;
  bytesReceived: number;
  snapshot: SnapshotProgress | null;
  lastError: string | null;
}

const FAMILY_VERSIONS: Record<string, string> = { A: '3.2.x', B: '3.3.x–3.4.x', C: '3.5.x', D: '4.0.x', 'A/B': '3.2.x–3.4.x' };
const DB0 = { table_name: 'db0', partition_id: 0 };
const TYPE_DIRS = ['strings', 'hashes', 'lists', 'sets', 'zsets'];

class RetryLater extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });

const fmt = (p: BinlogPosition | null): string => (p === null ? '-' : `${p.filenum}:${p.offset}`);
const pos = (w: WireOffset): BinlogPosition => ({ filenum: w.filenum, offset: w.offset });

/**
 * Poses as a Pika replica of db0 (spec §3.8): MetaSync → TrySync or DBSync + snapshot transfer →
 * BinlogSync streaming with acks bounded by what the handler reports as applied, keepalive pings,
 * silence timeout, reconnect with TrySync from the applied offset.
 */
export class Replica extends EventEmitter {
  private readonly t: ReplicaTimeouts;
  private readonly log: Logger;
  private readonly stopCtl = new AbortController();
  private running: Promise<void> | null = null;
  private conn: ReplConnection | null = null;
  private daemon: RsyncDaemon | null = null;

  private family: Family | 'A/B' | null = null;
  /** `pika_version` from the master's INFO server, once known. */
  private version: string | null = null;
  private runId: string | undefined;
  private replicationId: string | undefined;
  private sessionId: number | null = null;
  private state: DbReplState = 'no_connect';
  private linkUp = false;
  private lastError: string | null = null;
  private metaDone = false;

  /** Where the current snapshot/resume point starts (TrySync never goes below it). */
  private base: BinlogPosition | null;
  private forceFull: boolean;
  /** End of the last entry handed to applyEntry: later re-sends up to it are skipped. */
  private delivered: BinlogPosition | null;
  /** Offsets received on this connection and not yet acked: exactly the master's window. */
  private pending: WireOffset[] = [];
  private applying = false;
  private lastHeaderCheck: BinlogPosition | null = null;

  private masterOffset: BinlogPosition | null = null;
  private receivedOffset: BinlogPosition | null = null;
  private ackedOffset: BinlogPosition | null = null;
  private lastEntryExecTime: number | null = null;
  private entriesReceived = 0;
  private bytesReceived = 0;
  private snapshot: SnapshotProgress | null = null;
  private sessionHadEntries = false;

  constructor(private readonly opts: ReplicaOptions) {
    super();
    this.t = { ...DEFAULT_TIMEOUTS, ...(opts.timeouts ?? {}) };
    this.log = opts.logger.child({ component: 'replica', master: `${opts.masterHost}:${opts.masterPort}` });
    this.forceFull = opts.force;
    this.base = opts.force ? null : (opts.resumeFrom ?? null);
    this.delivered = this.base;
    this.runId = opts.expectIdentity?.runId;
    this.replicationId = opts.expectIdentity?.replicationId;
  }

  start(): void {
    if (this.running) return;
    this.running = this.run();
  }

  /**
   * Closes the link, stops the rsync daemon and any pull. With `remove` (SLAVEOF NO ONE) it first
   * sends RemoveSlaveNode, so the master forgets us; without (a shutdown that will resume) the
   * master keeps us registered and keeps the binlog we still need, as it does for a restarting Pika replica.
   */
  async stop(remove = true): Promise<void> {
    if (this.stopCtl.signal.aborted) {
      await this.running;
      return;
    }
    this.stopCtl.abort();
    const conn = this.conn;
    if (remove && conn && !conn.isClosed && this.metaDone && this.node) {
      try {
        const reply = conn.expect(MsgType.RemoveSlaveNode, 1000);
        conn.send({ type: MsgType.RemoveSlaveNode, remove_slave_node: [{ node: this.node, partition: DB0 }] });
        await reply;
        this.log.info('master acknowledged RemoveSlaveNode');
      } catch (e) {
        this.log.warn({ err: e }, 'no reply to RemoveSlaveNode; closing anyway');
      }
    }
    conn?.close(new LinkClosedError('replica stopped'));
    await this.running;
    await this.daemon?.stop();
    this.linkUp = false;
    this.setState('no_connect');
  }

  /** The master's family as known so far (cheap: no status object). */
  get masterFamily(): Family | 'A/B' | null {
    return this.family;
  }

  /** The master's `pika_version`, or null while unknown. */
  get masterVersion(): string | null {
    return this.version;
  }

  status(): ReplicaStatus {
    return {
      linkUp: this.linkUp,
      masterHost: this.opts.masterHost,
      masterPort: this.opts.masterPort,
      family: this.family,
      ...(this.version !== null ? { masterVersion: this.version } : this.family ? { masterVersion: FAMILY_VERSIONS[this.family] } : {}),
      ...(this.runId ? { runId: this.runId } : {}),
      ...(this.replicationId ? { replicationId: this.replicationId } : {}),
      sessionId: this.sessionId,
      dbs: [{ db: 0, state: this.state }],
      masterOffset: this.masterOffset,
      receivedOffset: this.receivedOffset,
      ackedOffset: this.ackedOffset,
      lastEntryExecTime: this.lastEntryExecTime,
      entriesReceived: this.entriesReceived,
      bytesReceived: this.bytesReceived + (this.conn?.bytesReceived ?? 0),
      snapshot: this.snapshot ? { ...this.snapshot } : null,
      lastError: this.lastError,
    };
  }

  private setState(s: DbReplState): void {
    const linkUp = s === 'connected';
    if (s === this.state && linkUp === this.linkUp) return;
    this.state = s;
    this.linkUp = linkUp;
    this.log.info({ state: s }, 'replication state');
    this.emit('state', this.status());
  }

  private get stopped(): boolean {
    return this.stopCtl.signal.aborted;
  }

  private node: NodeId | null = null;

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let delay: number;
      try {
        this.sessionHadEntries = false;
        await this.session();
        delay = this.t.reconnectDelayMs;
      } catch (e) {
        if (this.stopped) break;
        if (e instanceof FatalError) {
          this.lastError = e.message;
          this.log.error({ err: e }, 'replication stopped');
          this.setState('error');
          this.conn?.close(new LinkClosedError('fatal error'));
          await this.daemon?.stop();
          this.emit('fatal', e);
          return;
        }
        this.lastError = (e as Error).message;
        if (e instanceof RetryLater) {
          this.log.warn({ reason: e.message, retryInMs: e.delayMs }, 'master asked us to retry later');
          delay = e.delayMs;
          failures = 0;
        } else {
          failures = this.sessionHadEntries ? 1 : failures + 1;
          delay = Math.min(this.t.reconnectDelayMs * 2 ** (failures - 1), this.t.maxReconnectDelayMs);
          this.log.warn({ err: e, retryInMs: delay, consecutiveFailures: failures }, 'replication link lost');
        }
      } finally {
        this.bytesReceived += this.conn?.bytesReceived ?? 0;
        this.conn?.close();
        this.conn = null;
        this.sessionId = null;
        this.pending = [];
        this.metaDone = false;
      }
      if (this.stopped) break;
      this.setState(this.base === null || this.forceFull ? 'no_connect' : 'try_to_incr_sync');
      await sleep(delay, this.stopCtl.signal);
    }
  }

  /** One connection's life: returns or throws when it ends. */
  private async session(): Promise<void> {
    const { masterHost, masterPort } = this.opts;
    const conn = new ReplConnection(masterHost, masterPort + 2000, this.log, this.opts.maxFrameBytes);
    this.conn = conn;
    this.setState('connecting');
    const ip = this.opts.localIp ?? (await this.probeLocalIp());
    await conn.connect(this.t.requestMs);
    if (this.stopped) return;
    const node: NodeId = { ip: ip ?? conn.localAddress ?? '127.0.0.1', port: this.opts.localPort };
    this.node = node;
    conn.onBinlog = (r, at) => this.onBinlog(conn, r, at);
    const timers = this.startTimers(conn);
    try {
      await this.metaSync(conn, node);
      await this.learnVersion();
      for (;;) {
        if (this.forceFull || this.base === null) {
          await this.fullSync(conn, node);
          if (conn.isClosed) throw await conn.closed;
        }
        const from = this.resumePoint();
        this.setState('try_to_incr_sync');
        const reply = conn.expect(MsgType.TrySync, this.t.requestMs);
        conn.send({ type: MsgType.TrySync, try_sync: { node, partition: DB0, binlog_offset: { filenum: from.filenum, offset: from.offset } } });
        const r = await reply;
        const ts = r.try_sync;
        if (r.code !== Status.Ok || !ts) {
          throw new FatalError(`master ${masterHost}:${masterPort} refused TrySync at ${fmt(from)}: code ${r.code} ${r.reply ?? ''}`.trim());
        }
        if (ts.binlog_offset) this.masterOffset = pos(ts.binlog_offset);
        if (ts.reply_code === TrySyncReply.Ok) {
          this.sessionId = ts.session_id ?? 0;
          this.pending = [];
          this.lastHeaderCheck = from;
          this.log.info({ from: fmt(from), session: this.sessionId, masterOffset: fmt(this.masterOffset) }, 'TrySync accepted, streaming');
          conn.send(this.binlogSync(node, this.wire(from), this.wire(from), true));
          this.setState('connected');
          throw await conn.closed;
        }
        if (ts.reply_code === TrySyncReply.SyncPointBePurged) {
          if (this.opts.fullSyncOnPurge === false) {
            throw new FatalError(
              `master ${masterHost}:${masterPort} no longer has binlog ${fmt(from)} (kSyncPointBePurged): only a new full sync can go on, and it is never taken on its own; SLAVEOF ${masterHost} ${masterPort} force takes one`,
            );
          }
          this.log.warn({ from: fmt(from), masterOffset: fmt(this.masterOffset) }, 'master purged the binlog at our offset: taking a new snapshot');
          this.forceFull = true;
          continue;
        }
        if (ts.reply_code === TrySyncReply.SyncPointLarger) {
          throw new FatalError(
            `our offset ${fmt(from)} is ahead of the master's ${fmt(this.masterOffset)} (kSyncPointLarger): the master was reset or replaced, or the checkpoint is wrong; a forced full sync is needed`,
          );
        }
        throw new FatalError(`master rejected TrySync at ${fmt(from)} (reply_code ${ts.reply_code}: not a record boundary or master error)`);
      }
    } finally {
      for (const t of timers) clearInterval(t);
    }
  }

  /**
   * Asks P for `pika_version` after every MetaSync (a restarted master may be an upgraded one).
   * The handshake decides the family; the version refines A/B at once and is checked against it.
   */
  private async learnVersion(): Promise<void> {
    const { masterHost, masterPort, masterAuth, masterClientAuth } = this.opts;
    const auth = masterClientAuth ?? (masterAuth ? { password: masterAuth } : undefined);
    const r = await fetchPikaVersion(masterHost, masterPort, auth, Math.min(this.t.requestMs, 3000));
    if (r.version === null) {
      if (this.version === null) this.log.warn({ reason: r.why }, 'master version unknown: conversion goes by the family alone');
      return;
    }
    const vf = familyOfVersion(r.version);
    if (r.version !== this.version) this.log.info({ version: r.version, family: this.family }, 'master version from INFO server');
    this.version = r.version;
    if (vf === null) {
      this.log.warn({ version: r.version }, 'master version is outside Pika 3.2–4.x: treated by its wire family');
    } else if (this.family === 'A/B' && (vf === 'A' || vf === 'B')) {
      this.family = vf;
    } else if (vf !== this.family) {
      this.log.warn({ version: r.version, versionFamily: vf, wireFamily: this.family }, 'master version and handshake disagree on the family: the handshake wins');
    }
  }

  private async probeLocalIp(): Promise<string | undefined> {
    return new Promise((resolve) => {
      const s = connect({ host: this.opts.masterHost, port: this.opts.masterPort });
      const t = setTimeout(() => s.destroy(), 1500);
      s.once('connect', () => {
        const ip = s.localAddress;
        clearTimeout(t);
        s.destroy();
        resolve(ip?.replace(/^::ffff:/, ''));
      });
      s.once('error', () => {
        clearTimeout(t);
        resolve(undefined);
      });
    });
  }

  private async metaSync(conn: ReplConnection, node: NodeId): Promise<void> {
    const { masterHost, masterPort, masterAuth } = this.opts;
    const reply = conn.expect(MsgType.MetaSync, this.t.requestMs);
    conn.send({ type: MsgType.MetaSync, meta_sync: { node, ...(masterAuth ? { auth: masterAuth } : {}) } });
    const r = await reply;
    const master = `${masterHost}:${masterPort}`;
    if (r.code !== Status.Ok) {
      const text = r.reply ?? '';
      if (/AlreadyExist/i.test(text) || r.code === Status.Other) {
        // Our previous connection is still registered on the master: it goes when that socket closes.
        throw new RetryLater(`master ${master} says: ${text || 'kOther'}`, this.t.metaRetryMs);
      }
      if (/auth/i.test(text)) {
        throw new FatalError(
          `master ${master} rejected our masterauth (${masterAuth ? 'the configured masterauth is wrong' : 'no masterauth configured'}): "${text}"; set masterauth to the master's requirepass`,
        );
      }
      throw new FatalError(`master ${master} refused MetaSync: code ${r.code} "${text}"`);
    }
    const m = r.meta_sync;
    if (!m) throw new FatalError(`master ${master} answered MetaSync kOk without meta_sync`);
    if (m.classic_mode === false) {
      throw new FatalError(`master ${master} runs in sharding mode (classic_mode=false): only classic mode is supported`);
    }
    const dbs = m.tables_info ?? [];
    if (dbs.length !== 1 || dbs[0].table_name !== 'db0') {
      throw new FatalError(
        `master ${master} has ${dbs.length} DBs (${dbs.map((d) => d.table_name).join(', ') || 'none'}): only a single db0 (databases 1) is supported for now`,
      );
    }
    if (dbs[0].partition_num !== undefined && dbs[0].partition_num !== 1) {
      throw new FatalError(`master ${master} reports ${dbs[0].partition_num} partitions for db0: only classic mode with one is supported`);
    }
    const family: Family | 'A/B' = dbs[0].db_instance_num !== undefined ? 'D' : m.run_id !== undefined ? 'C' : this.family === 'B' ? 'B' : 'A/B';
    if (this.family !== null && this.family !== family && !(this.family === 'B' && family === 'A/B')) {
      this.log.warn({ was: this.family, now: family }, 'master family changed across reconnects');
    }
    if (this.replicationId && m.replication_id && m.replication_id !== this.replicationId) {
      throw new FatalError(
        `master ${master} replication id changed from ${this.replicationId} to ${m.replication_id}: it is another master now; offsets do not carry over (restart with force)`,
      );
    }
    if (this.runId && m.run_id && m.run_id !== this.runId && !m.replication_id) {
      // 3.5.0: Pika forces a full sync when the run id changes.
      if (this.opts.fullSyncOnPurge === false) {
        throw new FatalError(`master ${master} run_id changed from ${this.runId} to ${m.run_id} (3.5.0 then needs a full sync) and full sync on its own is disabled`);
      }
      this.log.warn({ was: this.runId, now: m.run_id }, 'master run_id changed: taking a new snapshot');
      this.forceFull = true;
    }
    if (this.family !== family) this.log.info({ family, versions: FAMILY_VERSIONS[family], runId: m.run_id, replicationId: m.replication_id }, 'master family detected from MetaSync');
    this.family = family;
    this.runId = m.run_id ?? this.runId;
    this.replicationId = m.replication_id ?? this.replicationId;
    this.metaDone = true;
  }

  private resumePoint(): BinlogPosition {
    const applied = this.opts.handler.appliedPosition(0);
    const base = this.base!;
    return applied !== null && compareBinlogPositions(applied, base) > 0 ? applied : base;
  }

  private get usesTermIndex(): boolean {
    return this.family === 'B' || this.family === 'C' || this.family === 'D';
  }

  private wire(p: BinlogPosition): WireOffset {
    return this.usesTermIndex ? { filenum: p.filenum, offset: p.offset, term: 0, index: 0 } : { filenum: p.filenum, offset: p.offset };
  }

  private binlogSync(node: NodeId, start: WireOffset, end: WireOffset, first: boolean): InnerRequest {
    return {
      type: MsgType.BinlogSync,
      binlog_sync: { node, table_name: 'db0', partition_id: 0, ack_range_start: start, ack_range_end: end, session_id: this.sessionId ?? 0, first_send: first },
    };
  }

  private ping(conn: ReplConnection): void {
    if (this.sessionId === null || this.node === null) return;
    const z = this.wire({ filenum: 0, offset: 0 });
    conn.send(this.binlogSync(this.node, z, z, false));
  }

  private startTimers(conn: ReplConnection): NodeJS.Timeout[] {
    const ack = setInterval(() => this.tryAck(conn), this.t.ackPollMs);
    const keep = setInterval(
      () => {
        if (conn.isClosed) return;
        if (this.sessionId !== null && Date.now() - conn.lastSentAt >= this.t.pingIntervalMs) this.ping(conn);
        const waiting = this.state === 'connected' || this.state === 'syncing_full';
        const silentFor = Date.now() - conn.lastRecvAt;
        if (waiting && this.sessionId !== null && this.pending.length === 0 && !this.applying && silentFor > this.t.silenceMs) {
          this.log.warn({ silentForMs: silentFor }, 'master silent: reconnecting');
          conn.close(new LinkClosedError(`master ${conn.name} sent nothing for ${silentFor} ms`));
        }
      },
      Math.max(10, Math.min(1000, Math.floor(Math.min(this.t.pingIntervalMs, this.t.silenceMs) / 4))),
    );
    return [ack, keep];
  }

  /** Acks the longest prefix of the master's window that the handler reports as applied. */
  private tryAck(conn: ReplConnection): void {
    if (conn.isClosed || this.sessionId === null || this.node === null || this.pending.length === 0) return;
    const applied = this.opts.handler.appliedPosition(0);
    if (applied === null) return;
    let n = 0;
    while (n < this.pending.length && compareBinlogPositions(pos(this.pending[n]), applied) <= 0) n++;
    if (n === 0) return;
    const start = this.pending[0];
    const end = this.pending[n - 1];
    conn.send(this.binlogSync(this.node, start, end, false));
    this.pending.splice(0, n);
    this.ackedOffset = pos(end);
  }

  private async onBinlog(conn: ReplConnection, r: InnerResponse, streamOffset: number): Promise<void> {
    const where = `master ${conn.name} stream byte ${streamOffset}`;
    if (r.code !== Status.Ok) throw new CorruptionError(`BinlogSync message with code ${r.code} ${r.reply ?? ''}`, where);
    let entries = 0;
    for (const el of r.binlog_sync ?? []) {
      if (this.family === 'A/B' && el.binlog_offset?.term !== undefined) {
        this.family = 'B';
        this.log.info({ family: 'B', versions: FAMILY_VERSIONS.B }, 'master family refined from the stream: offsets carry term/index');
      }
      if (this.sessionId !== null && el.session_id !== this.sessionId) {
        // Pika's replica goes back to TrySync; a fresh connection does that and more.
        throw new LinkClosedError(`${where}: session ${el.session_id} from the master, ours is ${this.sessionId}`);
      }
      const binlog = el.binlog ?? Buffer.alloc(0);
      if (binlog.length === 0) continue;
      if (this.state !== 'connected') throw new CorruptionError(`binlog entry before BinlogSync activation`, where);
      if (!el.binlog_offset) throw new CorruptionError('binlog entry without binlog_offset', where);
      const end = pos(el.binlog_offset);
      const entry = decodeBinlogItem(binlog, 0, end, `db0 item ending at ${fmt(end)} (${where})`);
      entries++;
      this.sessionHadEntries = true;
      if (this.lastHeaderCheck && compareBinlogPositions(entry.headerPos, this.lastHeaderCheck) !== 0 && entry.headerPos.filenum + entry.headerPos.offset !== 0) {
        this.log.warn({ header: fmt(entry.headerPos), previousEnd: fmt(this.lastHeaderCheck) }, 'binlog entry does not start where the previous one ended');
      }
      this.lastHeaderCheck = end;
      this.pending.push(el.binlog_offset);
      this.receivedOffset = end;
      if (this.masterOffset === null || compareBinlogPositions(end, this.masterOffset) > 0) this.masterOffset = end;
      if (this.delivered !== null && compareBinlogPositions(end, this.delivered) <= 0) continue; // re-sent after a reconnect
      this.entriesReceived++;
      this.lastEntryExecTime = entry.execTime;
      const p = this.opts.handler.applyEntry(entry);
      this.delivered = end;
      if (p) {
        this.applying = true;
        try {
          await p;
        } finally {
          this.applying = false;
        }
      }
    }
    if (entries === 0) this.ping(conn);
    else this.tryAck(conn);
  }

  private async fullSync(conn: ReplConnection, node: NodeId): Promise<void> {
    const { masterHost, masterPort, dbSyncPath } = this.opts;
    const dir = join(dbSyncPath, 'db0');
    const ab = this.family === 'A' || this.family === 'B' || this.family === 'A/B';
    this.setState('try_to_full_sync');
    this.snapshot = { phase: 'requested', filesTotal: null, filesDone: 0, bytesReceived: 0, start: null };
    mkdirSync(dbSyncPath, { recursive: true });
    if (ab) {
      rmSync(dir, { recursive: true, force: true });
      for (const t of TYPE_DIRS) mkdirSync(join(dir, t), { recursive: true });
      if (this.daemon === null) {
        this.daemon = new RsyncDaemon({
          root: dbSyncPath,
          port: this.opts.localPort + 1000,
          address: this.opts.rsyncBindAddress ?? this.opts.localIp ?? '0.0.0.0',
          password: this.opts.masterAuth ?? '',
          logger: this.log,
        });
      }
      await this.daemon.start();
    }
    const reply = conn.expect(MsgType.DBSync, this.t.requestMs);
    conn.send({ type: MsgType.DBSync, db_sync: { node, partition: DB0, binlog_offset: { filenum: 0, offset: 0 } } });
    const r = await reply;
    if (r.code !== Status.Ok || !r.db_sync || r.db_sync.session_id < 0) {
      throw new LinkClosedError(`master ${masterHost}:${masterPort} refused DBSync: code ${r.code} ${r.reply ?? ''}`);
    }
    this.sessionId = r.db_sync.session_id;
    this.setState('syncing_full');
    this.snapshot.phase = 'transferring';
    this.log.info({ session: this.sessionId, family: this.family }, 'DBSync accepted, receiving the snapshot');

    let info: SnapshotInfo;
    if (ab) {
      info = await this.waitForPush(conn, dir, node);
      await this.daemon?.stop();
    } else {
      info = await this.pull(conn, dir);
    }
    if (info.masterPort !== masterPort) {
      this.log.warn({ infoHost: info.masterHost, infoPort: info.masterPort }, 'snapshot info names another master address than the one we dialled');
    }
    this.snapshot.start = info.start;
    this.snapshot.phase = 'loading';
    this.log.info({ start: fmt(info.start), dir }, 'snapshot complete, loading');
    this.emit('state', this.status());
    await this.opts.handler.loadSnapshot(dir, 0, info.start);
    this.snapshot.phase = 'done';
    this.base = info.start;
    this.delivered = info.start;
    this.receivedOffset = info.start;
    this.forceFull = false;
    this.pending = [];
  }

  private async waitForPush(conn: ReplConnection, dir: string, node: NodeId): Promise<SnapshotInfo> {
    const daemon = this.daemon!;
    const target = `${node.ip}:${node.port + 1000}`;
    const started = Date.now();
    const baseline = daemon.connectionsSeen();
    let lastProgress = Date.now();
    let lastSize = -1;
    let lastLog = daemon.logSize();
    let lastCheck = 0;
    const infoPath = join(dir, 'info');
    for (;;) {
      if (conn.isClosed) throw await conn.closed;
      if (this.stopped) throw new LinkClosedError('stopped');
      if (existsSync(infoPath)) {
        this.snapshot!.bytesReceived = dirSize(dir);
        return parseInfoFile(readFileSync(infoPath, 'utf8'), infoPath);
      }
      if (daemon.failure) throw daemon.failure;
      const now = Date.now();
      if (now - lastCheck >= 250) {
        lastCheck = now;
        const size = dirSize(dir);
        const logSize = daemon.logSize();
        if (size !== lastSize || logSize !== lastLog) {
          lastSize = size;
          lastLog = logSize;
          lastProgress = now;
          this.snapshot!.bytesReceived = size;
        }
        if (daemon.connectionsSeen() === baseline && now - started > this.t.snapshotConnectMs) {
          throw new FatalError(
            `the master never connected to our rsync daemon within ${this.t.snapshotConnectMs} ms: a ${this.family} master pushes the snapshot to ${target} (the ip we reported + our port + 1000); make sure the master can reach that address and port (firewall, NAT, localIp setting)`,
          );
        }
        if (now - lastProgress > this.t.snapshotStallMs) {
          throw new FatalError(
            `snapshot push into ${target} made no progress for ${this.t.snapshotStallMs} ms and db0/info never arrived (the master does not report failed pushes; check its log for "RSync send file failed"; rsync daemon log: ${daemon.logTail()})`,
          );
        }
      }
      await Promise.race([new Promise((r) => setTimeout(r, 50)), conn.closed]);
    }
  }

  private async pull(conn: ReplConnection, dir: string): Promise<SnapshotInfo> {
    const { masterHost, masterPort } = this.opts;
    // A resumable pull keeps DUMP_META_DATA; anything else in the directory is stale.
    if (!existsSync(join(dir, 'DUMP_META_DATA'))) rmSync(dir, { recursive: true, force: true });
    for (let attempt = 1; ; attempt++) {
      const ctl = new AbortController();
      const onStop = () => ctl.abort();
      this.stopCtl.signal.addEventListener('abort', onStop);
      void conn.closed.then(onStop);
      try {
        const res = await pullSnapshot({
          host: masterHost,
          port: masterPort + 10001,
          dbName: 'db0',
          dir,
          parallel: this.opts.rsyncParallel,
          chunkBytes: this.opts.rsyncChunkBytes,
          throttleBytesPerSec: this.opts.rsyncThrottleBytesPerSec,
          requestTimeoutMs: this.t.rsyncRequestMs,
          metaRetryMs: this.t.rsyncMetaRetryMs,
          metaBudgetMs: this.t.rsyncMetaBudgetMs,
          logger: this.log,
          signal: ctl.signal,
          onProgress: (p) => {
            if (this.snapshot) {
              this.snapshot.filesTotal = p.filesTotal;
              this.snapshot.filesDone = p.filesDone;
              this.snapshot.bytesReceived = p.bytesReceived;
            }
          },
        });
        if (this.snapshot) this.snapshot.bytesReceived = dirSize(dir);
        this.log.info({ uuid: res.uuid, files: res.files.length }, 'snapshot pulled');
        rmSync(join(dir, 'DUMP_META_DATA'), { force: true });
        const infoPath = join(dir, 'info');
        return parseInfoFile(readFileSync(infoPath, 'utf8'), infoPath);
      } catch (e) {
        if (conn.isClosed) throw await conn.closed;
        if (e instanceof SnapshotChangedError && attempt < 5) {
          this.log.warn({ err: e }, 'master replaced its dump during the pull: starting over');
          rmSync(dir, { recursive: true, force: true });
          continue;
        }
        throw e;
      } finally {
        this.stopCtl.signal.removeEventListener('abort', onStop);
      }
    }
  }
}

function dirSize(dir: string): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const p = join(dir, name);
    try {
      const st = statSync(p);
      total += st.isDirectory() ? dirSize(p) : st.size;
    } catch {
      // rsync renames its temp files while we look
    }
  }
  return total;
}
