/** A whole migration (snapshot, then binlog) into a target reached over TLS with a client certificate. */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertRedisHoldsExpected } from '../helpers/expected-redis.js';
import { makeCerts, type TestCerts } from '../helpers/certs.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startRedis } from '../helpers/redis.js';
import { loadExpected } from '../pika/expected.js';
import { waitFor } from '../replication/support.js';
import { startAll, untilIncremental } from './support.js';
import { cliArgs, shippedEnv } from '../helpers/shipped-cli.js';

let certs: TestCerts;
before(() => {
  certs = makeCerts();
});
after(() => certs.remove());

test('SLAVEOF over a TLS target (tls-auth-clients yes): the snapshot and the binlog arrive', async () => {
  const { target, master, d, done } = await startAll(
    'C',
    '3.5.5',
    {
      'target-redis-tls': 'yes',
      'target-redis-tls-ca-file': certs.caFile,
      'target-redis-tls-cert-file': certs.clientCert,
      'target-redis-tls-key-file': certs.clientKey,
      'target-redis-tls-servername': certs.servername,
    },
    { target: () => startRedis(certs.serverArgs('yes'), { tls: certs.clientTls() }) },
  );
  try {
    assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force'), 'OK');
    await untilIncremental(d);
    const c = target.client();
    const n = await assertRedisHoldsExpected(c, loadExpected(join(FIXTURES, 'snapshots/3.5.5-base/expected.json')), { nowMs: Date.now(), expirySlackMs: 1000 });
    assert.ok(n > 20, `${n} keys compared`);
    for (let i = 0; i < 200; i++) master.write(['INCR', 'tls:counter']);
    await waitFor('200 INCRs over TLS', async () => (await c.get('tls:counter')) === '200', 15_000);
    const clients = (await c.call('CLIENT', 'LIST')) as string;
    assert.ok((clients.match(/name=pika-migrate-sink-\d+/g) ?? []).length >= 1, 'the senders are connected over the TLS port (the only one)');
  } finally {
    await done();
  }
});

test('pika-migrate -c with an unreadable TLS file exits 2 naming the key and the conf line', () => {
  const conf = join(certs.dir, 'bad-tls.conf');
  writeFileSync(conf, ['target-redis-port : 1', 'target-redis-tls : yes', 'target-redis-tls-ca-file : /nonexistent/ca.pem', `log-path : ${certs.dir}/log`, ''].join('\n'));
  const r = spawnSync(process.execPath, cliArgs('-c', conf), { encoding: 'utf8', timeout: 30_000, env: shippedEnv() });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`${conf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3 target-redis-tls-ca-file: cannot read /nonexistent/ca\\.pem: ENOENT`));
});
