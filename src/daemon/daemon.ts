import { AdminServer } from '../admin/server.js';
import { runAdminCommand, type AdminContext } from '../admin/commands.js';
import { renderInfo, type InfoData, type PikaLinkState } from '../admin/info.js';
import type { Config } from '../config/load.js';
import { RUNTIME_KEYS, schema } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import { FatalError } from '../core/errors.js';
import { formatPosition } from '../core/position.js';
import type { SenderPool } from '../sink/pool.js';
import type { Server } from 'node:http';
import { CheckpointStore, type Checkpoint } from '../ops/checkpoint.js';
import { startMetricsServer } from '../ops/metrics.js';
import { Migration } from './migration.js';
import { localAddressOf } from './network.js';
import { metricsOf, migrateInfo, replicationExtra } from './status-info.js';
import { newRunId, version } from './server-info.js';
import { keyFilterOf } from './key-filter.js';
import { loadSettingsOf, openLoadResume, type LoadResume } from './load-resume.js';
import { connectTarget } from './target.js';

/** Where the daemon is in its life: what `INFO` shows as `phase`. */
export type Phase = 'idle' | 'connecting' | 'full_sync' | 'incremental' | 'error' | 'stopping';

/** What the daemon needs besides the config (tests shorten timeouts, hide the bar). */
export interface DaemonOptions {
  readonly replicaTimeouts?: ConstructorParameters<typeof Migration>[0]['timeouts'];
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
  private migration: Migration | null = null;
  private stoppingNow = false;
  private failedWith: Error | null = null;
  /** Values changed with CONFIG SET since the start (they override the conf file's in CONFIG GET). */
  private readonly runtimeValues = new Map<string, string>();
  private admin!: AdminServer;
  private metrics: Server | null = null;
  private pool!: SenderPool;
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
    d.pool = await connectTarget(v, logger);
    d.pool.on('fatal', (e: Error) => d.fail(e));
    d.admin = new AdminServer({
      host: v.bind,
      port: v.port,
      logger: logger.child({ module: 'admin' }),
      needsAuth: () => v.requirepass !== '',
      handle: (argv, session) => runAdminCommand(argv, session, d.adminContext()),
    });
    try {
      const addr = await d.admin.listen();
      logger.info({ host: addr.host, port: addr.port }, 'admin port listening');
    } catch (e) {
      await d.pool.close().catch(() => {});
      throw new FatalError(`cannot listen on ${v.bind}:${v.port}: ${(e as Error).message}`);
    }
    if (v['metrics-port'] > 0) {
      try {
        d.metrics = await startMetricsServer({ host: v.bind, port: v['metrics-port'], read: () => metricsOf(d.phase(), d.migration?.status() ?? null, d.pool.stats()), logger });
        logger.info({ url: `http://${v.bind}:${v['metrics-port']}/metrics` }, 'Prometheus metrics listening');
      } catch (e) {
        await d.admin.close().catch(() => {});
        await d.pool.close().catch(() => {});
        throw new FatalError(`cannot listen for metrics on ${v.bind}:${v['metrics-port']}: ${(e as Error).message}`);
      }
    }
    logger.info(
      { target: `${v['target-redis-host']}:${v['target-redis-port']}`, db: v['target-redis-db'], senders: v['redis-sender-num'], batch: v['sync-batch-num'] },
      'connected to target redis',
    );
    if (d.pool.legacyTarget) logger.warn({ version: d.pool.targetVersion }, 'target Redis is older than 6.2: absolute expiries go through scripts');
    if (v.slaveof !== null) await d.slaveof(v.slaveof.host, v.slaveof.port, false);
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
    this.failedWith ??= e;
    this.logger.error({ err: e }, 'fatal: stopping');
    this.stopping ??= this.shutdown(e.message, 1);
  }

  private async shutdown(reason: string, code: number): Promise<void> {
    this.stoppingNow = true;
    this.logger.info({ reason }, 'stopping');
    await this.admin.close().catch(() => {});
    if (this.metrics !== null) await new Promise((r) => this.metrics!.close(r));
    // Stay registered on the master: it keeps the binlog a restart resumes from.
    await this.migration?.stop(false).catch((e: unknown) => this.logger.warn({ err: e }, 'replication did not stop cleanly'));
    try {
      // Drain the senders, then record what Redis holds: the restart resumes right after it.
      await this.pool.flush();
      this.migration?.saveCheckpoint();
      await this.pool.close();
    } catch (e) {
      this.logger.error({ err: e }, 'could not flush every command to the target before stopping');
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
    if (this.migration !== null) {
      const same = this.master?.host === host && this.master.port === port;
      // Pika answers OK and keeps the link when asked for the master it already follows.
      if (same && !force) return;
      // Unregister first, or the master answers the new link "Slave AlreadyExist" for a while.
      await this.migration.stop(true);
    }
    const store = new CheckpointStore(v['db-sync-path'], 0);
    const loadSettings = loadSettingsOf(v);
    const resume = force ? null : this.resumable(store, host, port);
    const resumeLoad = resume?.loading === true ? this.resumableLoad(store, resume, loadSettings) : null;
    if (force) store.remove();
    if (resume === null) {
      // A new full sync: positions recorded by an earlier run must not make its entries look applied.
      await this.pool.clearApplied();
    } else {
      const applied = await this.pool.resumeAfter(0);
      if (applied === null && resumeLoad !== null && resumeLoad.load.from !== null) {
        // The load had applied keys, whose batches wrote the hash: the target was flushed or replaced since.
        resumeLoad.spool.close();
        throw new Error(
          `the checkpoint ${store.path} says a snapshot load of master ${host}:${port} was interrupted, and it cannot be resumed: the target ${this.checkpointTarget()} no longer holds ${this.pool.appliedKey} (flushed or replaced since?); SLAVEOF ${host} ${port} force loads a new snapshot`,
        );
      }
      if (applied !== null) {
        this.logger.info({ senders: applied.positions.map((p) => (p === null ? '-' : formatPosition(p))), sendersChanged: applied.sendersChanged }, 'entries Redis applied after the checkpoint will be skipped, not applied twice');
      }
    }
    this.master = { host, port };
    this.logger.info(
      { master: `${host}:${port}`, force, resumeFrom: resume ? `${resume.applied.filenum}:${resume.applied.offset}` : null },
      resume ? 'slaveof: resuming from the checkpoint, then the binlog' : 'slaveof: following the master (full sync, then binlog)',
    );
    this.migration = new Migration({
      masterHost: host,
      masterPort: port,
      masterAuth: v.masterauth,
      localPort: v.port,
      localIp: v['network-interface'] ? localAddressOf(v['network-interface']) : undefined,
      rsyncBindAddress: v.bind,
      dbSyncPath: v['db-sync-path'],
      resume,
      resumeLoad,
      loadSettings,
      checkpoint: store,
      targetName: this.checkpointTarget(),
      spoolMaxBytes: v['spool-max-bytes'],
      flushOnFullSync: v['target-flush-on-full-sync'],
      pool: this.pool,
      logger: this.logger.child({ module: 'replication' }),
      chunkSize: v['sync-batch-num'],
      conflict: v['conflict-policy'],
      typeOrder: v['type-order'],
      filter: keyFilterOf(v),
      bar: this.options.bar,
      timeouts: this.options.replicaTimeouts,
      onFatal: (e) => this.fail(e),
    });
    this.migration.start();
  }

  /**
   * The checkpoint to resume from without `force`, or null for a full sync. A checkpoint of another
   * master or target is refused, not overwritten: resuming from it would mix two sources.
   */
  private resumable(store: CheckpointStore, host: string, port: number): Checkpoint | null {
    const cp = store.read();
    if (cp === null) return null;
    if (cp.master.host !== host || cp.master.port !== port) {
      throw new Error(`the checkpoint ${store.path} is of master ${cp.master.host}:${cp.master.port}, not ${host}:${port}; SLAVEOF ${host} ${port} force starts over with a full sync`);
    }
    if (cp.target !== this.checkpointTarget()) {
      throw new Error(`the checkpoint ${store.path} was made for target ${cp.target}, not ${this.checkpointTarget()}; SLAVEOF ${host} ${port} force starts over with a full sync`);
    }
    return cp;
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

  /** The target as a checkpoint records it: address and DB. */
  private checkpointTarget(): string {
    const v = this.config.values;
    return `${v['target-redis-host']}:${v['target-redis-port']}/${v['target-redis-db']}`;
  }

  private async slaveofNoOne(): Promise<void> {
    if (this.master !== null) this.logger.info({ master: `${this.master.host}:${this.master.port}` }, 'slaveof no one: replication stopped');
    const m = this.migration;
    this.migration = null;
    this.master = null;
    await m?.stop(true);
    await this.pool.flush();
    await this.pool.clearApplied();
  }

  private phase(): Phase {
    if (this.stoppingNow) return 'stopping';
    const m = this.migration?.status().phase;
    return m === undefined || m === 'stopped' ? 'idle' : m;
  }

  private adminContext(): AdminContext {
    return {
      requirepass: () => this.config.values.requirepass,
      info: (section) => renderInfo(this.infoData(), section),
      slaveof: (host, port, force) => this.slaveof(host, port, force),
      slaveofNoOne: () => this.slaveofNoOne(),
      configValues: () => this.configValues(),
      configSet: (key, value) => this.configSet(key, value),
      shutdown: () => void this.stop('SHUTDOWN on the admin port'),
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
    const { maxOps, maxBytes } = this.pool.rateLimits;
    this.pool.setRateLimits(key === 'target-max-ops' ? parsed : maxOps, key === 'target-max-bytes' ? parsed : maxBytes);
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
    // Secrets are never echoed back, as Pika hides them from non-admin users.
    for (const k of ['requirepass', 'masterauth', 'target-redis-pwd']) if (out.get(k)) out.set(k, '******');
    return out;
  }

  private infoData(): InfoData {
    const v = this.config.values;
    const m = this.migration?.status() ?? null;
    const state: PikaLinkState = m === null ? 'no_connect' : m.link.dbs[0].state;
    return {
      server: [
        ['pika_migrate_version', version],
        // Tools that read a replica's version expect Pika's; we speak the 3.2+ replica protocol.
        ['pika_version', '3.2.7'],
        ['os', `${process.platform} ${process.arch}`],
        ['arch_bits', 64],
        ['process_id', process.pid],
        ['tcp_port', v.port],
        ['run_id', this.runId],
        ['uptime_in_seconds', Math.floor((Date.now() - this.startedAt) / 1000)],
        ['config_file', this.config.file],
        ['node_version', process.version],
      ],
      replication: {
        master: this.master,
        replicationId: m?.link.replicationId ?? '',
        dbs: [{ db: 0, state, applied: m?.binlog.applied ?? null }],
        fullSyncRunning: m?.phase === 'full_sync',
        extra: replicationExtra(m),
      },
      migrate: [
        ['target', `${v['target-redis-host']}:${v['target-redis-port']}`],
        ['target_db', v['target-redis-db']],
        ['target_version', this.pool.targetVersion],
        ['senders', v['redis-sender-num']],
        ['batch_size', v['sync-batch-num']],
        ['conflict_policy', v['conflict-policy']],
        ['target_max_ops', this.pool.rateLimits.maxOps],
        ['target_max_bytes', this.pool.rateLimits.maxBytes],
        ['type_order', v['type-order'].join(',')],
        ...migrateInfo(this.phase(), m, this.pool.stats()),
      ],
    };
  }
}

function isLocalHost(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '0.0.0.0';
}
