/** TLS to the target, through the conf keys, against a real redis-server on a --tls-port. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { buildConfig, type Config } from '../../src/config/load.js';
import { ConfigError, FatalError } from '../../src/core/errors.js';
import { silentLogger, type Logger } from '../../src/core/log.js';
import { connectTarget, targetConnectionOptions } from '../../src/daemon/target.js';
import type { Sink } from '../../src/sink/sink.js';
import { makeCerts, type TestCerts } from '../helpers/certs.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { binlog, keyed, sleep, submitAll } from './support.js';

let certs: TestCerts;
before(() => {
  certs = makeCerts();
});
after(() => certs.remove());

function conf(r: RedisServer, extra: Record<string, string>): Config {
  const entries = Object.entries({ 'target-redis-port': String(r.port), 'redis-sender-num': '2', 'target-redis-tls': 'yes', ...extra });
  return buildConfig('tls.conf', entries.map(([key, value], i) => ({ key, value, where: `tls.conf:${i + 1}` })));
}

function memoryLogger(): { logger: Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as { level: number; msg: string });
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

async function roundTrip(pool: Sink, r: RedisServer, key: string): Promise<void> {
  await submitAll(pool, [keyed('SET', key, ['v'], binlog(1, 1))]);
  await pool.flush();
  assert.equal(await r.client().get(key), 'v');
}

/** A failed connect must be quick: no hang, no retry loop. */
async function rejectsQuickly(p: Promise<unknown>, check: (e: Error) => boolean): Promise<void> {
  const t0 = Date.now();
  await assert.rejects(p, (e: Error) => {
    assert.ok(check(e), `unexpected error: ${e.name}: ${e.message}`);
    return true;
  });
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
}

test('verify on with the right CA: the sink works over TLS (servername by IP and by name)', async () => {
  const r = await startRedis(certs.serverArgs('no'), { tls: { ca: certs.clientTls().ca } });
  try {
    for (const servername of ['', certs.servername]) {
      const pool = await connectTarget(conf(r, { 'target-redis-tls-ca-file': certs.caFile, 'target-redis-tls-servername': servername }), silentLogger());
      await roundTrip(pool, r, `k-${servername}`);
      await pool.close();
    }
  } finally {
    await r.stop();
  }
});

test('a CA that did not sign the server certificate fails at once with the TLS cause', async () => {
  const r = await startRedis(certs.serverArgs('no'), { tls: { ca: certs.clientTls().ca } });
  try {
    await rejectsQuickly(connectTarget(conf(r, { 'target-redis-tls-ca-file': certs.otherCaFile }), silentLogger()), (e) =>
      e instanceof FatalError && /TLS handshake with Redis at 127\.0\.0\.1:\d+ failed/.test(e.message) && /certificate/i.test(e.message) && e.message.includes('target-redis-tls-ca-file'),
    );
    // No CA file: the system's CAs do not know the test CA either.
    await rejectsQuickly(connectTarget(conf(r, {}), silentLogger()), (e) => e instanceof FatalError && /TLS handshake .* failed/.test(e.message));
  } finally {
    await r.stop();
  }
});

test('a servername the certificate does not name fails with ERR_TLS_CERT_ALTNAME_INVALID', async () => {
  const r = await startRedis(certs.serverArgs('no'), { tls: { ca: certs.clientTls().ca } });
  try {
    await rejectsQuickly(connectTarget(conf(r, { 'target-redis-tls-ca-file': certs.caFile, 'target-redis-tls-servername': 'not-the-server.test' }), silentLogger()), (e) =>
      e instanceof FatalError && e.message.includes('ERR_TLS_CERT_ALTNAME_INVALID') && e.message.includes('not-the-server.test'),
    );
  } finally {
    await r.stop();
  }
});

test('verify off connects to an untrusted server and says so in a warning', async () => {
  const r = await startRedis(certs.serverArgs('no'), { tls: { ca: certs.clientTls().ca } });
  try {
    const { logger, lines } = memoryLogger();
    const pool = await connectTarget(conf(r, { 'target-redis-tls-ca-file': certs.otherCaFile, 'target-redis-tls-verify': 'no' }), logger);
    await roundTrip(pool, r, 'unverified');
    await pool.close();
    assert.ok(lines.some((l) => l.level === 40 && /target-redis-tls-verify is no/.test(l.msg)), JSON.stringify(lines));
    // Verify on (the default) never warns.
    const quiet = memoryLogger();
    const p2 = await connectTarget(conf(r, { 'target-redis-tls-ca-file': certs.caFile }), quiet.logger);
    await p2.close();
    assert.ok(!quiet.lines.some((l) => l.level >= 40), JSON.stringify(quiet.lines));
  } finally {
    await r.stop();
  }
});

test('tls-auth-clients yes: works with the client certificate, fails clearly without it', async () => {
  const r = await startRedis(certs.serverArgs('yes'), { tls: certs.clientTls() });
  try {
    const pool = await connectTarget(
      conf(r, { 'target-redis-tls-ca-file': certs.caFile, 'target-redis-tls-cert-file': certs.clientCert, 'target-redis-tls-key-file': certs.clientKey }),
      silentLogger(),
    );
    await roundTrip(pool, r, 'with-cert');
    await pool.close();
    await rejectsQuickly(connectTarget(conf(r, { 'target-redis-tls-ca-file': certs.caFile }), silentLogger()), (e) =>
      e instanceof FatalError && /TLS handshake .* failed/.test(e.message) && /certificate/i.test(e.message),
    );
  } finally {
    await r.stop();
  }
});

test('a handshake failure on reconnect is fatal at once, not retried until the give-up timer', async () => {
  const r = await startRedis(certs.serverArgs('no'), { tls: { ca: certs.clientTls().ca } });
  try {
    const pool = await connectTarget(conf(r, { 'target-redis-tls-ca-file': certs.caFile }), silentLogger());
    const fatal = new Promise<Error>((res) => pool.once('fatal', res));
    await roundTrip(pool, r, 'before');
    // The server now presents a certificate of a CA we do not trust; drop the senders' links.
    const admin = r.client();
    await admin.call('CONFIG', 'SET', 'tls-cert-file', certs.rogueCert, 'tls-key-file', certs.rogueKey);
    const t0 = Date.now();
    await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    const e = await Promise.race([fatal, sleep(10_000).then(() => new Error('no fatal within 10 s'))]);
    assert.ok(e instanceof FatalError && /TLS handshake .* failed/.test(e.message), e.message);
    assert.ok(Date.now() - t0 < 5000, `${Date.now() - t0} ms`);
    pool.destroy();
  } finally {
    await r.stop();
  }
});

test('TLS files are read at start: a missing one is a ConfigError naming the key and the conf line', () => {
  const fake = { port: 6379 } as RedisServer;
  for (const key of ['target-redis-tls-ca-file', 'target-redis-tls-cert-file', 'target-redis-tls-key-file']) {
    const extra = { [key]: '/nonexistent/file.pem' };
    if (key === 'target-redis-tls-cert-file') extra['target-redis-tls-key-file'] = certs.clientKey;
    if (key === 'target-redis-tls-key-file') extra['target-redis-tls-cert-file'] = certs.clientCert;
    assert.throws(
      () => targetConnectionOptions(conf(fake, extra)),
      (e: Error) => e instanceof ConfigError && new RegExp(`^tls\\.conf:\\d+ ${key}: cannot read /nonexistent/file\\.pem: ENOENT`).test(e.message),
    );
  }
  assert.throws(() => targetConnectionOptions(conf(fake, { 'target-redis-tls-cert-file': certs.clientCert })), (e: Error) => e instanceof ConfigError && /needs both/.test(e.message));
  assert.throws(
    () => targetConnectionOptions(conf(fake, { 'target-redis-tls': 'no', 'target-redis-tls-ca-file': certs.caFile })),
    (e: Error) => e instanceof ConfigError && /target-redis-tls-ca-file: is set but target-redis-tls is no/.test(e.message),
  );
  const ok = targetConnectionOptions(conf(fake, { 'target-redis-tls-ca-file': certs.caFile, 'target-redis-tls-servername': 'x.test' }));
  assert.equal(ok.tls?.servername, 'x.test');
  assert.equal(ok.tls?.rejectUnauthorized, true, 'verify is on by default');
  assert.equal(targetConnectionOptions(conf(fake, { 'target-redis-tls': 'no' })).tls, undefined);
});
