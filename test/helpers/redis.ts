import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

/** A free TCP port on loopback, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** A fresh client (closed by `stop`). */
  client(opts?: { password?: string; username?: string; db?: number }): Redis;
  /** Saves, stops for `downMs` (connections refused), and starts again on the same port with the data. */
  bounce(downMs: number): Promise<void>;
  /** kill -9, then starts again on the same port: empty, as a target without persistence comes back. */
  crash(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a real `redis-server` on a free loopback port with no persistence, in its own temp dir.
 * Extra arguments are passed as command-line config (e.g. `['--maxmemory', '1mb']`). With `tls`
 * (client options able to connect: a CA, a client certificate), the port is a `--tls-port` and
 * the plain port is off; the extra arguments then carry the server's certificate files.
 */
export async function startRedis(extraArgs: string[] = [], opts: { tls?: RedisOptions['tls'] } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pm-redis-'));
  const listen = opts.tls === undefined ? ['--port', String(port)] : ['--port', '0', '--tls-port', String(port)];
  const args = [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs];
  const tls = opts.tls === undefined ? {} : { tls: opts.tls };
  let proc: ChildProcess = await launch(args, port, tls);
  const clients: Redis[] = [];
  const client = (opts: { password?: string; username?: string; db?: number } = {}): Redis => {
    const c = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1, ...tls, ...opts });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };
  return {
    host: '127.0.0.1',
    port,
    dir,
    client,
    async bounce(downMs: number) {
      const exited = new Promise((r) => proc.once('exit', r));
      // SHUTDOWN SAVE writes the dataset to dir; the new process loads it back.
      const c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null, ...tls });
      c.on('error', () => {});
      await c.call('SHUTDOWN', 'SAVE').catch(() => {});
      c.disconnect();
      await exited;
      await new Promise((r) => setTimeout(r, downMs));
      proc = await launch(args, port, tls);
    },
    async crash(downMs: number) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
      await new Promise((r) => setTimeout(r, downMs));
      proc = await launch(args, port, tls);
    },
    async stop() {
      for (const c of clients) c.disconnect();
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Spawns redis-server and waits until it answers PING (any reply, NOAUTH included, means up). */
async function launch(args: string[], port: number, clientOpts: RedisOptions = {}): Promise<ChildProcess> {
  const proc: ChildProcess = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      // No ready check: its INFO would fail with NOAUTH on a password-protected server and close the link.
      const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null, ...clientOpts });
      c.on('error', () => {});
      c.connect()
        .then(() => c.ping())
        .then(() => resolve(true), (e: Error) => resolve(/NOAUTH|WRONGPASS/.test(e.message)))
        .finally(() => c.disconnect());
    });
    if (ok) return proc;
    if (Date.now() > deadline) {
      // A server left running would keep the test process alive after the failure.
      proc.kill('SIGKILL');
      throw new Error(`redis-server on ${port} did not start`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
