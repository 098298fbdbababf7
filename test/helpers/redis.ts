import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

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
  stop(): Promise<void>;
}

/**
 * Starts a real `redis-server` on a free loopback port with no persistence, in its own temp dir.
 * Extra arguments are passed as command-line config (e.g. `['--maxmemory', '1mb']`).
 */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pm-redis-'));
  const proc: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const clients: Redis[] = [];
  const client = (opts: { password?: string; username?: string; db?: number } = {}): Redis => {
    const c = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1, ...opts });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };
  // Wait until it answers PING (any reply, including NOAUTH, means it is up).
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      // No ready check: its INFO would fail with NOAUTH on a password-protected server and close the link.
      const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => {});
      c.connect()
        .then(() => c.ping())
        .then(() => resolve(true), (e: Error) => resolve(/NOAUTH|WRONGPASS/.test(e.message)))
        .finally(() => c.disconnect());
    });
    if (ok) break;
    if (Date.now() > deadline) {
      // A server left running would keep the test process alive after the failure.
      proc.kill('SIGKILL');
      throw new Error(`redis-server on ${port} did not start`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: '127.0.0.1',
    port,
    dir,
    client,
    async stop() {
      for (const c of clients) c.disconnect();
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
