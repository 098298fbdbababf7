/**
 * Real Pika servers from ../shared/pika-bin as masters: the ground truth the test master models.
 * Each runs in its own temp dir on a free loopback port P (with P+1000, P+2000 and P+10001 free:
 * 3.x's rsync daemon, the replication port, 3.5+'s rsync service).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { MasterFamily } from '../master/fake-master.js';
import { SHARED } from './fixtures.js';
import { tempDir, waitFor } from '../replication/support.js';
import { freePortBlock } from './ports.js';

export const PIKA_BIN = join(SHARED, 'pika-bin');

export type RealPikaVersion = '3.2.7' | '3.5.5' | '4.0.1';
export const REAL_PIKA_VERSIONS: readonly RealPikaVersion[] = ['3.2.7', '3.5.5', '4.0.1'];

export const FAMILY_OF: Readonly<Record<RealPikaVersion, MasterFamily>> = { '3.2.7': 'A', '3.5.5': 'C', '4.0.1': 'D' };

export interface RealPikaOptions {
  /** Conf lines added to (or replacing) the template's, e.g. `{ requirepass: 'pw', databases: '2' }`. */
  readonly conf?: Record<string, string | number>;
  /** Reuse this directory (a restart keeps db/, log/ and the replication id 3.5+ wrote into pika.conf); default a fresh temp dir. */
  readonly dir?: string;
  /** Reuse this port (a restart). */
  readonly port?: number;
  /** A bgsave's `dbN` directory (e.g. a fixture's dump/db0) copied in as db0 before the start. */
  readonly seedDb0?: string;
  /** Another binary of ../shared/pika-bin run the same way (the C++ `pika-migrate-3.2.7`, a Pika itself). */
  readonly binary?: string;
}

export interface RealPika {
  readonly version: RealPikaVersion;
  readonly family: MasterFamily;
  readonly port: number;
  readonly dir: string;
  /** The server's pid (peak RSS from /proc). */
  readonly pid: number;
  /** A client on the master's Redis port (closed by stop). */
  client(): Redis;
  /** Stops the server (SIGTERM, then SIGKILL after 15 s) and the rsync daemon it started; keeps dir. */
  stop(): Promise<void>;
  /** SIGKILL, no grace; the rsync daemon it started is stopped too. Keeps dir. */
  kill(): Promise<void>;
  /** kill() and removes dir: nothing in it is wanted any more, so no grace (3.x takes 5–10 s on SIGTERM). */
  destroy(): Promise<void>;
}

/** A port P with P, P+1000, P+2000 and P+10001 free: 20000–32700, away from replicaPort's 10000–19999. */
export function pikaPort(): Promise<number> {
  return freePortBlock(20000, 2700, [0, 1000, 2000, 10001]);
}

/** Pids of processes whose command line mentions `needle` (3.x's `rsync --daemon` names the master's dir). */
function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmd.includes(needle) && cmd.includes('rsync')) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

function killRsyncOf(dir: string): void {
  for (const pid of pidsMentioning(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** The `replication-id` line a 3.5+ master wrote into its pika.conf, if any. */
function keptReplicationId(conf: string): string | null {
  try {
    return /^replication-id\s*:\s*(\S+)/m.exec(readFileSync(conf, 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** One connection, one PING, closed: no client left retrying in the background. */
async function pingOnce(port: number, password: string | undefined): Promise<string> {
  const c = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  c.on('error', () => {});
  try {
    await c.connect();
    return await c.ping();
  } catch {
    return '';
  } finally {
    c.disconnect();
  }
}

/**
 * Starts a real Pika `version` in the foreground and waits for PING. The template's conf is
 * filled in (`../shared/pika-bin/pika.conf.template`), `opts.conf` on top.
 */
export async function startRealPika(version: RealPikaVersion, opts: RealPikaOptions = {}): Promise<RealPika> {
  const dir = opts.dir ?? tempDir(`pm-pika-${version}-`);
  const port = opts.port ?? (await pikaPort());
  for (const sub of ['log', 'db', 'dump', 'dbsync']) mkdirSync(join(dir, sub), { recursive: true });
  if (opts.seedDb0 !== undefined) {
    cpSync(opts.seedDb0, join(dir, 'db', 'db0'), { recursive: true });
    // The fixtures are read-only; a bgsave's `info` file is not part of a live DB.
    execFileSync('chmod', ['-R', 'u+w', join(dir, 'db')]);
    rmSync(join(dir, 'db', 'db0', 'info'), { force: true });
  }
  const template = readFileSync(join(PIKA_BIN, 'pika.conf.template'), 'utf8').replaceAll('@DIR@', dir).replaceAll('@PORT@', String(port));
  const lines = template.split('\n').filter((l) => !l.startsWith('#') && l.trim() !== '');
  // 3.5+ write the replication id they hand out into pika.conf: a restart must keep it, or the
  // master is another one to its replicas (they refuse to resume).
  const keptId = opts.dir === undefined ? null : keptReplicationId(join(dir, 'pika.conf'));
  const extra: Record<string, string | number> = { ...(keptId === null ? {} : { 'replication-id': keptId }), ...(opts.conf ?? {}) };
  const kept = lines.filter((l) => !(l.split(':')[0].trim() in extra));
  const conf = [...kept, ...Object.entries(extra).map(([k, v]) => `${k} : ${v}`)].join('\n') + '\n';
  writeFileSync(join(dir, 'pika.conf'), conf);
  const out: string[] = [];
  const binary = opts.binary ?? `pika-${version}`;
  const proc: ChildProcess = spawn(join(PIKA_BIN, binary), ['-c', join(dir, 'pika.conf')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (b: Buffer) => {
    out.push(b.toString());
    if (out.length > 200) out.shift();
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  let exited = false;
  proc.once('exit', () => (exited = true));
  const clients: Redis[] = [];
  const password = extra.requirepass === undefined ? undefined : String(extra.requirepass);
  const client = (): Redis => {
    const c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, password, lazyConnect: false });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };
  await waitFor(
    `${binary} on port ${port}`,
    async () => {
      if (exited) throw new Error(`${binary} exited at start: ${out.join('').slice(-2000)}`);
      return (await pingOnce(port, password)) === 'PONG';
    },
    20_000,
  );
  const end = async (signal: NodeJS.Signals, graceMs: number) => {
    for (const c of clients) c.disconnect();
    clients.length = 0;
    if (!exited) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(t);
    }
    killRsyncOf(dir);
    // The rsync daemon's port must be free before a restart binds it again.
    await sleep(50);
  };
  return {
    version,
    family: FAMILY_OF[version],
    port,
    dir,
    pid: proc.pid!,
    client,
    stop: () => end('SIGTERM', 15_000),
    kill: () => end('SIGKILL', 0),
    async destroy() {
      await end('SIGKILL', 0);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
