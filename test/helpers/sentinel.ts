/** A real Redis master, one replica and one sentinel watching them, on loopback. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { TestCerts } from './certs.js';
import { freePort, startRedis, type RedisServer } from './redis.js';

export interface SentinelGroup {
  readonly name: string;
  readonly master: RedisServer;
  readonly replica: RedisServer;
  readonly sentinelPort: number;
  /** What the sentinel says the master is now. */
  masterPort(): Promise<number>;
  /** `SENTINEL FAILOVER`, retried until the sentinel knows a replica it may promote; resolves once it names the new master. */
  failover(): Promise<number>;
  stop(): Promise<void>;
}

async function until<T>(what: string, f: () => Promise<T | null>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * `sentinelPass`: the sentinel's own requirepass (clients must AUTH to ask it anything). `certs`:
 * every node and the sentinel speak TLS only (replication and monitoring included).
 */
export async function startSentinelGroup(
  name = 'pm-target',
  opts: { sentinelPass?: string; sentinelUser?: { name: string; password: string }; certs?: TestCerts } = {},
): Promise<SentinelGroup> {
  const c = opts.certs;
  const tlsArgs = c === undefined ? [] : [...c.serverArgs('no'), '--tls-replication', 'yes'];
  const tlsClient = c === undefined ? {} : { tls: { ca: c.clientTls().ca } };
  const master = await startRedis(tlsArgs, tlsClient);
  const replica = await startRedis([...tlsArgs, '--replicaof', '127.0.0.1', String(master.port)], tlsClient);
  const sentinelPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pm-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      ...(c === undefined
        ? [`port ${sentinelPort}`]
        : ['port 0', `tls-port ${sentinelPort}`, `tls-cert-file ${c.serverCert}`, `tls-key-file ${c.serverKey}`, `tls-ca-cert-file ${c.caFile}`, 'tls-auth-clients no', 'tls-replication yes']),
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${name} 2000`,
      `sentinel failover-timeout ${name} 10000`,
      ...(opts.sentinelPass === undefined ? [] : [`requirepass ${opts.sentinelPass}`]),
      // An ACL user of the sentinel itself, and no anonymous access.
      ...(opts.sentinelUser === undefined ? [] : ['user default off', `user ${opts.sentinelUser.name} on >${opts.sentinelUser.password} +@all`]),
      '',
    ].join('\n'),
  );
  const proc: ChildProcess = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const sentinel = new Redis({ host: '127.0.0.1', port: sentinelPort, maxRetriesPerRequest: 1, retryStrategy: () => 100, password: opts.sentinelUser?.password ?? opts.sentinelPass, username: opts.sentinelUser?.name, ...tlsClient });
  sentinel.on('error', () => {});
  const masterPort = async () => Number(((await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[])[1]);
  await until('the sentinel to answer', async () => ((await masterPort()) === master.port ? true : null), 10_000);
  await until('the replica in sync', async () => (/master_link_status:up/.test(await replica.client().info('replication')) ? true : null), 10_000);
  return {
    name,
    master,
    replica,
    sentinelPort,
    masterPort,
    async failover() {
      const before = await masterPort();
      // NOGOODSLAVE until the sentinel has seen the replica in the master's INFO.
      await until('SENTINEL FAILOVER to be accepted', async () => ((await sentinel.call('SENTINEL', 'FAILOVER', name)) === 'OK' ? true : null), 20_000);
      return until('the sentinel to name the new master', async () => {
        const p = await masterPort();
        return p !== before ? p : null;
      }, 20_000);
    },
    async stop() {
      sentinel.disconnect();
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await exited;
      }
      await replica.stop();
      await master.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
