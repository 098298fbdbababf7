import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { FatalError } from '../core/errors.js';
import type { Logger } from '../core/log.js';

/**
 * The rsync daemon an A/B master pushes the snapshot into (spec §4.1): module `document` rooted at
 * the sync path, user `rsync_user`, password = masterauth or the literal `default`, on the port the
 * replica reports + 1000. Run in the foreground (`--no-detach`) so it is our child and dies with us.
 */
export interface RsyncDaemonOptions {
  /** Module root (`db-sync-path`); the snapshot lands in `<root>/db0/`. */
  readonly root: string;
  readonly port: number;
  /** Address to bind (Pika binds 0.0.0.0). */
  readonly address: string;
  /** masterauth; empty → `default`, as Pika's master uses when it has no requirepass. */
  readonly password: string;
  readonly logger: Logger;
}

export const RSYNC_USER = 'rsync_user';
export const RSYNC_MODULE = 'document';

export class RsyncDaemon {
  private proc: ChildProcess | null = null;
  private exitError: Error | null = null;
  readonly dir: string;

  constructor(private readonly opts: RsyncDaemonOptions) {
    this.dir = join(opts.root, 'rsync');
  }

  get logFile(): string {
    return join(this.dir, 'slash_rsync.log');
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Error text when the daemon died on its own. */
  get failure(): Error | null {
    return this.exitError;
  }

  writeConfig(): string {
    mkdirSync(this.dir, { recursive: true });
    const secret = join(this.dir, 'slash_rsync.secret');
    const pid = join(this.dir, 'slash_rsync.pid');
    // A stale pid file makes rsync refuse to start (Pika issue #930): we own this directory.
    rmSync(pid, { force: true });
    writeFileSync(secret, `${RSYNC_USER}:${this.opts.password === '' ? 'default' : this.opts.password}\n`, { mode: 0o600 });
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    const conf = [
      ...(root ? ['uid = 0', 'gid = 0'] : []),
      'use chroot = no',
      'max connections = 10',
      `lock file = ${join(this.dir, 'slash_rsync.lock')}`,
      `log file = ${this.logFile}`,
      `pid file = ${pid}`,
      'list = no',
      'strict modes = no',
      `auth users = ${RSYNC_USER}`,
      `secrets file = ${secret}`,
      `[${RSYNC_MODULE}]`,
      `path = ${this.opts.root}/`,
      'read only = no',
      '',
    ].join('\n');
    const confPath = join(this.dir, 'slash_rsync.conf');
    writeFileSync(confPath, conf);
    return confPath;
  }

  /** Starts the daemon and resolves once it accepts connections. */
  async start(timeoutMs = 5000): Promise<void> {
    if (this.running) return;
    const confPath = this.writeConfig();
    const args = ['--daemon', '--no-detach', `--config=${confPath}`, `--address=${this.opts.address}`, `--port=${this.opts.port}`];
    this.exitError = null;
    const proc = spawn('rsync', args, { stdio: ['ignore', 'ignore', 'pipe'] });
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
      await new Promise((r) => setTimeout(r, 50));
    }
    this.opts.logger.info({ port: this.opts.port, address: this.opts.address, root: this.opts.root }, 'rsync daemon listening for the master push');
  }

  private stopping = false;

  async stop(): Promise<void> {
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

  logSize(): number {
    try {
      return statSync(this.logFile).size;
    } catch {
      return 0;
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
