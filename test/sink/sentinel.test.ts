/** The sink finds a Sentinel-managed target through the conf keys (a real sentinel with its own password). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig, type Config } from '../../src/config/load.js';
import { ConfigError, FatalError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { connectTarget, targetConnectionOptions } from '../../src/daemon/target.js';
import { makeCerts } from '../helpers/certs.js';
import { startSentinelGroup } from '../helpers/sentinel.js';
import { binlog, keyed, submitAll } from './support.js';

function conf(extra: Record<string, string>): Config {
  return buildConfig('s.conf', Object.entries({ 'redis-sender-num': '2', ...extra }).map(([key, value], i) => ({ key, value, where: `s.conf:${i + 1}` })));
}

test('sentinels with requirepass: the sink writes to the master they name; a wrong name or password fails the start', async () => {
  const group = await startSentinelGroup('pm-s', { sentinelPass: 'sent-pw' });
  try {
    const base = { 'target-redis-sentinels': `127.0.0.1:${group.sentinelPort}`, 'target-redis-port': '1' };
    const pool = await connectTarget(conf({ ...base, 'target-redis-sentinel-master': 'pm-s', 'target-redis-sentinel-pwd': 'sent-pw' }), silentLogger());
    assert.match(pool.target, /sentinel master "pm-s" \(sentinels 127\.0\.0\.1:\d+\)/);
    await submitAll(pool, [keyed('SET', 'via-sentinel', ['1'], binlog(1, 1))]);
    await pool.flush();
    await pool.close();
    assert.equal(await group.master.client().get('via-sentinel'), '1', 'written to the master (target-redis-port is not used)');
    for (const extra of [
      { 'target-redis-sentinel-master': 'no-such-master', 'target-redis-sentinel-pwd': 'sent-pw' },
      { 'target-redis-sentinel-master': 'pm-s', 'target-redis-sentinel-pwd': 'wrong' },
    ]) {
      await assert.rejects(connectTarget(conf({ ...base, ...extra }), silentLogger()), (e: Error) => {
        assert.ok(e instanceof FatalError, `${e.name}: ${e.message}`);
        assert.match(e.message, new RegExp(`sentinel master "${extra['target-redis-sentinel-master']}"`));
        return true;
      });
    }
  } finally {
    await group.stop();
  }
});

test('Sentinel keys go together: a master name without sentinels (or the reverse) is a ConfigError', () => {
  assert.throws(() => targetConnectionOptions(conf({ 'target-redis-sentinel-master': 'm' })), (e: Error) => e instanceof ConfigError && /^s\.conf:2 target-redis-sentinel-master: .*needs both/.test(e.message));
  assert.throws(() => targetConnectionOptions(conf({ 'target-redis-sentinels': '127.0.0.1:1' })), (e: Error) => e instanceof ConfigError && /target-redis-sentinels: .*needs both/.test(e.message));
  assert.throws(() => targetConnectionOptions(conf({ 'target-redis-sentinel-pwd': 'x' })), (e: Error) => e instanceof ConfigError && /is set but target-redis-sentinels is empty/.test(e.message));
  assert.throws(() => conf({ 'target-redis-sentinels': 'nohost' }), (e: Error) => e instanceof ConfigError && /target-redis-sentinels: expected ip:port/.test(e.message));
});

test('TLS everywhere: the sentinels and the master they name are reached over TLS with the same CA', async () => {
  const certs = makeCerts();
  const group = await startSentinelGroup('pm-tls', { certs });
  try {
    const keys = { 'target-redis-sentinels': `127.0.0.1:${group.sentinelPort}`, 'target-redis-sentinel-master': 'pm-tls', 'target-redis-tls': 'yes' };
    const pool = await connectTarget(conf({ ...keys, 'target-redis-tls-ca-file': certs.caFile }), silentLogger());
    await submitAll(pool, [keyed('SET', 'tls-sentinel', ['1'], binlog(1, 1))]);
    await pool.flush();
    await pool.close();
    assert.equal(await group.master.client().get('tls-sentinel'), '1');
    // The same check applies to the sentinels: an untrusted CA fails the start with the TLS cause.
    await assert.rejects(connectTarget(conf({ ...keys, 'target-redis-tls-ca-file': certs.otherCaFile }), silentLogger()), (e: Error) => {
      assert.ok(e instanceof FatalError, `${e.name}: ${e.message}`);
      assert.match(e.message, /TLS handshake with Redis at sentinel master "pm-tls" .* failed: sentinel 127\.0\.0\.1:\d+: .*certificate/i);
      return true;
    });
  } finally {
    await group.stop();
    certs.remove();
  }
});

test('a sentinel with ACL users: target-redis-sentinel-user and -pwd log in as one', async () => {
  const group = await startSentinelGroup('pm-acl', { sentinelUser: { name: 'pm-watch', password: 'w-pw' } });
  try {
    const keys = { 'target-redis-sentinels': `127.0.0.1:${group.sentinelPort}`, 'target-redis-sentinel-master': 'pm-acl' };
    const pool = await connectTarget(conf({ ...keys, 'target-redis-sentinel-user': 'pm-watch', 'target-redis-sentinel-pwd': 'w-pw' }), silentLogger());
    await submitAll(pool, [keyed('SET', 'acl-sentinel', ['1'], binlog(1, 1))]);
    await pool.flush();
    await pool.close();
    assert.equal(await group.master.client().get('acl-sentinel'), '1');
    await assert.rejects(connectTarget(conf({ ...keys, 'target-redis-sentinel-pwd': 'w-pw' }), silentLogger()), (e: Error) => e instanceof FatalError && /sentinel master "pm-acl"/.test(e.message));
  } finally {
    await group.stop();
  }
});
