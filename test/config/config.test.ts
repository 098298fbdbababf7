import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closestKey, editDistance } from '../../src/config/closest-key.js';
import { ensureDirs } from '../../src/config/dirs.js';
import { loadConfig, unknownKeyMessage } from '../../src/config/load.js';
import { parsePikaConf } from '../../src/config/pika-conf.js';
import { schema } from '../../src/config/schema.js';
import { isSecretKey, maskSecrets, shownValue } from '../../src/core/secrets.js';
import { ConfigError } from '../../src/core/errors.js';

const fixtures = new URL('../fixtures/config/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'pm-conf-'));

function confWith(text: string): string {
  const f = join(dir, `c${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(f, text);
  return f;
}

test('loads a real Pika 3.2 pika.conf with the migrate block, ignoring Pika-only keys', () => {
  const c = loadConfig(join(fixtures, 'pika-3.2.conf'), {});
  assert.equal(c.values.port, 9222);
  assert.equal(c.values.masterauth, 's3cret');
  assert.equal(c.values['target-redis-pwd'], 'abc');
  assert.equal(c.values['redis-sender-num'], 10);
  assert.equal(c.values['db-sync-path'], './dbsync/');
  assert.equal(c.values.slaveof, null);
  assert.ok(c.ignored.some((e) => e.key === 'binlog-file-size'));
  assert.equal(c.raw.get('compression')?.value, 'snappy');
});

test('loads a real Pika 4.0 pika.conf: values with spaces, keys written without a space before the colon', () => {
  const c = loadConfig(join(fixtures, 'pika-4.0.conf'), {});
  assert.equal(c.raw.get('userblacklist')?.value, 'FLUSHALL, SHUTDOWN, KEYS');
  assert.equal(c.raw.get('cache-type')?.value, 'string, set, zset, list, hash, bit');
  assert.deepEqual(c.values.slaveof, { host: '127.0.0.1', port: 9221 });
  assert.equal(c.values['target-redis-user'], 'migrator');
  assert.equal(c.values['target-redis-db'], 2);
  assert.equal(c.values['sync-batch-num'], 256);
});

test('applies defaults for keys that are absent', () => {
  const c = loadConfig(confWith('# nothing\n\n'), {});
  for (const [k, s] of Object.entries(schema)) assert.deepEqual(c.values[k as keyof typeof schema], s.default, k);
  assert.equal(c.values.port, 9222);
  assert.equal(c.values['sync-batch-num'], 100);
  assert.equal(c.values['redis-sender-num'], 10);
});

test('environment PIKA_MIGRATE_<KEY> overrides the file', () => {
  const f = confWith('target-redis-host : 10.1.1.1\nport : 9300\n');
  const c = loadConfig(f, { PIKA_MIGRATE_TARGET_REDIS_HOST: 'redis.local', PIKA_MIGRATE_PORT: '9400', HOME: '/root' });
  assert.equal(c.values['target-redis-host'], 'redis.local');
  assert.equal(c.values.port, 9400);
});

const bad: Array<[string, RegExp]> = [
  ['port : 99999', /:1 port: must be between 1 and 65535, got 99999$/],
  ['port : abc', /:1 port: expected an integer, got "abc"$/],
  ['\n\nsync-batch-num : 0', /:3 sync-batch-num: must be between 1 and 100000, got 0$/],
  ['redis-sender-num : -3', /:1 redis-sender-num: must be between 1 and 256, got -3$/],
  ['target-redis-port : 6379x', /:1 target-redis-port: expected an integer/],
  ['slaveof : 1.2.3.4', /:1 slaveof: expected ip:port, got "1.2.3.4"$/],
  ['log-format : xml', /:1 log-format: expected one of auto, json, text, got "xml"$/],
  ['daemonize : maybe', /:1 daemonize: expected yes or no, got "maybe"$/],
  ['db-sync-path :', /:1 db-sync-path: db-sync-path must not be empty$/],
  ['port : 1\nport : 2', /:2 port: set twice \(first at .*:1\)$/],
  ['conflict-policy : overwrite', /:1 conflict-policy: expected one of merge, replace, skip, fail, got "overwrite"$/],
  ['type-order : string, hash, list, set', /:1 type-order: expected each of string, hash, list, set, zset exactly once, got "string, hash, list, set" \(missing zset\)$/],
  ['type-order : zset hash list set string string', /:1 type-order: expected each of string, hash, list, set, zset exactly once/],
  ['type-order : zset hash list set stream', /:1 type-order: unknown entry stream; expected each of/],
  ['this line has no colon', /:1: expected "key : value", got "this line has no colon"$/],
  ['key-rename-prefix : user:=>u: order:', /:1 key-rename-prefix: "order:" is not an old=>new pair$/],
  ['key-rename-prefix : a=>b a=>c', /:1 key-rename-prefix: the prefix "a" is renamed twice$/],
];
for (const [text, re] of bad) {
  test(`rejects "${text.replace(/\n/g, '\\n')}" naming file, line and key`, () => {
    const f = confWith(text);
    assert.throws(() => loadConfig(f, {}), (e: Error) => e instanceof ConfigError && e.message.startsWith(f) && re.test(e.message));
  });
}

test('key-rename-prefix: old=>new pairs, prefixes with colons, backslash escapes', () => {
  const c = loadConfig(confWith('key-rename-prefix : user:=>u:  my\\ app:=>app:\n'), {});
  assert.deepEqual(c.values['key-rename-prefix'], [{ from: 'user:', to: 'u:' }, { from: 'my app:', to: 'app:' }]);
  assert.deepEqual(loadConfig(confWith('port : 9222\n'), {}).values['key-rename-prefix'], []);
});

test('rejects a bad environment override naming the variable', () => {
  const f = confWith('port : 9222\n');
  assert.throws(() => loadConfig(f, { PIKA_MIGRATE_PORT: 'x' }), /env PIKA_MIGRATE_PORT port: expected an integer, got "x"/);
  assert.throws(() => loadConfig(f, { PIKA_MIGRATE_NO_SUCH_KEY: '1' }), /env PIKA_MIGRATE_NO_SUCH_KEY no-such-key: unknown key/);
});

test('a missing file is a config error naming the file', () => {
  assert.throws(() => loadConfig(join(dir, 'absent.conf'), {}), (e: Error) => e instanceof ConfigError && /absent\.conf: cannot read config file: ENOENT/.test(e.message));
});

test('the first colon separates key and value', () => {
  assert.deepEqual(
    parsePikaConf('slaveof : [::1]:9221\n  compact-cron : 3/02-04/60  \n', 'f').map((e) => [e.key, e.value]),
    [
      ['slaveof', '[::1]:9221'],
      ['compact-cron', '3/02-04/60'],
    ],
  );
});

test('pika.conf.example documents and sets every key the daemon reads, and loads', () => {
  const example = new URL('../../pika.conf.example', import.meta.url).pathname;
  const text = readFileSync(example, 'utf8');
  for (const key of Object.keys(schema)) assert.match(text, new RegExp(`^#?${key} ?:`, 'm'), `${key} is not in pika.conf.example`);
  const c = loadConfig(example, {});
  assert.equal(c.values.port, 9222);
});

test('target-redis-cluster: no, yes (seed = target-redis-host:port) or seed nodes; a cluster with target-redis-db other than 0 is a config error', () => {
  const conf = (lines: string): ReturnType<typeof loadConfig> => loadConfig(confWith(lines), {});
  assert.equal(conf('port : 9222\n').values['target-redis-cluster'], null);
  assert.equal(conf('target-redis-cluster : no\n').values['target-redis-cluster'], null);
  assert.deepEqual(conf('target-redis-cluster : yes\n').values['target-redis-cluster'], []);
  assert.deepEqual(conf('target-redis-cluster : 10.0.0.1:7000, 10.0.0.2:7001\n').values['target-redis-cluster'], [
    { host: '10.0.0.1', port: 7000 },
    { host: '10.0.0.2', port: 7001 },
  ]);
  assert.throws(() => conf('target-redis-cluster : 10.0.0.1\n'), (e: Error) => e instanceof ConfigError && /\.conf:1 target-redis-cluster: expected yes, no or seed nodes/.test(e.message));
  assert.throws(
    () => conf('target-redis-db : 3\ntarget-redis-cluster : yes\n'),
    (e: Error) => e instanceof ConfigError && /\.conf:1 target-redis-db: must be 0 with target-redis-cluster/.test(e.message),
  );
});

test('secret values keep their exact bytes; a rejected line naming a secret does not show its value', () => {
  const [e] = parsePikaConf(Buffer.concat([Buffer.from('requirepass :  a'), Buffer.from([0xff, 0xc3, 0xa0]), Buffer.from(' \t\n')]), 'f');
  assert.deepEqual(e.bytes, Buffer.from([0x61, 0xff, 0xc3, 0xa0]));
  assert.equal(e.value, 'a\ufffd\u00e0');
  // A UTF-8 file given as text parses to the same value.
  assert.equal(parsePikaConf('filter-keys : ключ:*\n', 'f')[0].value, 'ключ:*');
  for (const line of ['requirepass hunter2', 'userpass=hunter2', 'my-api-secret hunter2']) {
    assert.throws(
      () => parsePikaConf(`${line}\n`, 'f'),
      (err: Error) => err instanceof ConfigError && /^f:1: expected "key : value"/.test(err.message) && !err.message.includes('hunter2'),
      line,
    );
  }
  assert.throws(() => parsePikaConf('port 9222\n', 'f'), /got "port 9222"/);
});

test('one rule decides which keys are secret, for CONFIG GET, INFO and the log', () => {
  for (const k of ['requirepass', 'masterauth', 'userpass', 'target-redis-pwd', 'target-redis-sentinel-pwd', 'master-client-pwd', 'some-api-secret', 'Admin-Password'])
    assert.ok(isSecretKey(k), k);
  for (const k of ['port', 'master-client-user', 'target-redis-user', 'bind', 'protected-mode']) assert.ok(!isSecretKey(k), k);
  assert.equal(shownValue('userpass', 'x'), '******');
  assert.equal(shownValue('userpass', ''), '');
  assert.equal(shownValue('port', '9222'), '9222');
  const logged = maskSecrets({ key: 'k', masterauth: 'm', nested: { 'target-redis-pwd': 'p', host: 'h' }, list: [1] });
  assert.deepEqual(logged, { key: 'k', masterauth: '******', nested: { 'target-redis-pwd': '******', host: 'h' }, list: [1] });
});

test('a key neither pika-migrate nor Pika knows is reported with file:line and the closest known key', () => {
  const f = confWith('port : 9300\n# comment\ntarget-redis-prot : 7000\nthread-num : 4\ncompletely-made-up-setting : 1\n');
  const c = loadConfig(f, {});
  assert.equal(c.values['target-redis-port'], 6379, 'the misspelt key sets nothing');
  assert.deepEqual(c.unknown.map(unknownKeyMessage), [
    `${f}:3 target-redis-prot: unknown key, ignored (did you mean target-redis-port?)`,
    `${f}:5 completely-made-up-setting: unknown key, ignored`,
  ]);
  assert.ok(c.ignored.some((e) => e.key === 'thread-num'), "Pika's own keys stay ignored quietly");
});

test("real Pika 3.2 and 4.0 pika.conf files and pika.conf.example hold no unknown key (Pika's key list is complete for them)", () => {
  for (const f of [join(fixtures, 'pika-3.2.conf'), join(fixtures, 'pika-4.0.conf'), new URL('../../pika.conf.example', import.meta.url).pathname]) {
    const c = loadConfig(f, {});
    assert.deepEqual(c.unknown.map(unknownKeyMessage), [], f);
    assert.ok(c.ignored.length > 0 || f.endsWith('example'), f);
  }
});

test('closestKey: Damerau-Levenshtein distance, suggestions only when close', () => {
  assert.equal(editDistance('target-redis-prot', 'target-redis-port'), 1, 'an adjacent swap is one edit');
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  const keys = Object.keys(schema);
  assert.equal(closestKey('target-redis-prot', keys), 'target-redis-port');
  assert.equal(closestKey('redis-sender-nums', keys), 'redis-sender-num');
  assert.equal(closestKey('log_path', keys), 'log-path');
  assert.equal(closestKey('prot', keys), 'port');
  assert.equal(closestKey('foo', keys), null);
  assert.equal(closestKey('bandwidth-limit', keys), null);
});

test('ensureDirs: creates missing directories, refuses a file, an uncreatable path, naming file:line and key', () => {
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  const made = join(dir, 'made', 'deep', 'log');
  const c = loadConfig(confWith(`log-path : ${made}\ndb-sync-path : ${join(dir, 'made', 'sync')}\n`), {});
  ensureDirs(c, ['log-path', 'db-sync-path']);
  assert.ok(statSync(made).isDirectory() && statSync(join(dir, 'made', 'sync')).isDirectory());
  const cases: Array<[string, string, RegExp]> = [
    ['log-path', file, /is not a directory$/],
    ['log-path', join(file, 'sub'), /a part of the path is a file, not a directory$/],
    ['log-path', '/proc/nope/', /cannot be created \(ENOENT\)$/],
    ['db-sync-path', '/proc/nope/x/y', /cannot be created \(ENOENT\)$/],
  ];
  for (const [key, value, reason] of cases) {
    const f = confWith(`port : 9300\n${key} : ${value}\n`);
    assert.throws(() => ensureDirs(loadConfig(f, {}), [key as 'log-path' | 'db-sync-path']), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.message.startsWith(`${f}:2 ${key}: ${value}: `), e.message);
      assert.match(e.message, reason);
      return true;
    });
  }
  const viaEnv = loadConfig(confWith('port : 9300\n'), { PIKA_MIGRATE_LOG_PATH: file });
  assert.throws(() => ensureDirs(viaEnv, ['log-path']), /^ConfigError: env PIKA_MIGRATE_LOG_PATH log-path: .* is not a directory$/);
});
