import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { connect, isIP } from 'node:net';
import { join } from 'node:path';
import { compareBinlogPositions, type BinlogEntry, type BinlogPosition } from '../core/binlog.js';
import { CorruptionError, FatalError } from '../core/errors.js';
import { Fifo } from '../core/fifo.js';
import { abortedWhenSettled, sleep } from '../core/interruptible.js';
import type { Logger } from '../core/log.js';
import { decodeBinlogItem } from './binlog-item.js';
import { familyOfVersion, fetchPikaVersion, type ClientPortAuth, countPikaStreams } from './master-version.js';
import { parseInfoFile, type SnapshotInfo } from './info-file.js';
import { MsgType, Status, TrySyncReply, type InnerRequest, type InnerResponse, type NodeId, type WireOffset } from './messages.js';
import { LinkClosedError, ReplConnection } from './repl-connection.js';
import { pushedDirs } from './push-log.js';
import { RSYNC_MODULE, RsyncDaemon, killStaleRsyncDaemon } from './rsync-daemon.js';
import { SnapshotArrival } from './snapshot-arrival.js';
import { SnapshotChangedError, pullSnapshot } from './rsync-client.js';

export interface ReplicaHandler {
  /** The snapshot of `db` arrived in `dir` (A–C: the five type dirs; D: instance dirs) starting at `start`; resolve when loaded into Redis. */
  loadSnapshot(dir: string, db: number, start: BinlogPosition): Promise<void>;
  /**
   * A/B: the snapshot of `db` is being pushed into `dir`; `arrival` tells when each type dir is
   * complete, before `info` (and so loadSnapshot) comes. Optional: a handler may start reading.
   */
  snapshotArriving?(dir: string, db: number, arrival: SnapshotArrival): void;
  /** The push snapshotArriving announced failed: resolve once nothing reads `dir` any more (it is removed next). */
  snapshotAbandoned?(db: number, why: Error): Promise<void>;
  /** One decoded entry, in order. Return a promise to apply backpressure. */
  applyEntry(db: number, entry: BinlogEntry): void | Promise<void>;
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
  /** Per DB: resume with TrySync from here (no snapshot) unless `force`. */
  resumeFrom?: ReadonlyMap<number, BinlogPosition>;
  /** The DBs to follow (default: every DB the master has). */
  dbs?: readonly number[];
  logger: Logger;
  handler: ReplicaHandler;
  timeouts?: Partial<ReplicaTimeouts>;
  /** A/B: address the rsync daemon binds (default: the ip we report, `localIp` or the probe's; Pika binds 0.0.0.0). */
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
const TYPE_DIRS = ['strings', 'hashes', 'lists', 'sets', 'zsets'];

class RetryLater extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

const fmt = (p: BinlogPosition | null): string => (p === null ? '-' : `${p.filenum}:${p.offset}`);
const pos = (w: WireOffset): BinlogPosition => ({ filenum: w.filenum, offset: w.offset });

/**
 * Poses as a Pika replica of db0 (spec §3.8): MetaSync → TrySync or DBSync + snapshot transfer →
 * BinlogSync streaming with acks bounded by what the handler reports as applied, keepalive pings,
 * silence timeout, reconnect with TrySync from the applied offset.
 */
/** One followed DB of the master: Pika keeps a binlog, a session and a sync state per DB (partition/slot 0). */
interface DbLink {
  readonly db: number;
  readonly partition: { table_name: string; partition_id: number };
  state: DbReplState;
  /** Where the current snapshot/resume point starts (TrySync never goes below it). */
  base: BinlogPosition | null;
  forceFull: boolean;
  /** End of the last entry handed to applyEntry: later re-sends up to it are skipped. */
  delivered: BinlogPosition | null;
  /**
   * Offsets received on this connection and not yet acked: exactly the master's window, up to
   * thousands of entries. A ring (core/fifo.ts): an array spliced at every ack made an array of
   * the removed offsets each time and regrew its storage.
   */
  pending: Fifo<WireOffset>;
  /**
   * The BinlogSync message (Replica.messageSeq) that last touched this DB, and the last that
   * carried entries for it: the DB is answered (ack or ping) when that message ends. Numbers, not
   * a Set of DBs cleared after every message: a cleared Set makes itself a new table, and those
   * lived long enough to be promoted (~70 bytes per streamed entry, most of what the incremental
   * sync promoted).
   */
  touchedIn: number;
  entriesIn: number;
  sessionId: number | null;
  applying: boolean;
  /**
   * The hand-over of an entry still under way (its commands waiting for room in the sink). A
   * connection that replaced a lost one waits for it: its first entries would overtake the rest
   * of that entry's commands otherwise.
   */
  inFlight: Promise<void> | null;
  lastHeaderCheck: BinlogPosition | null;
  masterOffset: BinlogPosition | null;
  receivedOffset: BinlogPosition | null;
  ackedOffset: BinlogPosition | null;
  lastEntryExecTime: number | null;
  entriesReceived: number;
  snapshot: SnapshotProgress | null;
  /** The master drops a DB's registration after 20 s without a request for it, whatever the others do. */
  lastSentAt: number;
}

/**
 * Poses as a Pika replica (spec §3.8) of every DB of a classic-mode master, over one connection as
 * Pika's replica does: MetaSync → per DB TrySync or DBSync + snapshot transfer → BinlogSync
 * streaming with acks bounded by what the handler reports as applied for that DB, keepalive pings,
 * silence timeout, reconnect with TrySync from the applied offsets. Unlike Pika's own replica
 * (which aborts on a second DBSync in one process), each DB takes its own snapshot, one after another.
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
  private linkUp = false;
  private lastError: string | null = null;
  private metaDone = false;
  private bytesReceived = 0;
  private sessionHadEntries = false;
  /** Number of the BinlogSync message being read (DbLink.touchedIn); the next one's once it ends. */
  private messageSeq = 0;
  /** The DBs followed, known before MetaSync when given, else from the master's DB list. */
  private links: DbLink[] = [];
  private readonly byName = new Map<string, DbLink>();

  constructor(private readonly opts: ReplicaOptions) {
    super();
    this.t = { ...DEFAULT_TIMEOUTS, ...(opts.timeouts ?? {}) };
    this.log = opts.logger.child({ component: 'replica', master: `${opts.masterHost}:${opts.masterPort}` });
    this.runId = opts.expectIdentity?.runId;
    this.replicationId = opts.expectIdentity?.replicationId;
    for (const db of opts.dbs ?? [0]) this.addLink(db);
  }

  private addLink(db: number): DbLink {
    const base = this.opts.force ? null : (this.opts.resumeFrom?.get(db) ?? null);
    const link: DbLink = {
      db,
      partition: { table_name: `db${db}`, partition_id: 0 },
      state: 'no_connect',
      base,
      forceFull: this.opts.force,
      delivered: base,
      pending: new Fifo(),
      touchedIn: -1,
      entriesIn: -1,
      sessionId: null,
      applying: false,
      inFlight: null,
      lastHeaderCheck: null,
      masterOffset: null,
      receivedOffset: null,
      ackedOffset: null,
      lastEntryExecTime: null,
      entriesReceived: 0,
      snapshot: null,
      lastSentAt: 0,
    };
    this.links.push(link);
    this.byName.set(link.partition.table_name, link);
    return link;
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
        const node = this.node;
        conn.send({ type: MsgType.RemoveSlaveNode, remove_slave_node: this.links.map((l) => ({ node, partition: l.partition })) });
        await reply;
        this.log.info('master acknowledged RemoveSlaveNode');
      } catch (e) {
        this.log.warn({ err: e }, 'no reply to RemoveSlaveNode; closing anyway');
      }
    }
    conn?.close(new LinkClosedError('replica stopped'));
    await this.running;
    await this.daemon?.stop();
    for (const l of this.links) this.setState(l, 'no_connect');
  }

  /** The master's family as known so far (cheap: no status object). */
  get masterFamily(): Family | 'A/B' | null {
    return this.family;
  }

  /** The master's `pika_version`, or null while unknown. */
  get masterVersion(): string | null {
    return this.version;
  }

  /** The DB numbers followed (after MetaSync: the master's). */
  get dbs(): number[] {
    return this.links.map((l) => l.db);
  }

  /** The link as a whole, with the offsets of `db` (default: the first DB followed). */
  status(db?: number): ReplicaStatus {
    const l = (db === undefined ? this.links[0] : this.links.find((x) => x.db === db)) ?? null;
    return {
      linkUp: l === null ? this.linkUp : l.state === 'connected',
      masterHost: this.opts.masterHost,
      masterPort: this.opts.masterPort,
      family: this.family,
      ...(this.version !== null ? { masterVersion: this.version } : this.family ? { masterVersion: FAMILY_VERSIONS[this.family] } : {}),
      ...(this.runId ? { runId: this.runId } : {}),
      ...(this.replicationId ? { replicationId: this.replicationId } : {}),
      sessionId: l?.sessionId ?? null,
      dbs: this.links.map((x) => ({ db: x.db, state: x.state })),
      masterOffset: l?.masterOffset ?? null,
      receivedOffset: l?.receivedOffset ?? null,
      ackedOffset: l?.ackedOffset ?? null,
      lastEntryExecTime: l?.lastEntryExecTime ?? null,
      entriesReceived: l?.entriesReceived ?? 0,
      bytesReceived: this.bytesReceived + (this.conn?.bytesReceived ?? 0),
      snapshot: l?.snapshot ? { ...l.snapshot } : null,
      lastError: this.lastError,
    };
  }

  private setState(l: DbLink, s: DbReplState): void {
    const linkUp = this.links.every((x) => (x === l ? s : x.state) === 'connected');
    if (s === l.state && linkUp === this.linkUp) return;
    l.state = s;
    this.linkUp = linkUp;
    this.log.info({ db: l.partition.table_name, state: s }, 'replication state');
    this.emit('state', this.status(l.db));
  }

  private get stopped(): boolean {
    return this.stopCtl.signal.aborted;
  }

  private node: NodeId | null = null;

  private async run(): Promise<void> {
    let failures = 0;
    try {
      await killStaleRsyncDaemon(this.opts.dbSyncPath, this.log);
    } catch (e) {
      this.lastError = (e as Error).message;
      this.log.error({ err: e }, 'replication stopped');
      for (const l of this.links) this.setState(l, 'error');
      this.emit('fatal', e instanceof FatalError ? e : new FatalError((e as Error).message));
      return;
    }
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
          for (const l of this.links) this.setState(l, 'error');
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
        for (const l of this.links) {
          l.sessionId = null;
          l.pending = new Fifo();
        }
        this.metaDone = false;
      }
      if (this.stopped) break;
      for (const l of this.links) this.setState(l, l.base === null || l.forceFull ? 'no_connect' : 'try_to_incr_sync');
      await sleep(delay, this.stopCtl.signal);
    }
  }

  /** One connection's life: returns or throws when it ends. */
  private async session(): Promise<void> {
    const { masterHost, masterPort } = this.opts;
    const conn = new ReplConnection(masterHost, masterPort + 2000, this.log, this.opts.maxFrameBytes);
    this.conn = conn;
    for (const l of this.links) this.setState(l, 'connecting');
    const ip = this.opts.localIp ?? (await this.probeLocalIp());
    await conn.connect(this.t.requestMs);
    if (this.stopped) return;
    const node: NodeId = { ip: ip ?? conn.localAddress ?? '127.0.0.1', port: this.opts.localPort };
    this.node = node;
    // Nothing an earlier connection's unanswered message touched is this one's.
    this.messageSeq++;
    conn.onBinlog = (r, at, endsMessage) => this.onBinlog(conn, r, at, endsMessage);
    const timers = this.startTimers(conn);
    try {
      await this.metaSync(conn, node);
      await this.learnVersion();
      // One DB after another: a DB streams as soon as it is synced, while the next takes its snapshot.
      for (const l of this.links) await this.syncDb(conn, node, l);
      throw await conn.closed;
    } finally {
      for (const t of timers) clearInterval(t);
    }
  }

  /** Brings one DB to BinlogSync: TrySync from its resume point, after a snapshot when it needs one. */
  private async syncDb(conn: ReplConnection, node: NodeId, l: DbLink): Promise<void> {
    const { masterHost, masterPort } = this.opts;
    const db = l.partition.table_name;
    for (;;) {
      if (l.forceFull || l.base === null) {
        await this.fullSync(conn, node, l);
        if (conn.isClosed) throw await conn.closed;
      }
      const from = this.resumePoint(l);
      this.setState(l, 'try_to_incr_sync');
      const reply = conn.expect(MsgType.TrySync, this.t.requestMs);
      this.sendFor(l, conn, { type: MsgType.TrySync, try_sync: { node, partition: l.partition, binlog_offset: { filenum: from.filenum, offset: from.offset } } });
      const r = await reply;
      const ts = r.try_sync;
      if (r.code !== Status.Ok || !ts) {
        throw new FatalError(`master ${masterHost}:${masterPort} refused TrySync of ${db} at ${fmt(from)}: code ${r.code} ${r.reply ?? ''}`.trim());
      }
      if (ts.partition && ts.partition.table_name !== db) {
        throw new CorruptionError(`TrySync reply for ${ts.partition.table_name} while ${db} asked`, `master ${conn.name}`);
      }
      if (ts.binlog_offset) l.masterOffset = pos(ts.binlog_offset);
      if (ts.reply_code === TrySyncReply.Ok) {
        l.sessionId = ts.session_id ?? 0;
        l.pending = new Fifo();
        l.lastHeaderCheck = from;
        this.log.info({ db, from: fmt(from), session: l.sessionId, masterOffset: fmt(l.masterOffset) }, 'TrySync accepted, streaming');
        this.sendFor(l, conn, this.binlogSync(l, node, this.wire(from), this.wire(from), true));
        this.setState(l, 'connected');
        return;
      }
      if (ts.reply_code === TrySyncReply.SyncPointBePurged) {
        if (this.opts.fullSyncOnPurge === false) {
          throw new FatalError(
            `master ${masterHost}:${masterPort} no longer has binlog ${fmt(from)} of ${db} (kSyncPointBePurged): only a new full sync can go on, and it is never taken on its own; SLAVEOF ${masterHost} ${masterPort} force takes one`,
          );
        }
        this.log.warn({ db, from: fmt(from), masterOffset: fmt(l.masterOffset) }, 'master purged the binlog at our offset: taking a new snapshot');
        l.forceFull = true;
        continue;
      }
      if (ts.reply_code === TrySyncReply.SyncPointLarger) {
        throw new FatalError(
          `our offset ${fmt(from)} of ${db} is ahead of the master's ${fmt(l.masterOffset)} (kSyncPointLarger): the master was reset or replaced, or the checkpoint is wrong; a forced full sync is needed`,
        );
      }
      throw new FatalError(`master rejected TrySync of ${db} at ${fmt(from)} (reply_code ${ts.reply_code}: not a record boundary or master error)`);
    }
  }

  private sendFor(l: DbLink, conn: ReplConnection, req: InnerRequest): void {
    conn.send(req);
    l.lastSentAt = Date.now();
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

  /** How many streams the master's `db` holds (3.5.3+), read on its client port P. */
  countStreams(db: number): Promise<{ count: number } | { count: null; why: string }> {
    const { masterHost, masterPort, masterAuth, masterClientAuth } = this.opts;
    const auth = masterClientAuth ?? (masterAuth ? { password: masterAuth } : undefined);
    return countPikaStreams(masterHost, masterPort, auth, Math.max(this.t.requestMs, 10_000), db);
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
    this.adoptDbs(master, m.tables_info ?? []);
    const family: Family | 'A/B' = m.tables_info?.[0]?.db_instance_num !== undefined ? 'D' : m.run_id !== undefined ? 'C' : this.family === 'B' ? 'B' : 'A/B';
    // A and B look alike on the wire (A/B): the version (learnVersion) or the stream told them apart.
    if (this.family !== null && this.family !== family && !((this.family === 'A' || this.family === 'B') && family === 'A/B')) {
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
      for (const l of this.links) l.forceFull = true;
    }
    if (this.family !== family) this.log.info({ family, versions: FAMILY_VERSIONS[family], runId: m.run_id, replicationId: m.replication_id }, 'master family detected from MetaSync');
    this.family = family;
    this.runId = m.run_id ?? this.runId;
    this.replicationId = m.replication_id ?? this.replicationId;
    this.metaDone = true;
  }

  /**
   * The master's DB list must be classic-mode `dbN`s with one partition each. With `dbs` in the
   * options (the conf's `databases`) the lists must be equal, as Pika's replica requires: a DB we
   * would not follow is data the operator did not ask to leave behind. Without, we follow all.
   */
  private adoptDbs(master: string, tables: ReadonlyArray<{ table_name: string; partition_num?: number }>): void {
    const names = tables.map((t) => t.table_name);
    for (const t of tables) {
      if (!/^db\d+$/.test(t.table_name)) throw new FatalError(`master ${master} has a DB named ${t.table_name}: only classic mode's db0…dbN-1 are supported`);
      if (t.partition_num !== undefined && t.partition_num !== 1) {
        throw new FatalError(`master ${master} reports ${t.partition_num} partitions for ${t.table_name}: only classic mode with one is supported`);
      }
    }
    if (this.opts.dbs === undefined && !this.metaDoneOnce) {
      this.links = [];
      this.byName.clear();
      for (const n of names.map((x) => Number(x.slice(2))).sort((a, b) => a - b)) this.addLink(n);
    }
    this.metaDoneOnce = true;
    const ours = this.links.map((l) => l.partition.table_name);
    if (names.length === 0 || names.length !== ours.length || !ours.every((n) => names.includes(n))) {
      throw new FatalError(
        `master ${master} has ${names.length} DBs (${names.join(', ') || 'none'}), we follow ${ours.length} (${ours.join(', ')}): set databases : ${names.length} in the conf (as on the master), then SLAVEOF ${master.replace(':', ' ')} force`,
      );
    }
  }

  private metaDoneOnce = false;

  private resumePoint(l: DbLink): BinlogPosition {
    const applied = this.opts.handler.appliedPosition(l.db);
    const base = l.base!;
    return applied !== null && compareBinlogPositions(applied, base) > 0 ? applied : base;
  }

  private get usesTermIndex(): boolean {
    return this.family === 'B' || this.family === 'C' || this.family === 'D';
  }

  private wire(p: BinlogPosition): WireOffset {
    return this.usesTermIndex ? { filenum: p.filenum, offset: p.offset, term: 0, index: 0 } : { filenum: p.filenum, offset: p.offset };
  }

  private binlogSync(l: DbLink, node: NodeId, start: WireOffset, end: WireOffset, first: boolean): InnerRequest {
    return {
      type: MsgType.BinlogSync,
      binlog_sync: { node, table_name: l.partition.table_name, partition_id: 0, ack_range_start: start, ack_range_end: end, session_id: l.sessionId ?? 0, first_send: first },
    };
  }

  private ping(conn: ReplConnection, l: DbLink): void {
    if (l.sessionId === null || this.node === null) return;
    const z = this.wire({ filenum: 0, offset: 0 });
    this.sendFor(l, conn, this.binlogSync(l, this.node, z, z, false));
  }

  private startTimers(conn: ReplConnection): NodeJS.Timeout[] {
    const ack = setInterval(() => {
      for (const l of this.links) this.tryAck(conn, l);
    }, this.t.ackPollMs);
    const keep = setInterval(
      () => {
        if (conn.isClosed) return;
        const now = Date.now();
        for (const l of this.links) if (l.sessionId !== null && now - l.lastSentAt >= this.t.pingIntervalMs) this.ping(conn, l);
        const streaming = this.links.filter((l) => l.sessionId !== null && (l.state === 'connected' || l.state === 'syncing_full'));
        const silentFor = now - conn.lastRecvAt;
        const idle = streaming.length > 0 && streaming.every((l) => l.pending.length === 0 && !l.applying);
        if (idle && silentFor > this.t.silenceMs) {
          this.log.warn({ silentForMs: silentFor }, 'master silent: reconnecting');
          conn.close(new LinkClosedError(`master ${conn.name} sent nothing for ${silentFor} ms`));
        }
      },
      Math.max(10, Math.min(1000, Math.floor(Math.min(this.t.pingIntervalMs, this.t.silenceMs) / 4))),
    );
    return [ack, keep];
  }

  /** Acks the longest prefix of the DB's window on the master that the handler reports as applied. */
  private tryAck(conn: ReplConnection, l: DbLink): void {
    if (conn.isClosed || l.sessionId === null || this.node === null || l.pending.length === 0) return;
    const applied = this.opts.handler.appliedPosition(l.db);
    if (applied === null) return;
    const pending = l.pending;
    if (compareBinlogPositions(pending.first(), applied) > 0) return;
    const start = pending.first();
    let end = start;
    while (pending.length > 0 && compareBinlogPositions(pending.first(), applied) <= 0) end = pending.shift();
    this.sendFor(l, conn, this.binlogSync(l, this.node, start, end, false));
    l.ackedOffset = pos(end);
  }

  private async onBinlog(conn: ReplConnection, r: InnerResponse, streamOffset: number, endsMessage: boolean): Promise<void> {
    // Error texts only: made when one is thrown, not for every entry streamed.
    const where = (): string => `master ${conn.name} stream byte ${streamOffset}`;
    if (r.code !== Status.Ok) throw new CorruptionError(`BinlogSync message with code ${r.code} ${r.reply ?? ''}`, where());
    const seq = this.messageSeq;
    for (const el of r.binlog_sync ?? []) {
      // A lost connection's remaining elements must not touch the window of the one replacing it.
      if (conn.isClosed) return;
      const l = this.byName.get(el.partition.table_name);
      // A DB we do not follow, or one not yet synced on this connection, has no business streaming.
      if (l === undefined) throw new CorruptionError(`BinlogSync element for ${el.partition.table_name}, which we never asked for`, where());
      l.touchedIn = seq;
      if (this.family === 'A/B' && el.binlog_offset?.term !== undefined) {
        this.family = 'B';
        this.log.info({ family: 'B', versions: FAMILY_VERSIONS.B }, 'master family refined from the stream: offsets carry term/index');
      }
      if (l.sessionId !== null && el.session_id !== l.sessionId) {
        // Pika's replica goes back to TrySync; a fresh connection does that and more.
        throw new LinkClosedError(`${where()}: session ${el.session_id} for ${l.partition.table_name} from the master, ours is ${l.sessionId}`);
      }
      const binlog = el.binlog ?? Buffer.alloc(0);
      if (binlog.length === 0) continue;
      if (l.state !== 'connected') throw new CorruptionError(`binlog entry for ${l.partition.table_name} before its BinlogSync activation`, where());
      if (!el.binlog_offset) throw new CorruptionError('binlog entry without binlog_offset', where());
      const end = pos(el.binlog_offset);
      const entry = decodeBinlogItem(binlog, l.db, end, () => `${l.partition.table_name} item ending at ${fmt(end)} (${where()})`);
      l.entriesIn = seq;
      this.sessionHadEntries = true;
      if (l.lastHeaderCheck && compareBinlogPositions(entry.headerPos, l.lastHeaderCheck) !== 0 && entry.headerPos.filenum + entry.headerPos.offset !== 0) {
        this.log.warn({ db: l.partition.table_name, header: fmt(entry.headerPos), previousEnd: fmt(l.lastHeaderCheck) }, 'binlog entry does not start where the previous one ended');
      }
      l.lastHeaderCheck = end;
      l.pending.push(el.binlog_offset);
      l.receivedOffset = end;
      if (l.masterOffset === null || compareBinlogPositions(end, l.masterOffset) > 0) l.masterOffset = end;
      if (l.inFlight !== null) await l.inFlight;
      // What a lost connection still held is sent again after TrySync from the applied offset.
      if (conn.isClosed) return;
      if (l.delivered !== null && compareBinlogPositions(end, l.delivered) <= 0) continue; // re-sent after a reconnect
      l.entriesReceived++;
      l.lastEntryExecTime = entry.execTime;
      const p = this.opts.handler.applyEntry(l.db, entry);
      l.delivered = end;
      if (p) {
        l.applying = true;
        l.inFlight = p;
        try {
          await p;
        } finally {
          l.applying = false;
          if (l.inFlight === p) l.inFlight = null;
        }
        if (conn.isClosed) return;
      }
    }
    // A large message comes one element at a time: it is answered once, as a small one is.
    if (!endsMessage) return;
    this.messageSeq++;
    for (const l of this.links) {
      if (l.touchedIn !== seq) continue;
      if (l.entriesIn === seq) this.tryAck(conn, l);
      else this.ping(conn, l);
    }
  }

  private async fullSync(conn: ReplConnection, node: NodeId, l: DbLink): Promise<void> {
    const { masterHost, masterPort, dbSyncPath } = this.opts;
    const name = l.partition.table_name;
    const dir = join(dbSyncPath, name);
    const ab = this.family === 'A' || this.family === 'B' || this.family === 'A/B';
    this.setState(l, 'try_to_full_sync');
    l.snapshot = { phase: 'requested', filesTotal: null, filesDone: 0, bytesReceived: 0, start: null };
    mkdirSync(dbSyncPath, { recursive: true });
    if (ab) {
      rmSync(dir, { recursive: true, force: true });
      for (const t of TYPE_DIRS) mkdirSync(join(dir, t), { recursive: true });
      // Only now, when a snapshot is due: a TrySync resume needs no daemon. Bound to the address
      // the master is told to push to, open to the master's address alone.
      await this.daemon?.stop();
      this.daemon = new RsyncDaemon({
        root: dbSyncPath,
        port: this.opts.localPort + 1000,
        address: this.opts.rsyncBindAddress ?? node.ip,
        allowFrom: await masterAddresses(masterHost, conn.remoteAddress),
        password: this.opts.masterAuth ?? '',
        logger: this.log,
      });
      this.daemon.grant(dir);
      await this.daemon.start();
    }
    const reply = conn.expect(MsgType.DBSync, this.t.requestMs);
    this.sendFor(l, conn, { type: MsgType.DBSync, db_sync: { node, partition: l.partition, binlog_offset: { filenum: 0, offset: 0 } } });
    const r = await reply;
    if (r.code !== Status.Ok || !r.db_sync || r.db_sync.session_id < 0) {
      throw new LinkClosedError(`master ${masterHost}:${masterPort} refused DBSync of ${name}: code ${r.code} ${r.reply ?? ''}`);
    }
    l.sessionId = r.db_sync.session_id;
    this.setState(l, 'syncing_full');
    l.snapshot.phase = 'transferring';
    this.log.info({ db: name, session: l.sessionId, family: this.family }, 'DBSync accepted, receiving the snapshot');

    let info: SnapshotInfo;
    if (ab) {
      const arrival = new SnapshotArrival();
      this.opts.handler.snapshotArriving?.(dir, l.db, arrival);
      try {
        info = await this.waitForPush(conn, dir, node, l, arrival);
      } catch (e) {
        arrival.abandon(e as Error);
        await this.opts.handler.snapshotAbandoned?.(l.db, e as Error);
        throw e;
      }
      // info comes only after every dir's push succeeded (observed N5/N6).
      for (const t of TYPE_DIRS) arrival.markReady(t);
      // info comes last, so nothing more is pushed: the daemon is signalled now (it takes no new
      // connection) but its exit (rsync lingers ~400 ms on SIGTERM) is not waited for here; the
      // load starts at once. Every later stop (ours, a fatal error's, the next snapshot's start)
      // shares this one and waits for the exit, so the daemon never outlives the replica.
      this.stopDaemonInBackground();
    } else {
      info = await this.pull(conn, dir, l);
    }
    if (info.masterPort !== masterPort) {
      this.log.warn({ infoHost: info.masterHost, infoPort: info.masterPort }, 'snapshot info names another master address than the one we dialled');
    }
    l.snapshot.start = info.start;
    l.snapshot.phase = 'loading';
    this.log.info({ db: name, start: fmt(info.start), dir }, 'snapshot complete, loading');
    this.emit('state', this.status(l.db));
    await this.opts.handler.loadSnapshot(dir, l.db, info.start);
    l.snapshot.phase = 'done';
    l.base = info.start;
    l.delivered = info.start;
    l.receivedOffset = info.start;
    l.forceFull = false;
    l.pending = new Fifo();
  }

  private stopDaemonInBackground(): void {
    const daemon = this.daemon;
    if (daemon === null) return;
    const t0 = Date.now();
    void daemon.stop().then(() => this.log.info({ ms: Date.now() - t0 }, 'rsync daemon stopped'));
  }

  private async waitForPush(conn: ReplConnection, dir: string, node: NodeId, l: DbLink, arrival: SnapshotArrival): Promise<SnapshotInfo> {
    const daemon = this.daemon!;
    const logStart = daemon.logSize();
    const target = `${node.ip}:${node.port + 1000}`;
    const started = Date.now();
    const baseline = daemon.connectionsSeen();
    const deniedBefore = daemon.deniedAddresses().length;
    const authFailedBefore = daemon.authFailures().length;
    let lastProgress = Date.now();
    let lastSize = -1;
    let lastLog = daemon.logSize();
    let lastCheck = 0;
    const infoPath = join(dir, 'info');
    const closed = abortedWhenSettled(conn.closed);
    for (;;) {
      if (conn.isClosed) throw await conn.closed;
      if (this.stopped) throw new LinkClosedError('stopped');
      if (existsSync(infoPath)) {
        l.snapshot!.bytesReceived = dirSize(dir);
        return parseInfoFile(readFileSync(infoPath, 'utf8'), infoPath);
      }
      if (daemon.failure) throw daemon.failure;
      if (TYPE_DIRS.some((t) => !arrival.isReady(t))) {
        for (const t of pushedDirs(daemon.logSince(logStart), RSYNC_MODULE, l.partition.table_name)) arrival.markReady(t);
      }
      const now = Date.now();
      if (now - lastCheck >= 250) {
        lastCheck = now;
        const refusedAuth = daemon.authFailures().slice(authFailedBefore);
        if (refusedAuth.length > 0) {
          // The master sends its own requirepass (or `default`), written to a file at its start, and never retries.
          throw new FatalError(
            `the master's push from ${refusedAuth[0]} failed our rsync password: a 3.2–3.4 master pushes with its requirepass as it was when it started (or "default" without one), and we expect masterauth${this.opts.masterAuth ? '' : ' (empty: "default")'}; make them equal (restart the master after changing its requirepass), then SLAVEOF ${this.opts.masterHost} ${this.opts.masterPort} force`,
          );
        }
        const denied = daemon.deniedAddresses().slice(deniedBefore);
        if (denied.length > 0) {
          throw new FatalError(
            `our rsync daemon turned away a push from ${denied[0]}: it lets in only the master's address (${this.opts.masterHost}, reached at ${conn.remoteAddress ?? '?'}); the master pushes from another of its addresses: SLAVEOF ${denied[0]} ${this.opts.masterPort} force follows it by that one`,
          );
        }
        const size = dirSize(dir);
        const logSize = daemon.logSize();
        if (size !== lastSize || logSize !== lastLog) {
          lastSize = size;
          lastLog = logSize;
          lastProgress = now;
          l.snapshot!.bytesReceived = size;
        }
        if (daemon.connectionsSeen() === baseline && now - started > this.t.snapshotConnectMs) {
          throw new FatalError(
            `the master never connected to our rsync daemon within ${this.t.snapshotConnectMs} ms: a ${this.family} master pushes the snapshot to ${target} (the ip we reported + our port + 1000); make sure the master can reach that address and port (firewall, NAT, localIp setting)`,
          );
        }
        if (now - lastProgress > this.t.snapshotStallMs) {
          throw new FatalError(
            `snapshot push into ${target} made no progress for ${this.t.snapshotStallMs} ms and ${l.partition.table_name}/info never arrived (the master does not report failed pushes; check its log for "RSync send file failed"; rsync daemon log: ${daemon.logTail()})`,
          );
        }
      }
      // Closer while type dirs are still due: a dir's load starts at the first look after its push ended.
      const pollMs = TYPE_DIRS.every((t) => arrival.isReady(t)) ? 50 : 15;
      await sleep(pollMs, closed);
    }
  }

  private async pull(conn: ReplConnection, dir: string, l: DbLink): Promise<SnapshotInfo> {
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
          dbName: l.partition.table_name,
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
            if (l.snapshot) {
              l.snapshot.filesTotal = p.filesTotal;
              l.snapshot.filesDone = p.filesDone;
              l.snapshot.bytesReceived = p.bytesReceived;
            }
          },
        });
        if (l.snapshot) l.snapshot.bytesReceived = dirSize(dir);
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

/**
 * The addresses an A/B master may push from: the one our connection reached, and every address
 * its name resolves to (its outgoing address towards us is usually one of them).
 */
async function masterAddresses(host: string, reached: string | undefined): Promise<string[]> {
  const out = new Set<string>();
  const add = (a: string) => out.add(a.replace(/^::ffff:/, ''));
  if (reached !== undefined) add(reached);
  if (isIP(host) !== 0) add(host);
  else {
    try {
      for (const a of await lookup(host, { all: true })) add(a.address);
    } catch {
      // the connection's own address is enough
    }
  }
  return [...out];
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
