/**
 * A Redis Cluster served over TLS only (tls-cluster yes, no plain port): the cluster sink and
 * verify's cluster reader reach every master with target-redis-tls and its CA, as the conf names them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig, type Config } from '../../src/config/load.js';
import { silentLogger } from '../../src/core/log.js';
import { connectTarget } from '../../src/daemon/target.js';
import { ClusterTargetReader } from '../../src/verify/cluster-target-reader.js';
import { makeCerts, type TestCerts } from '../helpers/certs.js';
import { startCluster, type RedisCluster } from '../helpers/cluster.js';
import { keyed, snap, submitAll } from './support.js';

let certs: TestCerts;
let cluster: RedisCluster;

before(async () => {
  certs = makeCerts();
  cluster = await startCluster(3, { tls: certs });
});

after(async () => {
  await cluster?.stop();
  certs?.remove();
});

function conf(extra: Record<string, string>): Config {
  const entries = Object.entries({ 'target-redis-cluster': cluster.seeds[0], 'target-redis-tls': 'yes', 'sync-batch-num': '20', ...extra });
  return buildConfig('cluster-tls.conf', entries.map(([key, value], i) => ({ key, value, where: `cluster-tls.conf:${i + 1}` })));
}

test('cluster over TLS: every master gets its keys through verified TLS connections', async () => {
  const sink = await connectTarget(conf({ 'target-redis-tls-ca-file': certs.caFile }), silentLogger());
  try {
    await submitAll(
      sink,
      Array.from({ length: 300 }, (_, i) => keyed('SET', `tls:${i}`, [String(i)], snap(i))),
    );
    await sink.flush();
  } finally {
    await sink.close();
  }
  const perNode = await cluster.keysPerNode();
  assert.equal(perNode.reduce((n, keys) => n + keys.length, 0), 300);
  assert.ok(perNode.every((keys) => keys.length > 0), 'every master holds some of the keys');
  const reader = await ClusterTargetReader.connect({ nodes: [{ host: '127.0.0.1', port: cluster.nodes[1].port }], tls: { ca: certs.clientTls().ca } });
  try {
    assert.equal(String(await reader.call('GET', Buffer.from('tls:299'))), '299');
  } finally {
    reader.close();
  }
});

test('cluster over TLS: a CA that did not sign the nodes fails the start with the TLS cause, quickly', async () => {
  const t0 = Date.now();
  await assert.rejects(connectTarget(conf({ 'target-redis-tls-ca-file': certs.otherCaFile }), silentLogger()), /certificate|TLS|self[- ]signed/i);
  assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
});
