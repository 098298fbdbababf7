import type { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { FatalError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { RSYNC_USER, rsyncdConf, unprivilegedIds, type Ids } from './rsyncd-conf.js';
import { killAndWait, spawnTied, staleProcesses } from './tied-process.js';

export { RSYNC_MODULE, RSYNC_USER } from './rsyncd-conf.js';

/**
 * The rsync daemon an A/B master pushes the snapshot into (spec §4.1): module `document` rooted at
 * the sync path, user `rsync_user`, password = masterauth or the literal `default` (what the
 * master's rsync client sends: its own requirepass or `default`, from a file it writes at its
 * start, so no other secret can work), on the port the replica reports + 1000.
 *
 * Ours alone: run in the foreground (`--no-detach`) and tied to this process (tied-process.ts),
 * so a kill -9 of the daemon takes it along; a daemon an earlier run left behind anyway (no
 * setpriv) is found by its pid file and conf file and killed before we bind the port again.
 */
export interface RsyncDaemonOptions {
  /** Module root (`db-sync-path`); the snapshot lands in `<root>/db0/`. */
  readonly root: string;
  readonly port: number;
  /** The address the master pushes to (the ip we report), not every interface as Pika's. */
  readonly address: string;
  /** The master's addresses, the only ones let in. */
  readonly allowFrom: readonly string[];
  /** masterauth; empty → `default`, as Pika's master uses when it has no requirepass. */
  readonly password: string;
  readonly logger: Logger;
}

const rsyncFiles = (root: string) => ({ conf: join(root, 'rsync', 'slash_rsync.conf'), pid: join(root, 'rsync', 'slash_rsync.pid') });

/**
 * Kills the rsync daemon an earlier run of ours (over db-sync-path `root`) left running, known by
 * its pid file and its conf file in its command line, and removes the pid file. At every start of
 * a replication, not only before a snapshot: a resume needs no daemon, and none of ours may stay
 * open to writes.
 */
export async function killStaleRsyncDaemon(root: string, logger: Logger): Promise<void> {
  const files = rsyncFiles(resolve(root));
  const mark = `--config=${files.conf}`;
  const stale = staleProcesses(files.pid, 'rsync', mark);
  if (stale.length > 0) {
    logger.warn({ pids: stale, conf: files.conf }, 'killing the rsync daemon an earlier run left behind');
    const left = await killAndWait(stale, 'rsync', mark);
    if (left.length > 0) throw new FatalError(`the rsync daemon an earlier run left behind (pids ${left.join(', ')}, conf ${files.conf}) does not die on SIGKILL`);
  }
  // A stale pid file makes rsync refuse to start (Pika issue #930): we own this directory.
  rmSync(files.pid, { force: true });
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

export class RsyncDaemon {
  private proc: ChildProcess | null = null;
  private exitError: Error | null = null;
  private stopping = false;
  /** The stop under way, shared by every caller until the daemon has exited. */
  private stopped: Promise<void> | null = null;
  readonly dir: string;
  private runAs: Ids | null | undefined;

  /** db-sync-path made absolute: the module path, the chroot and the files of the conf (`./dbsync/` by default). */
  private readonly root: string;

  constructor(private readonly opts: RsyncDaemonOptions) {
    this.root = resolve(opts.root);
    this.dir = join(this.root, 'rsync');
  }

  /**
   * Who the transfer runs as: `nobody` when we are root, else ourselves (null). `nobody` must be
   * able to enter the module root (the chroot); a root others cannot search (mode o-x, as a
   * mkdtemp dir) is not opened up, since the spools and checkpoints beside the snapshot would
   * become reachable: the transfer then stays root, still chrooted and filtered, with a warning.
   */
  get dropTo(): Ids | null {
    if (this.runAs !== undefined) return this.runAs;
    this.runAs = null;
    if (!isRoot()) return null;
    if ((statSync(this.root).mode & 0o001) === 0) {
      this.opts.logger.warn(
        { root: this.root },
        'db-sync-path cannot be searched by others (o-x): the rsync transfer runs as root (chrooted) rather than as nobody; chmod o+x it to drop privileges',
      );
      return null;
    }
    this.runAs = unprivilegedIds();
    return this.runAs;
  }

  get logFile(): string {
    return join(this.dir, 'slash_rsync.log');
  }

  get confFile(): string {
    return rsyncFiles(this.root).conf;
  }

  get pidFile(): string {
    return rsyncFiles(this.root).pid;
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The daemon's pid while it runs. */
  get pid(): number | null {
    return this.running ? (this.proc!.pid ?? null) : null;
  }

  /** Error text when the daemon died on its own. */
  get failure(): Error | null {
    return this.exitError;
  }

  writeConfig(): string {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const secret = join(this.dir, 'slash_rsync.secret');
    writeFileSync(secret, `${RSYNC_USER}:${this.opts.password === '' ? 'default' : this.opts.password}\n`, { mode: 0o600 });
    // mode applies to a new file only; strict modes refuses a secrets file others can read.
    chmodSync(secret, 0o600);
    const conf = rsyncdConf({
      root: this.root,
      secretsFile: secret,
      logFile: this.logFile,
      pidFile: this.pidFile,
      lockFile: join(this.dir, 'slash_rsync.lock'),
      allowFrom: this.opts.allowFrom,
      asRoot: isRoot(),
      dropTo: this.dropTo,
    });
    writeFileSync(this.confFile, conf);
    return this.confFile;
  }

  /**
   * Makes `dir` (a DB's receive directory, created by the caller) and everything in it writable
   * by the user the transfer runs as.
   */
  grant(dir: string): void {
    if (this.dropTo === null) return;
    const { uid, gid } = this.dropTo;
    const walk = (p: string) => {
      chownSync(p, uid, gid);
      if (statSync(p).isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
    };
    walk(dir);
  }

  /** Starts the daemon and resolves once it accepts connections. */
  async start(timeoutMs = 5000): Promise<void> {
    if (this.running) return;
    const confPath = this.writeConfig();
    await killStaleRsyncDaemon(this.root, this.opts.logger);
    const args = ['--daemon', '--no-detach', `--config=${confPath}`, `--address=${this.opts.address}`, `--port=${this.opts.port}`];
    this.exitError = null;
    const { proc, tied } = spawnTied('rsync', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    if (!tied) this.opts.logger.warn('setpriv (util-linux) not found: a kill -9 of pika-migrate leaves its rsync daemon running until the next start kills it');
    this.proc = proc;
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    const spawnFailed = new Promise<Error>((resolve) => proc.once('error', resolve));
    proc.once('exit', (code, signal) => {
      if (this.proc === proc && !this.stopping) {
        this.exitError = new FatalError(
          `rsync daemon on ${this.opts.address}:${this.opts.port} exited (code ${code}, signal ${signal}): ${stderr.trim() || this.logTail()}`,
        );
        this.opts.logger.error({ err: this.exitError }, 'rsync daemon exited');
      }
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const raced = await Promise.race([spawnFailed, this.probe().then((ok) => ok)]);
      if (raced instanceof Error) throw new FatalError(`cannot run rsync (is the rsync package installed?): ${raced.message}`);
      if (raced) break;
      if (!this.running) {
        throw new FatalError(
          `rsync daemon failed to start on ${this.opts.address}:${this.opts.port}: ${stderr.trim() || this.logTail() || 'no output'}`,
        );
      }
      if (Date.now() > deadline) throw new FatalError(`rsync daemon did not listen on ${this.opts.address}:${this.opts.port} within ${timeoutMs} ms`);
      // It listens ~30 ms after the spawn; a full sync waits for it before its DBSync.
      await new Promise((r) => setTimeout(r, 10));
    }
    this.opts.logger.info(
      { port: this.opts.port, address: this.opts.address, root: this.root, allowFrom: this.opts.allowFrom, runAs: this.dropTo ?? 'self', pid: proc.pid },
      'rsync daemon listening for the master push',
    );
  }

  /**
   * Signals the daemon at once and resolves when it has exited. Every call while one is under way
   * shares it, so a caller that must not wait (the hand-over to the load) can start the stop and
   * leave it, and a later stop (the replica's, the next snapshot's start) waits for that same exit.
   */
  stop(): Promise<void> {
    this.stopped ??= this.terminate().finally(() => {
      this.stopped = null;
    });
    return this.stopped;
  }

  private async terminate(): Promise<void> {
    const proc = this.proc;
    if (proc === null) return;
    this.stopping = true;
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
    }
    this.proc = null;
    this.stopping = false;
  }

  /** Number of connections the daemon logged (the master's pushes and its probe). */
  connectionsSeen(): number {
    const log = this.readLog();
    return (log.match(/connect from /g) ?? []).length;
  }

  /** Addresses whose push failed our password (`auth failed on module`), in the order logged. */
  authFailures(): string[] {
    return [...this.readLog().matchAll(/auth failed on module \S+ from .*\(([^)]+)\)/g)].map((m) => m[1]);
  }

  /** Addresses the daemon turned away (`hosts allow`), in the order it logged them. */
  deniedAddresses(): string[] {
    return [...this.readLog().matchAll(/rsync denied on module \S+ from .*\(([^)]+)\)/g)].map((m) => m[1]);
  }

  logSize(): number {
    try {
      return statSync(this.logFile).size;
    } catch {
      return 0;
    }
  }

  /** The log written after byte `offset` (a logSize() taken earlier): one transfer's lines. */
  logSince(offset: number): string {
    try {
      return readFileSync(this.logFile).subarray(offset).toString('utf8');
    } catch {
      return '';
    }
  }

  logTail(lines = 5): string {
    return this.readLog().trim().split('\n').slice(-lines).join(' | ');
  }

  private readLog(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  private probe(): Promise<boolean> {
    const host = this.opts.address === '0.0.0.0' ? '127.0.0.1' : this.opts.address;
    return new Promise((resolve) => {
      const s = connect({ host, port: this.opts.port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  }
}
