import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BinlogPosition } from '../../src/core/binlog.js';
import { compareBinlogPositions } from '../../src/core/binlog.js';
import { FrameDecoder, encodeFrame } from '../../src/replication/framing.js';
import {
  MsgType,
  RsyncStatus,
  RsyncType,
  Status,
  TrySyncReply,
  decodeRequestStrict,
  decodeRsyncRequestStrict,
  encodeResponse,
  encodeRsyncResponse,
  type InnerRequest,
  type InnerResponse,
  type RsyncRequest,
  type WireOffset,
} from '../../src/replication/messages.js';
import { BinlogLog } from './binlog-log.js';
import { pushSnapshot, type PushResult } from './rsync-push.js';
import { serveClientPort, type ClientPortUser } from './client-port.js';
import type { PikaKeyspace } from './pika-keyspace.js';

/**
 * A Pika master test double (spec §8), families A, B (push into the replica's rsync daemon) and
 * C, D (rsync service on P+10001). Strict like the real one: a request that does not parse closes
 * the connection, an unknown ack range closes it, "Slave AlreadyExist" while the old socket lives.
 */
export type MasterFamily = 'A' | 'B' | 'C' | 'D';

export interface FakeMasterOptions {
  family: MasterFamily;
  /** Directory copied as the dump (`strings hashes …` or `0 1 …`); its own `info` is replaced. */
  snapshotSource: string;
  /** Per DB name, another dump directory than `snapshotSource`. */
  snapshotSources?: Record<string, string>;
  requirepass?: string;
  host?: string;
  /** A/B: the source address the push comes from (a multi-homed master's other address). */
  pushFrom?: string;
  windowSize?: number;
  /** Keepalive interval (A 10 s, B–D 2 s) and drop-after-silence (20 s). */
  keepaliveMs?: number;
  dropAfterMs?: number;
  binlogFileSize?: number;
  /** C/D: meta answers kErr for this long after a DBSync ("bgsave running"). */
  bgsaveMs?: number;
  /** C/D: largest reply the rsync service sends (Pika: 16 MiB block). */
  rsyncBlockBytes?: number;
  /** DB list in MetaSync (default [db0]). */
  dbs?: string[];
  classicMode?: boolean;
  /** D: db_instance_num. */
  dbInstanceNum?: number;
  /** `pika_version` in `INFO server` on P (default: the family's observed version). */
  version?: string;
  /** What P serves to verify's reads (SCANX, TYPE, PTTL, GET, HSCAN, …); none: those are refused. */
  keyspace?: PikaKeyspace;
  /** ACL users on P (Pika 3.5.3+ only: older versions know no `AUTH <user> <password>`). */
  clientUsers?: Record<string, ClientPortUser>;
}

/** The Pika versions the fixtures were observed on, one per family. */
export const FAMILY_DEFAULT_VERSION: Record<MasterFamily, string> = { A: '3.2.7', B: '3.3.6', C: '3.5.5', D: '4.0.1' };

interface DbReplica {
  db: string;
  ip: string;
  port: number;
  session: number;
  state: 'NotSync' | 'DbSync' | 'BinlogSync';
  conn: ConnState;
  window: WireOffset[];
  /** Next binlog seq to send. */
  cursor: number;
  sent: BinlogPosition;
  acked: BinlogPosition;
  lastRecvAt: number;
  lastSendAt: number;
}

interface ConnState {
  id: number;
  socket: Socket;
  /** Server-level registration key `ip:port` added by a successful MetaSync on this connection. */
  slaveKey: string | null;
}

export interface MasterEvent {
  kind: string;
  detail?: unknown;
}

export class FakeMaster {
  readonly family: MasterFamily;
  readonly host: string;
  port = 0;
  /** db0's binlog (see `logOf` for the others: Pika keeps one binlog per DB). */
  readonly log: BinlogLog;
  private readonly logs = new Map<string, BinlogLog>();
  readonly workDir: string;
  readonly events: MasterEvent[] = [];
  readonly requests: InnerRequest[] = [];
  readonly pushes: PushResult[] = [];
  runId = randomBytes(20).toString('hex');
  replicationId = randomBytes(25).toString('hex');

  private servers: Server[] = [];
  private sockets = new Set<Socket>();
  private slaves = new Map<string, ConnState>();
  /** Per DB name, the registered replica of it (Pika: a slave node per partition). */
  private replicas = new Map<string, DbReplica>();
  private sessionCounter = 0;
  private connCounter = 0;
  private timer: NodeJS.Timeout | null = null;
  private stalled = false;
  private corruptNext = false;
  private dumps = new Map<string, { dir: string; info: string }>();
  private bgsaveUntil = new Map<string, number>();
  private failNextPush = false;
  private infoHeld: Promise<void> | null = null;
  dumpsMade = 0;
  private readonly o: Required<Omit<FakeMasterOptions, 'requirepass' | 'dbInstanceNum' | 'snapshotSources' | 'keyspace' | 'clientUsers' | 'pushFrom'>> &
    Pick<FakeMasterOptions, 'requirepass' | 'dbInstanceNum' | 'snapshotSources' | 'keyspace' | 'clientUsers' | 'pushFrom'>;

  constructor(opts: FakeMasterOptions) {
    this.family = opts.family;
    const bPlus = opts.family !== 'A';
    this.o = {
      host: '127.0.0.1',
      windowSize: 9000,
      keepaliveMs: bPlus ? 2000 : 10000,
      dropAfterMs: 20000,
      binlogFileSize: 100 * 1024 * 1024,
      bgsaveMs: 0,
      rsyncBlockBytes: 16 * 1024 * 1024,
      dbs: ['db0'],
      classicMode: true,
      version: FAMILY_DEFAULT_VERSION[opts.family],
      ...opts,
    };
    this.host = this.o.host;
    for (const db of this.o.dbs) {
      this.logs.set(
        db,
        new BinlogLog({
          fileSize: this.o.binlogFileSize,
          termOrServerId: bPlus ? 0 : 1,
          firstLogicId: opts.family === 'C' || opts.family === 'D' ? 1n : 0n,
        }),
      );
    }
    this.log = this.logs.get(this.o.dbs[0]) ?? this.logs.values().next().value!;
    this.workDir = mkdtempSync(join(tmpdir(), 'pm-master-'));
  }

  private get bPlus(): boolean {
    return this.family !== 'A';
  }
  private get pull(): boolean {
    return this.family === 'C' || this.family === 'D';
  }

  /** Listens on P (client port: AUTH, PING, INFO), P+2000 and (C/D) P+10001, choosing P so all are free. */
  async start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      // Bound at once, so no other listener can take the ports between a check and the listen;
      // above pikaPort's and replicaPort's ranges (test/helpers/ports.ts), which are checked first.
      const p = 23000 + Math.floor(Math.random() * 9000);
      try {
        await this.listenAll(p);
        this.port = p;
        break;
      } catch (e) {
        for (const s of this.servers) s.close();
        this.servers = [];
        if (attempt > 20) throw e;
      }
    }
    this.timer = setInterval(() => this.tick(), 50);
  }

  private async listenAll(p: number): Promise<void> {
    const listen = (port: number, onConn: (s: Socket) => void) =>
      new Promise<void>((resolve, reject) => {
        const srv = createServer(onConn);
        srv.once('error', reject);
        srv.listen(port, this.host, () => {
          this.servers.push(srv);
          resolve();
        });
      });
    await listen(p, (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
      serveClientPort(s, {
        version: this.o.version,
        requirepass: this.o.requirepass ?? '',
        users: this.o.clientUsers,
        port: p,
        keyspace: this.o.keyspace,
        onCommand: (cmd, user) => this.events.push({ kind: 'client-command', detail: user === undefined ? cmd : `${cmd} as ${user}` }),
      });
    });
    await listen(p + 2000, (s) => this.onReplConn(s));
    if (this.pull) await listen(p + 10001, (s) => this.onRsyncConn(s));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
    this.servers = [];
    rmSync(this.workDir, { recursive: true, force: true });
  }

  // ---- controls for tests ----

  /** Logs a write command into `db`'s binlog; it streams to a replica of it in BinlogSync state. Returns its end offset. */
  write(argv: ReadonlyArray<Buffer | string>, db = 'db0'): BinlogPosition {
    const it = this.logOf(db).append(argv);
    this.pump(db);
    return it.end;
  }

  /** The binlog of one DB. */
  logOf(db: string): BinlogLog {
    const log = this.logs.get(db);
    if (log === undefined) throw new Error(`this master has no ${db} (dbs: ${this.o.dbs.join(', ')})`);
    return log;
  }

  /** Closes every replication connection (as a network cut would). */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** Stops sending anything (entries and keepalives) until resumed. */
  stall(on: boolean): void {
    this.stalled = on;
    if (!on) for (const db of this.replicas.keys()) this.pump(db);
  }

  /** The next frame sent to the replica gets an absurd length prefix. */
  corruptNextFrame(): void {
    this.corruptNext = true;
  }

  /**
   * A/B: the next push sends `info` only once the returned function is called (its type dirs are
   * pushed meanwhile), so a replica can be caught between its type dirs and its binlog offset.
   */
  holdNextInfo(): () => void {
    let release!: () => void;
    this.infoHeld = new Promise<void>((r) => (release = r));
    return () => release();
  }

  /** The next A/B push fails before `info` (as an rsync auth failure would). */
  failNextPushOnce(): void {
    this.failNextPush = true;
  }

  /** Purges binlog files below `n` (§3.5.7 protection of a BinlogSync/DbSync replica unless forced). */
  purgeBelow(n: number, force = false, db = 'db0'): number[] {
    let limit = n;
    const r = this.replicas.get(db);
    if (!force && r) {
      if (r.state === 'DbSync') return [];
      if (r.state === 'BinlogSync') limit = Math.min(limit, r.acked.filenum);
    }
    const gone = this.logOf(db).purgeBelow(limit);
    this.events.push({ kind: 'purge', detail: gone });
    return gone;
  }

  /** Simulates a master restart: every connection and registration is lost; the binlog stays. */
  async restart(): Promise<void> {
    this.dropConnections();
    this.replicas.clear();
    this.slaves.clear();
    if (this.family === 'C' || this.family === 'D') this.runId = randomBytes(20).toString('hex');
    this.events.push({ kind: 'restart' });
  }

  /** C/D: make a new dump now (changes the snapshot uuid). */
  redump(db = 'db0'): void {
    this.makeDump(db);
  }

  get replicaState(): DbReplica | null {
    return this.replicas.get('db0') ?? null;
  }

  replicaOf(db: string): DbReplica | null {
    return this.replicas.get(db) ?? null;
  }

  get snapshotInfo(): string {
    return this.dumps.get('db0')?.info ?? '';
  }
  get snapshotDir(): string | null {
    return this.dumps.get('db0')?.dir ?? null;
  }

  // ---- P+2000 ----

  private onReplConn(socket: Socket): void {
    const conn: ConnState = { id: ++this.connCounter, socket, slaveKey: null };
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const dec = new FrameDecoder(`replica conn ${conn.id}`);
    this.events.push({ kind: 'connect', detail: conn.id });
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const f of dec.push(chunk)) {
          const req = decodeRequestStrict(f.body, `conn ${conn.id} byte ${f.streamOffset}`);
          this.requests.push(req);
          this.handle(conn, req);
          if (socket.destroyed) return;
        }
      } catch (e) {
        this.events.push({ kind: 'bad-request', detail: (e as Error).message });
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.once('close', () => {
      this.sockets.delete(socket);
      if (conn.slaveKey && this.slaves.get(conn.slaveKey) === conn) this.slaves.delete(conn.slaveKey);
      for (const [db, r] of this.replicas) if (r.conn === conn) this.replicas.delete(db);
      this.events.push({ kind: 'close', detail: conn.id });
    });
  }

  private send(conn: ConnState, res: InnerResponse): void {
    if (conn.socket.destroyed) return;
    let frame = encodeResponse(res);
    if (this.corruptNext) {
      this.corruptNext = false;
      frame = Buffer.from(frame);
      frame.writeUInt32BE(0x7ffffff0, 0);
      this.events.push({ kind: 'corrupted-frame' });
    }
    conn.socket.write(frame);
  }

  private close(conn: ConnState, why: string): void {
    this.events.push({ kind: 'close-by-master', detail: why });
    conn.socket.destroy();
  }

  private partition(db: string): { table_name: string; partition_id: number } {
    return { table_name: db, partition_id: 0 };
  }

  private handle(conn: ConnState, req: InnerRequest): void {
    const body = { 1: req.meta_sync, 2: req.try_sync, 3: req.db_sync, 4: req.binlog_sync, 6: req.remove_slave_node?.[0] }[req.type];
    // Pika dereferences the sub-message of the type; a missing one is a broken request.
    if (body === undefined) return this.close(conn, `request type ${req.type} without its message`);
    switch (req.type) {
      case MsgType.MetaSync:
        return this.onMetaSync(conn, req);
      case MsgType.TrySync:
        return this.onTrySync(conn, req);
      case MsgType.DBSync:
        return this.onDBSync(conn, req);
      case MsgType.BinlogSync:
        return this.onBinlogSync(conn, req);
      case MsgType.RemoveSlaveNode:
        return this.onRemove(conn, req);
      default:
        return this.close(conn, `unknown request type ${req.type}`);
    }
  }

  private onMetaSync(conn: ConnState, req: InnerRequest): void {
    const m = req.meta_sync;
    if (!m) return this.close(conn, 'MetaSync without meta_sync');
    const pass = this.o.requirepass ?? '';
    if (pass !== '' && m.auth !== pass) {
      return this.send(conn, { type: MsgType.MetaSync, code: Status.Error, reply: 'Auth with master error, Invalid masterauth' });
    }
    const key = `${m.node.ip}:${m.node.port}`;
    const existing = this.slaves.get(key);
    if (existing && existing !== conn && !existing.socket.destroyed) {
      return this.send(conn, { type: MsgType.MetaSync, code: this.family === 'A' ? Status.Error : Status.Other, reply: 'Slave AlreadyExist' });
    }
    this.slaves.set(key, conn);
    conn.slaveKey = key;
    const tables = this.o.dbs.map((name) => ({
      table_name: name,
      partition_num: 1,
      ...(this.family === 'D' ? { db_instance_num: this.o.dbInstanceNum ?? 3 } : {}),
    }));
    this.send(conn, {
      type: MsgType.MetaSync,
      code: Status.Ok,
      meta_sync: {
        classic_mode: this.o.classicMode,
        tables_info: tables,
        ...(this.pull ? { run_id: this.runId, replication_id: this.replicationId } : {}),
      },
    });
  }

  /**
   * Registers (ip, port) for db0 or reuses its registration (§3.3 step 6). A new one starts as
   * sent and acked up to `from` (the TrySync point, or the dump's offset): nothing after it has
   * reached the replica yet.
   */
  private register(conn: ConnState, db: string, ip: string, port: number, from: BinlogPosition): DbReplica {
    const r = this.replicas.get(db);
    if (r && r.ip === ip && r.port === port) {
      r.conn = conn;
      return r;
    }
    const now = Date.now();
    const fresh: DbReplica = {
      db,
      ip,
      port,
      session: this.sessionCounter++,
      state: 'NotSync',
      conn,
      window: [],
      cursor: this.logOf(db).endSeq,
      sent: { ...from },
      acked: { ...from },
      lastRecvAt: now,
      lastSendAt: now,
    };
    this.replicas.set(db, fresh);
    this.events.push({ kind: 'register', detail: fresh.session });
    return fresh;
  }

  private onTrySync(conn: ConnState, req: InnerRequest): void {
    const t = req.try_sync!;
    const db = t.partition.table_name;
    if (!this.logs.has(db) || t.partition.partition_id !== 0) {
      return this.send(conn, { type: MsgType.TrySync, code: Status.Error, reply: 'Partition not found' });
    }
    const log = this.logOf(db);
    const m = log.producer;
    const want = { filenum: t.binlog_offset.filenum, offset: t.binlog_offset.offset };
    const reply = (code: number, session?: number) =>
      this.send(conn, {
        type: MsgType.TrySync,
        code: Status.Ok,
        try_sync: { reply_code: code, partition: this.partition(db), binlog_offset: { filenum: m.filenum, offset: m.offset }, ...(session !== undefined ? { session_id: session } : {}) },
      });
    if (compareBinlogPositions(m, want) < 0) return reply(TrySyncReply.SyncPointLarger);
    if (!log.hasFile(want.filenum)) return reply(TrySyncReply.SyncPointBePurged);
    if (!log.isBoundary(want)) return reply(TrySyncReply.Error);
    const r = this.register(conn, db, t.node.ip, t.node.port, want);
    this.events.push({ kind: 'trysync', detail: db === 'db0' ? want : { db, ...want } });
    reply(TrySyncReply.Ok, r.session);
  }

  private onDBSync(conn: ConnState, req: InnerRequest): void {
    const d = req.db_sync!;
    const db = d.partition.table_name;
    if (!this.logs.has(db) || d.partition.partition_id !== 0) {
      return this.send(conn, { type: MsgType.DBSync, code: Status.Error, reply: 'Partition not found' });
    }
    const r = this.register(conn, db, d.node.ip, d.node.port, this.logOf(db).producer);
    this.send(conn, { type: MsgType.DBSync, code: Status.Ok, db_sync: { partition: this.partition(db), session_id: r.session } });
    this.makeDump(db);
    if (this.pull) {
      r.state = 'DbSync';
      this.bgsaveUntil.set(db, Date.now() + this.o.bgsaveMs);
      return;
    }
    const failing = this.failNextPush;
    this.failNextPush = false;
    const held = this.infoHeld;
    this.infoHeld = null;
    const ip = d.node.ip;
    const port = d.node.port + 1000;
    // The push runs on its own, after the reply, and tells the replica nothing.
    const dump = this.dumps.get(db)!;
    void pushSnapshot({
      dumpDir: dump.dir,
      dbName: db,
      ip,
      port,
      password: failing ? 'wrong-password-on-purpose' : (this.o.requirepass ?? ''),
      workDir: this.workDir,
      info: dump.info,
      ...(this.o.pushFrom !== undefined ? { from: this.o.pushFrom } : {}),
      ...(held !== null ? { beforeInfo: () => held } : {}),
    }).then((res) => {
      this.pushes.push(res);
      this.events.push({ kind: 'push', detail: res.ok });
    });
  }

  private makeDump(db: string): void {
    const dir = join(this.workDir, 'dump', `${Date.now()}-${this.dumpsMade}`, db);
    mkdirSync(dir, { recursive: true });
    const source = this.o.snapshotSources?.[db] ?? this.o.snapshotSource;
    for (const name of readdirSync(source)) {
      if (name === 'info') continue;
      cpSync(join(source, name), join(dir, name), { recursive: true });
    }
    const p = this.logOf(db).producer;
    const info = `${this.bPlus ? '1s' : '0s'}\n${this.host}\n${this.port}\n${p.filenum}\n${p.offset}\n`;
    writeFileSync(join(dir, 'info'), info);
    const old = this.dumps.get(db);
    if (old) rmSync(join(old.dir, '..'), { recursive: true, force: true });
    this.dumps.set(db, { dir, info });
    this.dumpsMade++;
    this.events.push({ kind: 'dump', detail: db === 'db0' ? p : { db, ...p } });
  }

  private onBinlogSync(conn: ConnState, req: InnerRequest): void {
    const b = req.binlog_sync!;
    const r = this.replicas.get(b.table_name);
    if (!r || r.ip !== b.node.ip || r.port !== b.node.port || r.session !== b.session_id) {
      this.events.push({ kind: 'ignored-binlogsync', detail: b.session_id });
      return;
    }
    r.conn = conn;
    r.lastRecvAt = Date.now();
    const s = b.ack_range_start;
    const e = b.ack_range_end;
    if (b.first_send) {
      if (s.filenum !== e.filenum || s.offset !== e.offset) return this.close(conn, 'first_send with start != end');
      const at = { filenum: s.filenum, offset: s.offset };
      r.state = 'BinlogSync';
      r.sent = at;
      r.acked = at;
      r.window = [];
      r.cursor = this.logOf(r.db).seqAfter(at);
      this.events.push({ kind: 'activate', detail: r.db === 'db0' ? at : { db: r.db, ...at } });
      this.pump(r.db);
      return;
    }
    if (s.filenum === 0 && s.offset === 0 && e.filenum === 0 && e.offset === 0) return; // ping
    if (r.state !== 'BinlogSync') return this.close(conn, 'ack before BinlogSync activation');
    const find = (w: WireOffset) => r.window.findIndex((x) => x.filenum === w.filenum && x.offset === w.offset);
    const si = find(s);
    const ei = find(e);
    if (si < 0 || ei < 0 || ei < si) return this.close(conn, `ack ${s.filenum}:${s.offset}..${e.filenum}:${e.offset} not found in the window`);
    if (si !== 0) return this.close(conn, `ack ${s.filenum}:${s.offset} skips unacked entries before it`);
    const last = r.window[ei];
    r.window.splice(0, ei + 1);
    r.acked = { filenum: last.filenum, offset: last.offset };
    this.events.push({ kind: 'ack', detail: r.db === 'db0' ? { start: { ...s }, end: { ...e } } : { db: r.db, start: { ...s }, end: { ...e } } });
    this.pump(r.db);
  }

  private onRemove(conn: ConnState, req: InnerRequest): void {
    const all = req.remove_slave_node ?? [];
    if (all.length === 0) return this.close(conn, 'RemoveSlaveNode without element');
    for (const rm of all) {
      const db = rm.partition.table_name;
      const r = this.replicas.get(db);
      if (r && r.ip === rm.node.ip && r.port === rm.node.port) this.replicas.delete(db);
    }
    this.events.push({ kind: 'remove-slave', detail: all[0].node });
    this.send(conn, {
      type: MsgType.RemoveSlaveNode,
      code: Status.Ok,
      remove_slave_node: all.map((rm) => ({ node: { ip: this.host, port: this.port }, partition: this.partition(rm.partition.table_name) })),
    });
  }

  private offsetOf(end: BinlogPosition, logicId: bigint): WireOffset {
    return this.bPlus ? { filenum: end.filenum, offset: end.offset, term: 0, index: Number(logicId) } : { filenum: end.filenum, offset: end.offset };
  }

  /** Reads binlog into the window and sends it, ≤ 100 entries per message. */
  private pump(db: string): void {
    const r = this.replicas.get(db);
    const log = this.logOf(db);
    if (!r || r.state !== 'BinlogSync' || this.stalled || r.conn.socket.destroyed) return;
    const batch: NonNullable<InnerResponse['binlog_sync']> = [];
    const flush = () => {
      if (batch.length === 0) return;
      this.send(r.conn, { type: MsgType.BinlogSync, code: Status.Ok, binlog_sync: batch.splice(0) });
      r.lastSendAt = Date.now();
    };
    while (r.window.length < this.o.windowSize && r.cursor < log.endSeq) {
      const it = log.get(r.cursor);
      if (!it) break; // purged under the reader: a real master logs "Read Binlog error" and goes silent
      const off = this.offsetOf(it.end, it.logicId);
      r.window.push(off);
      r.sent = it.end;
      r.cursor++;
      batch.push({ partition: this.partition(db), binlog_offset: off, binlog: it.item, session_id: r.session });
      if (batch.length === 100) flush();
    }
    flush();
  }

  private tick(): void {
    for (const r of [...this.replicas.values()]) this.tickDb(r);
  }

  private tickDb(r: DbReplica): void {
    const now = Date.now();
    if (now - r.lastRecvAt > this.o.dropAfterMs) {
      // Only the DB registration goes; the ip:port entry stays until the socket closes.
      this.events.push({ kind: 'drop-replica', detail: r.session });
      this.replicas.delete(r.db);
      return;
    }
    if (this.stalled) return;
    const allAcked = compareBinlogPositions(r.sent, r.acked) === 0;
    if (now - r.lastSendAt >= this.o.keepaliveMs && (this.family === 'A' || allAcked)) {
      this.send(r.conn, {
        type: MsgType.BinlogSync,
        code: Status.Ok,
        binlog_sync: [{ partition: this.partition(r.db), binlog_offset: this.offsetOf({ filenum: 0, offset: 0 }, 0n), binlog: Buffer.alloc(0), session_id: r.session }],
      });
      r.lastSendAt = now;
    }
    if (r.state === 'BinlogSync' && allAcked) this.pump(r.db);
  }

  // ---- P+10001 (C/D) ----

  private onRsyncConn(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const dec = new FrameDecoder('rsync service conn');
    socket.on('error', () => {});
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const f of dec.push(chunk)) {
          const req = decodeRsyncRequestStrict(f.body, `rsync conn byte ${f.streamOffset}`);
          if (req.reader_index < 0 || req.reader_index > 3) throw new Error(`reader_index ${req.reader_index} out of 0..3`);
          const res = this.serveRsync(req);
          if (this.stalled) continue;
          socket.write(encodeRsyncResponse(res));
        }
      } catch (e) {
        this.events.push({ kind: 'bad-rsync-request', detail: (e as Error).message });
        socket.destroy();
      }
    });
  }

  private serveRsync(req: RsyncRequest): Parameters<typeof encodeRsyncResponse>[0] {
    const base = { type: req.type, reader_index: req.reader_index, db_name: req.db_name, slot_id: 0 };
    const dump = this.dumps.get(req.db_name);
    if (dump === undefined || Date.now() < (this.bgsaveUntil.get(req.db_name) ?? 0)) {
      return { ...base, snapshot_uuid: '', code: RsyncStatus.Err };
    }
    const uuid = createHash('md5').update(dump.info).digest('hex');
    if (req.type === RsyncType.Meta) {
      const names: string[] = [];
      const order = this.family === 'D' ? readdirSync(dump.dir).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(a) - Number(b)) : ['strings', 'hashes', 'lists', 'zsets', 'sets'];
      for (const t of order) {
        const p = join(dump.dir, t);
        try {
          if (!statSync(p).isDirectory()) continue;
        } catch {
          continue;
        }
        for (const f of readdirSync(p)) names.push(`${t}/${f}`);
      }
      names.push('info');
      this.events.push({ kind: 'rsync-meta', detail: names.length });
      return { ...base, snapshot_uuid: uuid, code: RsyncStatus.Ok, meta_resp: { filenames: names } };
    }
    const fr = req.file_req;
    if (!fr) return { ...base, snapshot_uuid: uuid, code: RsyncStatus.Err };
    this.events.push({ kind: 'rsync-file', detail: { filename: fr.filename, offset: fr.offset, count: fr.count, reader: req.reader_index } });
    try {
      const fd = openSync(join(dump.dir, fr.filename), 'r');
      try {
        const size = fstatSync(fd).size;
        const block = this.o.rsyncBlockBytes;
        const toBlockEnd = block - (fr.offset % block);
        const count = Math.max(0, Math.min(fr.count, toBlockEnd, size - fr.offset));
        const data = Buffer.alloc(count);
        if (count > 0) readSync(fd, data, 0, count, fr.offset);
        return {
          ...base,
          snapshot_uuid: uuid,
          code: RsyncStatus.Ok,
          file_resp: { eof: fr.offset + count >= size ? 1 : 0, count, offset: fr.offset, data, checksum: '', filename: fr.filename },
        };
      } finally {
        closeSync(fd);
      }
    } catch {
      return { ...base, snapshot_uuid: uuid, code: RsyncStatus.Err };
    }
  }
}

/** Raw frame helper for tests that need to put bytes on the wire. */
export { encodeFrame };
export function readSnapshotInfo(dir: string): string {
  return readFileSync(join(dir, 'info'), 'utf8');
}
