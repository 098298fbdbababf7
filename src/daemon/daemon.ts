import { AdminServer } from '../admin/server.js';
import { runAdminCommand, type AdminContext } from '../admin/commands.js';
import { renderInfo, type InfoData, type PikaLinkState } from '../admin/info.js';
import type { Config } from '../config/load.js';
import type { Logger } from '../core/log.js';
import { FatalError } from '../core/errors.js';
import { SenderPool } from '../sink/pool.js';
import { newRunId, version } from './server-info.js';

/** Where the daemon is in its life: what `INFO` shows as `phase`. */
export type Phase = 'idle' | 'full_sync' | 'incremental' | 'stopping';

/**
 * The composition root: owns the admin port, the Redis sink and the link to the master, and
 * decides the exit code. Modules below it know nothing of each other; this is where they meet.
 */
export class Daemon {
  private readonly startedAt = Date.now();
  private readonly runId = newRunId();
  private master: { host: string; port: number } | null = null;
  private linkState: PikaLinkState = 'no_connect';
  private phase: Phase = 'idle';
  private admin!: AdminServer;
  private pool!: SenderPool;
  private stopping: Promise<void> | null = null;
  private resolveExit!: (code: number) => void;
  /** Resolves with the process exit code once the daemon has stopped. */
  readonly exited: Promise<number>;

  private constructor(
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  /** Connects to the target (fails fast), opens the admin port, and follows `slaveof` if set. */
  static async start(config: Config, logger: Logger): Promise<Daemon> {
    const d = new Daemon(config, logger);
    const v = config.values;
    d.pool = await SenderPool.connect({
      host: v['target-redis-host'],
      port: v['target-redis-port'],
      password: v['target-redis-pwd'] || undefined,
      username: v['target-redis-user'] || undefined,
      db: v['target-redis-db'],
      senders: v['redis-sender-num'],
      batchSize: v['sync-batch-num'],
      logger: logger.child({ module: 'sink' }),
    });
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
    logger.info(
      { target: `${v['target-redis-host']}:${v['target-redis-port']}`, db: v['target-redis-db'], senders: v['redis-sender-num'], batch: v['sync-batch-num'] },
      'connected to target redis',
    );
    if (v.slaveof !== null) await d.slaveof(v.slaveof.host, v.slaveof.port, false);
    return d;
  }

  /** Stops cleanly: exit code 0 unless a failure already decided otherwise. */
  stop(reason: string): Promise<void> {
    this.stopping ??= this.shutdown(reason, 0);
    return this.stopping;
  }

  private fail(e: Error): void {
    this.logger.error({ err: e }, 'fatal: stopping');
    this.stopping ??= this.shutdown(e.message, 1);
  }

  private async shutdown(reason: string, code: number): Promise<void> {
    this.phase = 'stopping';
    this.logger.info({ reason }, 'stopping');
    await this.admin.close().catch(() => {});
    try {
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
    this.master = { host, port };
    this.linkState = 'no_connect';
    this.logger.info({ master: `${host}:${port}`, force }, 'slaveof: master recorded');
  }

  private async slaveofNoOne(): Promise<void> {
    if (this.master !== null) this.logger.info({ master: `${this.master.host}:${this.master.port}` }, 'slaveof no one: replication stopped');
    this.master = null;
    this.linkState = 'no_connect';
  }

  private adminContext(): AdminContext {
    return {
      requirepass: () => this.config.values.requirepass,
      info: (section) => renderInfo(this.infoData(), section),
      slaveof: (host, port, force) => this.slaveof(host, port, force),
      slaveofNoOne: () => this.slaveofNoOne(),
      configValues: () => this.configValues(),
      shutdown: () => void this.stop('SHUTDOWN on the admin port'),
    };
  }

  private configValues(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [k, e] of this.config.raw) out.set(k, e.value);
    for (const [k, val] of Object.entries(this.config.values)) {
      if (k === 'slaveof') out.set(k, this.master ? `${this.master.host}:${this.master.port}` : '');
      else if (!out.has(k)) out.set(k, typeof val === 'boolean' ? (val ? 'yes' : 'no') : String(val ?? ''));
    }
    // Secrets are never echoed back, as Pika hides them from non-admin users.
    for (const k of ['requirepass', 'masterauth', 'target-redis-pwd']) if (out.get(k)) out.set(k, '******');
    return out;
  }

  private infoData(): InfoData {
    const v = this.config.values;
    const s = this.pool.stats();
    return {
      server: [
        ['pika_migrate_version', version],
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
        replicationId: '',
        dbs: [{ db: 0, state: this.linkState, applied: null }],
        fullSyncRunning: this.phase === 'full_sync',
        extra: [],
      },
      migrate: [
        ['phase', this.phase],
        ['target', `${v['target-redis-host']}:${v['target-redis-port']}`],
        ['target_db', v['target-redis-db']],
        ['senders', v['redis-sender-num']],
        ['batch_size', v['sync-batch-num']],
        ...Object.entries(flattenStats(s)),
      ],
    };
  }
}

function isLocalHost(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '0.0.0.0';
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
