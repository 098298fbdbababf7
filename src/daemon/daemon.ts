import { AdminServer, isLoopback } from '../admin/server.js';
import { runAdminCommand, type AdminContext } from '../admin/commands.js';
import { renderInfo, type InfoData, type PikaLinkState } from '../admin/info.js';
import type { Config } from '../config/load.js';
import { RUNTIME_KEYS, schema } from '../config/schema.js';
import { shownValue } from '../core/secrets.js';
import { logFatal, type Logger } from '../core/log.js';
import { ConfigError, FatalError, TargetLostWritesError } from '../core/errors.js';
import { formatPosition } from '../core/position.js';
import type { Server } from 'node:http';
import { CheckpointStore, type Checkpoint } from '../ops/checkpoint.js';
import { DirSizes } from '../ops/dir-size.js';
import { RateMeter } from '../ops/rate-meter.js';
import { MasterLink } from './master-link.js';
import type { Migration } from './migration.js';
import { dbRoutesOf, type DbRoute } from './db-map.js';
import { localAddressOf } from './network.js';
import { metricsOf, migrateInfo, replicationExtra } from './status-info.js';
import { newRunId, version } from './server-info.js';
import { pikaSections, replicationBytesIn } from './pika-info.js';
import { keyFilterOf, keyRenamerOf } from './key-filter.js';
import { loadSettingsOf, openLoadResume, type LoadResume } from './load-resume.js';
import { Targets } from './target.js';
import { flushOrRefused } from './flush-or-refused.js';
import { TargetLostRecord } from '../ops/target-lost.js';

/** CONFIG GET keys a Pika always answers: one DB in classic mode, no consensus replication. */
const PIKA_IDENTITY: ReadonlyArray<readonly [string, string]> = [
  ['instance-mode', 'classic'],
  ['consensus-level', '0'],
];

/** Where the daemon is in its life: what `INFO` shows as `phase`. */
export type Phase = 'idle' | 'connecting' | 'full_sync' | 'incremental' | 'error' | 'stopping';

/** What the daemon needs besides the config (tests shorten timeouts, hide the bar). */
export interface DaemonOptions {
  readonly replicaTimeouts?: ConstructorParameters<typeof MasterLink>[0]['timeouts'];
  readonly bar?: NodeJS.WriteStream | null;
}

/**
 * The composition root: owns the admin port, the Redis sink and the link to the master, and
 * decides the exit code. Modules below it know nothing of each other; this is where they meet.
 */
export class Daemon {
  private readonly startedAt = Date.now();
  private readonly runId = newRunId();
  private master: { host: string; port: number } | null = null;
  private link: MasterLink | null = null;
  private stoppingNow = false;
  private failedWith: Error | null = null;
  /** What the target lost (it held less than it had acknowledged): no master is followed until the operator starts over. */
  private targetLost: string | null = null;
  private lostRecord!: TargetLostRecord;
  /** Values changed with CONFIG SET since the start (they override the conf file's in CONFIG GET). */
  private readonly runtimeValues = new Map<string, string>();
  private admin!: AdminServer;
  /** Admin commands run, by name, for INFO's Command_Exec_Count. */
  private readonly commandCounts = new Map<string, number>();
  private rates!: RateMeter<'ops' | 'adminIn' | 'adminOut' | 'replIn'>;
  private dirSizes!: DirSizes;
  private metrics: Server | null = null;
  private targets!: Targets;
  private routes: DbRoute[] = [];
  private stopping: Promise<void> | null = null;
  private resolveExit!: (code: number) => void;
  /** Resolves with the process exit code once the daemon has stopped. */
  readonly exited: Promise<number>;

  private constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly options: DaemonOptions,
  ) {
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  /** Connects to the target (fails fast), opens the admin port, and follows `slaveof` if set. */
  static async start(config: Config, logger: Logger, options: DaemonOptions = {}): Promise<Daemon> {
    const d = new Daemon(config, logger, options);
    const v = config.values;
    if (v['master-client-pwd'] !== '' && v['master-client-user'] === '') {
      throw new ConfigError(`${config.raw.get('master-client-pwd')?.where ?? config.file} master-client-pwd: is set but master-client-user is empty (without a user, P gets AUTH <masterauth>)`);
    }
    d.routes = dbRoutesOf(v, config.file);
    d.targets = await Targets.connect(config, d.routes, logger);
    d.targets.onFatal((e: Error) => d.fail(e));
    d.lostRecord = new TargetLostRecord(v['db-sync-path']);
    d.targetLost = d.lostRecord.read();
    d.admin = new AdminServer({
      host: v.bind,
      port: v.port,
      logger: logger.child({ module: 'admin' }),
      needsAuth: () => v.requirepass !== '',
      protectedMode: v['protected-mode'],
      maxClients: v.maxclients,
      handle: (argv, session) => runAdminCommand(argv, session, d.adminContext()),
    });
    try {
      const addr = await d.admin.listen();
      logger.info({ host: addr.host, port: addr.port }, 'admin port listening');
      if (v.requirepass === '' && !isLoopback(addr.host)) {
        if (!v['protected-mode']) logger.warn('protected-mode is no and requirepass is empty: anyone who reaches the admin port can SLAVEOF, CONFIG SET or SHUTDOWN this daemon');
        else if (addr.host === '0.0.0.0' || addr.host === '::') logger.info('protected mode: no requirepass, so the admin port serves loopback clients only (see README, Security)');
        // Bound to one non-loopback address, every client comes from a non-loopback address.
        else logger.warn({ bind: v.bind }, 'protected mode: no requirepass and bind is not loopback, so every admin client will be DENIED: set requirepass, bind to 0.0.0.0 or 127.0.0.1, or protected-mode : no');
      }
    } catch (e) {
      await d.targets.close().catch(() => {});
      throw new FatalError(`cannot listen on ${v.bind}:${v.port}: ${(e as Error).message}`);
    }
    if (v['metrics-port'] > 0) {
      try {
        // prom-client is loaded only when metrics are on.
        const { startMetricsServer } = await import('../ops/metrics.js');
        d.metrics = await startMetricsServer({ host: v.bind, port: v['metrics-port'], read: () => metricsOf(d.phase(), d.statuses(), d.targets.stats()), logger });
        logger.info({ url: `http://${v.bind}:${v['metrics-port']}/metrics` }, 'Prometheus metrics listening');
      } catch (e) {
        await d.admin.close().catch(() => {});
        await d.targets.close().catch(() => {});
        throw new FatalError(`cannot listen for metrics on ${v.bind}:${v['metrics-port']}: ${(e as Error).message}`);
      }
    }
    d.rates = new RateMeter(() => ({
      ops: d.targets.stats().total.acked,
      adminIn: d.admin.totals.bytesIn,
      adminOut: d.admin.totals.bytesOut,
      replIn: replicationBytesIn(d.statuses()[0] ?? null),
    }));
    d.rates.start();
    d.dirSizes = new DirSizes([v['db-sync-path'], v['log-path']]);
    void d.dirSizes.refresh();
    logger.info(
      { target: d.targets.first.target, dbs: dbMapText(d.routes), senders: v['redis-sender-num'], batch: v['sync-batch-num'] },
      'connected to target redis',
    );
    if (d.targets.first.legacyTarget) logger.warn({ version: d.targets.first.targetVersion }, 'target Redis is older than 6.2: absolute expiries go through scripts');
    if (v.slaveof !== null && d.targetLost !== null) {
      // Resuming would stream on over the hole: wait for the operator (SLAVEOF … force) instead.
      d.master = { host: v.slaveof.host, port: v.slaveof.port };
      logger.error({ err: d.targetLost, record: d.lostRecord.path, master: `${v.slaveof.host}:${v.slaveof.port}` }, `the target lost writes it had acknowledged (an earlier run found out): not following the master; SLAVEOF ${v.slaveof.host} ${v.slaveof.port} force starts over`);
    } else if (v.slaveof !== null) {
      try {
        await d.slaveof(v.slaveof.host, v.slaveof.port, false);
      } catch (e) {
        // Refused (a checkpoint that cannot be resumed, …): nothing may stay open behind the error.
        await d.stop((e as Error).message);
        throw e;
      }
    }
    return d;
  }

  /** Stops cleanly: exit code 0 unless a failure already decided otherwise. */
  stop(reason: string): Promise<void> {
    this.stopping ??= this.shutdown(reason, 0);
    return this.stopping;
  }

  /** The error that decided exit code 1, once there is one. */
  get failure(): Error | null {
    return this.failedWith;
  }

  private fail(e: Error): void {
    if (e instanceof TargetLostWritesError) {
      this.onTargetLost(e);
      if (!this.stoppingNow) return;
    }
    this.failedWith ??= e;
    logFatal(this.logger, e);
    this.stopping ??= this.shutdown(e.message, 1);
  }

  /**
   * The target lost writes it had acknowledged: nothing more is applied nor acked to the master
   * (the link stops, staying registered so the master keeps its binlog), INFO says so, and a note
   * under db-sync-path keeps a restart from resuming over the hole. The operator decides:
   * `SLAVEOF <master> force` starts over with a full sync.
   */
  private onTargetLost(e: TargetLostWritesError): void {
    if (this.targetLost !== null) return;
    this.targetLost = e.message;
    this.lostRecord.write(e.message);
    const m = this.master;
    const redo = m === null ? 'SLAVEOF <master> force' : `SLAVEOF ${m.host} ${m.port} force`;
    this.logger.error({ err: e.message, record: this.lostRecord.path }, `the target lost writes it had acknowledged: stopped following and acking the master; ${redo} starts over`);
    const link = this.link;
    this.link = null;
    void link?.stop(false).catch((x: unknown) => this.logger.warn({ err: x }, 'replication did not stop cleanly'));
  }

  /** After a loss the pools are dead: new ones for the full sync (or SLAVEOF NO ONE) the operator asked for. */
  private async renewTargets(): Promise<void> {
    this.targets.destroy();
    const targets = await Targets.connect(this.config, this.routes, this.logger);
    targets.onFatal((e: Error) => this.fail(e));
    this.targets = targets;
    this.targetLost = null;
    this.lostRecord.remove();
    this.logger.info({ target: targets.first.target }, 'target lost writes: the operator starts over; connected to the target again');
  }

  private async shutdown(reason: string, code: number): Promise<void> {
    this.stoppingNow = true;
    this.logger.info({ reason }, 'stopping');
    this.rates.stop();
    await this.admin.close().catch(() => {});
    if (this.metrics !== null) await new Promise((r) => this.metrics!.close(r));
    // Stay registered on the master: it keeps the binlog a restart resumes from.
    await this.link?.stop(false).catch((e: unknown) => this.logger.warn({ err: e }, 'replication did not stop cleanly'));
    if (this.targetLost !== null) {
      // Nothing to flush into a target that lost writes, and no success to report.
      this.targets.destroy();
      code = code || 1;
      this.logger.info({ code, targetLostWrites: this.targetLost }, 'stopped');
      this.resolveExit(code);
      return;
    }
    try {
      // Drain the senders, then record what Redis holds: the restart resumes right after it. A
      // target that refuses them for good (OOM) is not waited for: exit 1 naming it.
      await flushOrRefused(this.targets.all);
      this.link?.saveCheckpoints();
      await this.targets.close();
    } catch (e) {
      this.logger.error({ err: e }, 'could not flush every command to the target before stopping');
      this.targets.destroy();
      code = code || 1;
    }
    this.logger.info({ code }, 'stopped');
    this.resolveExit(code);
  }

  private async slaveof(host: string, port: number, force: boolean): Promise<void> {
    const v = this.config.values;
    if (port === v.port && isLocalHost(host)) {
      throw new Error('The master ip:port and the slave ip:port are the same');
    }
    if (this.stoppingNow) throw new Error('the daemon is stopping');
    if (this.targetLost !== null) {
      if (!force) throw new Error(`the target lost writes it had acknowledged (${this.targetLost}); SLAVEOF ${host} ${port} force starts over with a full sync`);
      await this.renewTargets();
    }
    if (this.link !== null) {
      const same = this.master?.host === host && this.master.port === port;
      // Pika answers OK and keeps the link when asked for the master it already follows.
      if (same && !force) return;
      // Unregister first, or the master answers the new link "Slave AlreadyExist" for a while.
      await this.link.stop(true);
      this.link = null;
    }
    const stores = this.routes.map((r) => new CheckpointStore(v['db-sync-path'], r.source));
    const loadSettings = loadSettingsOf(v);
    let resume = force ? stores.map(() => null) : this.resumable(stores, host, port);
    if (resume.some((cp) => cp?.offsetPending === true) && resume.every((cp) => cp === null || cp.offsetPending === true) && v['target-flush-on-full-sync']) {
      // A load that began during the push and stopped before its offset came cannot resume, but
      // the target is flushed before the next snapshot anyway: take it, as a stop mid-push would.
      this.logger.warn({ checkpoints: stores.map((s) => s.path) }, 'the snapshot load was interrupted before the master sent its binlog offset: taking a new snapshot (target-flush-on-full-sync flushes the target first)');
      for (const s of stores) s.remove();
      resume = stores.map(() => null);
    }
    const resumeLoads = resume.map((cp, i) => (cp?.loading === true ? this.resumableLoad(stores[i], cp, loadSettings) : null));
    if (force) for (const s of stores) s.remove();
    if (resume.every((r) => r === null)) {
      // A new full sync: positions recorded by an earlier run must not make its entries look applied.
      await this.targets.clearApplied();
      await this.dropSideNames();
    } else {
      for (const [i, r] of this.routes.entries()) {
        const pool = this.targets.of(r.source);
        const applied = await pool.resumeAfter(r.source);
        const rl = resumeLoads[i];
        if (applied === null && rl !== null && rl.load.from !== null) {
          // The load had applied keys, whose batches wrote the hash: the target was flushed or replaced since.
          for (const x of resumeLoads) x?.spool.close();
          throw new Error(
            `the checkpoint ${stores[i].path} says a snapshot load of master ${host}:${port} was interrupted, and it cannot be resumed: the target ${this.checkpointTarget(r.target)} no longer holds pika-migrate:applied (flushed or replaced since?); SLAVEOF ${host} ${port} force loads a new snapshot`,
          );
        }
        if (applied !== null) {
          this.logger.info(
            { db: `db${r.source}`, senders: applied.positions.map((p) => (p === null ? '-' : formatPosition(p))), sendersChanged: applied.sendersChanged },
            'entries Redis applied after the checkpoint will be skipped, not applied twice',
          );
        }
      }
    }
    this.master = { host, port };
    const resumed = resume[0];
    this.logger.info(
      { master: `${host}:${port}`, force, dbs: dbMapText(this.routes), resumeFrom: resume.map((cp, i) => (cp ? `db${this.routes[i].source}@${cp.applied.filenum}:${cp.applied.offset}` : null)).filter(Boolean) },
      resumed ? 'slaveof: resuming from the checkpoint, then the binlog' : 'slaveof: following the master (full sync, then binlog)',
    );
    this.link = new MasterLink({
      masterHost: host,
      masterPort: port,
      masterAuth: v.masterauth,
      masterClientUser: v['master-client-user'],
      masterClientPwd: v['master-client-pwd'],
      localPort: v.port,
      localIp: v['network-interface'] ? localAddressOf(v['network-interface']) : undefined,
      dbSyncPath: v['db-sync-path'],
      force: resumed === null,
      dbs: this.routes.map((r, i) => ({
        db: r.source,
        resume: resume[i],
        resumeLoad: resumeLoads[i],
        loadSettings,
        checkpoint: stores[i],
        targetName: this.checkpointTarget(r.target),
        spoolMaxBytes: v['spool-max-bytes'],
        flushOnFullSync: v['target-flush-on-full-sync'],
        pool: this.targets.of(r.source),
        chunkSize: v['sync-batch-num'],
        conflict: v['conflict-policy'],
        typeOrder: v['type-order'],
        filter: keyFilterOf(v),
        rename: keyRenamerOf(v),
        bar: this.options.bar,
      })),
      logger: this.logger.child({ module: 'replication' }),
      timeouts: this.options.replicaTimeouts,
      onFatal: (e) => this.fail(e),
    });
    this.link.start();
  }

  /**
   * Per DB, the checkpoint to resume from without `force`; all null for a full sync. A checkpoint
   * of another master or target is refused, not overwritten: resuming from it would mix two
   * sources; so is a set where some DBs have one and others not (a full sync of some DBs only
   * would be a second full sync of nothing the operator asked for).
   */
  private resumable(stores: readonly CheckpointStore[], host: string, port: number): Array<Checkpoint | null> {
    const cps = stores.map((s) => s.read());
    const have = cps.filter((c) => c !== null).length;
    if (have === 0) return cps;
    if (have !== cps.length) {
      const missing = stores.filter((_, i) => cps[i] === null).map((s) => s.path);
      throw new Error(`checkpoints of some DBs are missing (${missing.join(', ')}): SLAVEOF ${host} ${port} force starts over with a full sync of every DB`);
    }
    cps.forEach((cp, i) => {
      const store = stores[i];
      if (cp === null) return;
      if (cp.master.host !== host || cp.master.port !== port) {
        throw new Error(`the checkpoint ${store.path} is of master ${cp.master.host}:${cp.master.port}, not ${host}:${port}; SLAVEOF ${host} ${port} force starts over with a full sync`);
      }
      const target = this.checkpointTarget(this.routes[i].target);
      if (cp.target !== target) {
        throw new Error(`the checkpoint ${store.path} was made for target ${cp.target}, not ${target}; SLAVEOF ${host} ${port} force starts over with a full sync`);
      }
      const first = cps[0]!;
      if ((cp.runId ?? '') !== (first.runId ?? '') || (cp.replicationId ?? '') !== (first.replicationId ?? '')) {
        throw new Error(`the checkpoints ${stores[0].path} and ${store.path} name different master ids; SLAVEOF ${host} ${port} force starts over with a full sync`);
      }
    });
    return cps;
  }

  /**
   * A checkpoint of an interrupted snapshot load (or spool replay): the load goes on where it
   * stopped when its snapshot, settings and spool allow it; otherwise a refusal saying why.
   */
  private resumableLoad(store: CheckpointStore, cp: Checkpoint, settings: Readonly<Record<string, string>>): LoadResume {
    const v = this.config.values;
    try {
      return openLoadResume(cp, v['db-sync-path'], settings, v['spool-max-bytes']);
    } catch (e) {
      const { host, port } = cp.master;
      throw new Error(
        `the checkpoint ${store.path} says a snapshot load of master ${host}:${port} was interrupted, and it cannot be resumed: ${(e as Error).message}; SLAVEOF ${host} ${port} force loads a new snapshot (with target-flush-on-full-sync : yes, or conflict-policy : replace, so that keys deleted on the master since do not stay)`,
      );
    }
  }

  /** The target as a checkpoint records it: address (a Sentinel target: its master's name, which a failover keeps) and DB. */
  private checkpointTarget(db: number): string {
    const v = this.config.values;
    const name = v['target-redis-sentinel-master'];
    return `${name === '' ? `${v['target-redis-host']}:${v['target-redis-port']}` : `sentinel:${name}`}/${db}`;
  }

  /**
   * The multi-type rule's side names serve only while a 3.x master is followed: a new full sync
   * writes them again, and after SLAVEOF NO ONE Redis keeps the names alone.
   */
  private async dropSideNames(): Promise<void> {
    const n = await this.targets.dropSideNames();
    if (n > 0) this.logger.info({ sideNames: n }, 'side names of names held in several types dropped');
  }

  private async slaveofNoOne(): Promise<void> {
    if (this.master !== null) this.logger.info({ master: `${this.master.host}:${this.master.port}` }, 'slaveof no one: replication stopped');
    const link = this.link;
    this.link = null;
    this.master = null;
    await link?.stop(true);
    if (this.targetLost !== null) await this.renewTargets();
    // The migration is over: nothing can resume it, so the keys that would make a resume exact go,
    // and the side names of the multi-type rule with them.
    const removed = await this.targets.removeOwnKeys();
    const sides = await this.dropSideNames();
    this.logger.info({ keys: removed, sideNames: sides }, 'slaveof no one: pika-migrate:* bookkeeping keys and side names removed from the target');
  }

  /** Each followed DB's status, in DB order (empty when following no master). */
  private statuses(): Array<ReturnType<Migration['status']>> {
    return this.link?.dbs.map((d) => d.migration.status()) ?? [];
  }

  /** The daemon's phase: the least advanced DB's (an error in any DB is the daemon's). */
  private phase(): Phase {
    if (this.stoppingNow) return 'stopping';
    if (this.targetLost !== null) return 'error';
    const phases = this.statuses().map((s) => s.phase);
    if (phases.length === 0 || phases.every((p) => p === 'stopped')) return 'idle';
    for (const p of ['error', 'connecting', 'full_sync'] as const) if (phases.includes(p)) return p;
    return 'incremental';
  }

  private adminContext(): AdminContext {
    return {
      requirepass: () => this.config.secretBytes('requirepass'),
      info: (section) => renderInfo(this.infoData(), section),
      slaveof: (host, port, force) => this.slaveof(host, port, force),
      slaveofNoOne: () => this.slaveofNoOne(),
      configValues: () => this.configValues(),
      configSet: (key, value) => this.configSet(key, value),
      shutdown: () => void this.stop('SHUTDOWN on the admin port'),
      executed: (name) => this.commandCounts.set(name, (this.commandCounts.get(name) ?? 0) + 1),
    };
  }

  /** CONFIG SET: only the rate limits change at run time; the value is parsed as in the conf file. */
  private configSet(key: string, value: string): void {
    if (!RUNTIME_KEYS.has(key)) {
      throw new Error(`CONFIG SET ${key}: not changeable while running (changeable: ${[...RUNTIME_KEYS].join(', ')}); edit the conf file and restart`);
    }
    let parsed: number;
    try {
      parsed = schema[key as 'target-max-ops' | 'target-max-bytes'].parse(value);
    } catch (e) {
      throw new Error(`CONFIG SET ${key}: ${(e as Error).message}`);
    }
    const { maxOps, maxBytes } = this.targets.rateLimits;
    this.targets.setRateLimits(key === 'target-max-ops' ? parsed : maxOps, key === 'target-max-bytes' ? parsed : maxBytes);
    this.runtimeValues.set(key, String(parsed));
    this.logger.info({ key, value: parsed }, 'CONFIG SET');
  }

  private configValues(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [k, e] of this.config.raw) out.set(k, e.value);
    for (const [k, val] of Object.entries(this.config.values)) {
      if (k === 'slaveof') out.set(k, this.master ? `${this.master.host}:${this.master.port}` : '');
      else if (!out.has(k)) out.set(k, typeof val === 'boolean' ? (val ? 'yes' : 'no') : String(val ?? ''));
    }
    for (const [k, val] of this.runtimeValues) out.set(k, val);
    // What a Pika says about itself here; pika_exporter fails a scrape when either is missing.
    for (const [k, val] of PIKA_IDENTITY) if (!out.get(k)) out.set(k, val);
    // Secrets are never echoed back, as Pika hides them from non-admin users.
    for (const [k, val] of out) out.set(k, shownValue(k, val));
    return out;
  }

  private infoData(): InfoData {
    const v = this.config.values;
    const all = this.statuses();
    const m = all[0] ?? null;
    const states = new Map<number, PikaLinkState>((m?.link.dbs ?? []).map((d) => [d.db, d.state]));
    const phase = this.phase();
    const sink = this.targets.stats();
    return {
      ...pikaSections({
        pikaMigrateVersion: version,
        runId: this.runId,
        startedAt: this.startedAt,
        configFile: this.config.file,
        port: v.port,
        serverId: this.config.raw.get('server-id')?.value ?? '1',
        senders: v['redis-sender-num'],
        phase,
        migration: m,
        sink,
        admin: { connections: this.admin.connections, ...this.admin.totals },
        rates: { ops: this.rates.perSecond('ops'), adminIn: this.rates.perSecond('adminIn'), adminOut: this.rates.perSecond('adminOut'), replIn: this.rates.perSecond('replIn') },
        commandCounts: this.commandCounts,
        dbSyncBytes: this.dirSizes.get(v['db-sync-path']),
        logBytes: this.dirSizes.get(v['log-path']),
      }),
      replication: {
        master: this.master,
        replicationId: m?.link.replicationId ?? '',
        dbs: this.routes.map((r, i) => ({ db: r.source, state: states.get(r.source) ?? 'no_connect', applied: all[i]?.binlog.applied ?? null })),
        fullSyncRunning: all.some((x) => x.phase === 'full_sync'),
        extra: replicationExtra(all),
      },
      migrate: [
        ['target', this.targets.first.target],
        ['target_db', this.routes[0].target],
        ['db_map', dbMapText(this.routes)],
        ['target_version', this.targets.first.targetVersion],
        ['senders', v['redis-sender-num']],
        ['batch_size', v['sync-batch-num']],
        ['conflict_policy', v['conflict-policy']],
        ['target_max_ops', this.targets.rateLimits.maxOps],
        ['target_max_bytes', this.targets.rateLimits.maxBytes],
        ['type_order', v['type-order'].join(',')],
        ['target_lost_writes', this.targetLost === null ? 0 : 1],
        ['target_lost_writes_reason', (this.targetLost ?? '').replace(/\s+/g, ' ')],
        ...migrateInfo(phase, all, sink),
      ],
    };
  }
}

/** `0:0,1:3`: source DB : target DB, as db-map spells it (with commas, for one log field). */
function dbMapText(routes: readonly DbRoute[]): string {
  return routes.map((r) => `${r.source}:${r.target}`).join(',');
}

function isLocalHost(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '0.0.0.0';
}
