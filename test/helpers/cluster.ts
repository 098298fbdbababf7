import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import type { TestCerts } from './certs.js';
import { startRedis, type RedisServer } from './redis.js';

const run = promisify(execFile);

export interface RedisCluster {
  /** The masters, in the order `redis-cli --cluster create` gave them slot ranges (0 first). */
  readonly nodes: RedisServer[];
  /** `host:port` of every master, for `target-redis-cluster`. */
  readonly seeds: string[];
  /** A cluster client (follows MOVED/ASK itself), for reading keys whatever their node; closed by `stop`. */
  client(): Cluster;
  /** The node id of master `i`. */
  nodeId(i: number): Promise<string>;
  /** Index of the master that owns `slot` right now (CLUSTER SLOTS asked of master 0). */
  ownerOf(slot: number): Promise<number>;
  /**
   * Moves `slots` from master `from` to master `to` the way `redis-cli --cluster reshard` does:
   * IMPORTING/MIGRATING, MIGRATE of every key in batches, then SETSLOT NODE on both. Writes may
   * stream meanwhile; `pauseMs` between MIGRATE batches keeps the slot half-moved for a while.
   */
  moveSlots(from: number, to: number, slots: readonly number[], pauseMs?: number): Promise<number>;
  /** The keys each master holds (binary keys exact), sorted. */
  keysPerNode(): Promise<Buffer[][]>;
  /** Waits until every master says cluster_state:ok and agrees on the slot map. */
  waitOk(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real Redis Cluster of `masters` masters (no replicas), every node with `password` when given, on free loopback ports, each a
 * `redis-server --cluster-enabled yes` in its own temp dir, joined and given slots by
 * `redis-cli --cluster create`. A node's `bounce` keeps its nodes.conf, so it rejoins as itself.
 */
export async function startCluster(masters = 3, opts: { password?: string; tls?: TestCerts } = {}): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const pw = opts.password;
  const auth = pw === undefined ? [] : ['--requirepass', pw, '--masterauth', pw];
  const certs = opts.tls;
  // TLS only (no plain port), the cluster bus too; the bus dials with the client certificate.
  const tlsArgs = certs === undefined ? [] : [...certs.serverArgs('no'), '--tls-cluster', 'yes', '--tls-client-cert-file', certs.clientCert, '--tls-client-key-file', certs.clientKey];
  const tls = certs === undefined ? {} : { tls: certs.clientTls() };
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000', ...auth, ...tlsArgs], tls));
    }
    const seeds = nodes.map((n) => `${n.host}:${n.port}`);
    const cliTls = certs === undefined ? [] : ['--tls', '--cacert', certs.caFile, '--cert', certs.clientCert, '--key', certs.clientKey];
    await run('redis-cli', [...cliTls, ...(pw === undefined ? [] : ['-a', pw, '--no-auth-warning']), '--cluster', 'create', ...seeds, '--cluster-yes'], { timeout: 30_000 });
    const admin = nodes.map((n) => n.client({ password: pw }));
    const clients: Cluster[] = [];
    const c: RedisCluster = {
      nodes,
      seeds,
      client() {
        const cl = new Cluster(nodes.map((n) => ({ host: n.host, port: n.port })), { redisOptions: { maxRetriesPerRequest: 1, password: pw, ...tls } });
        cl.on('error', () => {});
        clients.push(cl);
        return cl;
      },
      nodeId: async (i) => String(await admin[i].call('CLUSTER', 'MYID')),
      async ownerOf(slot) {
        const ranges = (await admin[0].call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, string]]>;
        const r = ranges.find(([lo, hi]) => slot >= lo && slot <= hi);
        if (r === undefined) throw new Error(`slot ${slot} has no owner`);
        return nodes.findIndex((n) => n.port === Number(r[2][1]));
      },
      async moveSlots(from, to, slots, pauseMs = 0) {
        const [src, dst] = [admin[from], admin[to]];
        const [srcId, dstId] = [await c.nodeId(from), await c.nodeId(to)];
        let moved = 0;
        for (const slot of slots) {
          await dst.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', srcId);
          await src.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', dstId);
          for (;;) {
            const keys = (await src.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '20')) as string[];
            if (keys.length === 0) break;
            await src.call('MIGRATE', '127.0.0.1', String(nodes[to].port), '', '0', '5000', 'REPLACE', 'KEYS', ...keys);
            moved += keys.length;
            if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
          }
          // The target first, as redis-cli does: the slot is never owned by nobody.
          await dst.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', dstId);
          await src.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', dstId);
          for (const a of admin) if (a !== src && a !== dst) await a.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', dstId);
        }
        return moved;
      },
      async keysPerNode() {
        return Promise.all(admin.map(async (a) => (await a.keysBuffer('*')).sort(Buffer.compare)));
      },
      async waitOk() {
        const deadline = Date.now() + 20_000;
        for (;;) {
          const states = await Promise.all(
            nodes.map(async (n) => {
              const probe = new Redis({ host: n.host, port: n.port, password: pw, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...tls });
              probe.on('error', () => {});
              try {
                await probe.connect();
                const info = String(await probe.call('CLUSTER', 'INFO'));
                return /cluster_state:ok/.test(info) && /cluster_slots_assigned:16384/.test(info);
              } catch {
                return false;
              } finally {
                probe.disconnect();
              }
            }),
          );
          if (states.every(Boolean)) return;
          if (Date.now() > deadline) throw new Error('cluster did not reach cluster_state:ok');
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      async stop() {
        for (const cl of clients) cl.disconnect();
        for (const n of nodes) await n.stop();
      },
    };
    await c.waitOk();
    return c;
  } catch (e) {
    for (const n of nodes) await n.stop();
    throw e;
  }
}
