/**
 * Run by protected-mode.test.ts inside a private network namespace whose loopback also holds
 * 10.99.0.1: starts daemons bound to 0.0.0.0 and reports what a loopback client and a client from
 * 10.99.0.1 get, as one JSON line on stdout.
 */
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { buildConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon/daemon.js';
import pino from 'pino';
import { startRedis } from '../helpers/redis.js';
import { replicaPort, tempDir } from '../replication/support.js';

/** Connects from `from` to `to`, sends PING, and returns what came back before the close (or 2 s). */
function probe(to: string, from: string, port: number): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect({ host: to, port, localAddress: from });
    let reply = '';
    let closed = false;
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ reply, closed });
    }, 2000);
    s.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      if (reply.endsWith('\r\n') && !reply.startsWith('-DENIED')) {
        clearTimeout(timer);
        s.destroy();
        resolve({ reply, closed });
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ reply, closed });
    });
    s.on('connect', () => s.write('PING\r\n'));
  });
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const dir = tempDir('pm-protected-');
  const out: Record<string, unknown> = {};
  try {
    for (const [name, extra] of [
      ['default', {}],
      ['requirepass', { requirepass: 'pw' }],
      ['protected-mode-no', { 'protected-mode': 'no' }],
      ['bind-other', { bind: '10.99.0.1' }],
    ] as const) {
      const port = await replicaPort();
      const entries = Object.entries({ port: String(port), bind: '0.0.0.0', 'db-sync-path': join(dir, 'dbsync'), 'log-path': join(dir, 'log'), 'target-redis-port': String(redis.port), ...extra }).map(
        ([key, value], i) => ({ key, value, where: `test.conf:${i + 1}` }),
      );
      const logs: string[] = [];
      const logger = pino({ level: 'info' }, { write: (l: string) => logs.push((JSON.parse(l) as { msg: string }).msg) });
      const daemon = await Daemon.start(buildConfig('test.conf', entries), logger, { bar: null });
      try {
        const loopback = name === 'bind-other' ? null : await probe('127.0.0.1', '127.0.0.1', port);
        out[name] = { loopback, other: await probe('10.99.0.1', '10.99.0.1', port), logs: logs.filter((m) => /protected/.test(m)) };
      } finally {
        await daemon.stop('probe done');
        await daemon.exited;
      }
    }
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
