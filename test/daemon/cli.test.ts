import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startRedis, type RedisServer } from '../helpers/redis.js';
import { redisCli } from '../admin/helpers.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { assertRedisHoldsExpected } from '../helpers/expected-redis.js';
import { loadExpected } from '../pika/expected.js';
import { cliArgs, shippedEnv } from '../helpers/shipped-cli.js';

const work = mkdtempSync(join(tmpdir(), 'pm-cli-'));
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function runSync(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, cliArgs(...args), { encoding: 'utf8', env: shippedEnv(env), timeout: 30_000 });
}

function conf(lines: Record<string, string | number>): string {
  const f = join(work, `${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(f, Object.entries(lines).map(([k, v]) => `${k} : ${v}`).join('\n') + '\n');
  return f;
}

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(() => redis.stop());

test('-v and --version print the package version and exit 0', () => {
  for (const flag of ['-v', '--version']) {
    const r = runSync([flag]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout.trim(), pkg.version);
  }
});

test('-h prints usage with -c and exits 0', () => {
  const r = runSync(['-h']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /Usage: pika-migrate/);
  assert.match(r.stdout, /-c, --conf <file>/);
});

test('bad usage exits 2', () => {
  assert.equal(runSync(['--no-such-flag']).status, 2);
  const r = runSync([]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /-c <pika.conf> is required/);
});

test('a bad config value exits 2 naming file, line and key', () => {
  const f = conf({ port: 9222, 'redis-sender-num': 'many' });
  const r = runSync(['-c', f]);
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim(), `pika-migrate: ${f}:2 redis-sender-num: expected an integer, got "many"`);
  const env = runSync(['-c', conf({ port: 9222 })], { PIKA_MIGRATE_SYNC_BATCH_NUM: '0' });
  assert.equal(env.status, 2);
  assert.match(env.stderr, /env PIKA_MIGRATE_SYNC_BATCH_NUM sync-batch-num: must be between 1 and 100000, got 0/);
});

test('an unreachable target fails fast with exit 1 and names it', async () => {
  const dead = await freePort();
  const f = conf({ port: await freePort(), bind: '127.0.0.1', 'log-path': join(work, 'log-dead'), 'target-redis-port': dead, 'log-format': 'json' });
  const t0 = Date.now();
  const r = runSync(['-c', f]);
  assert.equal(r.status, 1);
  assert.ok(Date.now() - t0 < 20_000);
  assert.match(r.stdout, new RegExp(`127\\.0\\.0\\.1:${dead}`));
});

test('a target that rejects the password fails fast with exit 1', async () => {
  const locked = await startRedis(['--requirepass', 'right']);
  try {
    const f = conf({ port: await freePort(), bind: '127.0.0.1', 'log-path': join(work, 'log-auth'), 'target-redis-port': locked.port, 'target-redis-pwd': 'wrong', 'log-format': 'json' });
    const r = runSync(['-c', f]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /WRONGPASS|invalid password|auth/i);
  } finally {
    await locked.stop();
  }
});

function startDaemon(f: string): { proc: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, cliArgs('-c', f), { stdio: ['ignore', 'pipe', 'pipe'], env: shippedEnv() });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, out: () => out, exited };
}

async function waitFor(pred: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function answersPing(port: number): Promise<boolean> {
  try {
    return (await redisCli(port, ['ping'])).trim() === 'PONG';
  } catch {
    return false;
  }
}

test('runs as a daemon: admin port answers redis-cli, logs JSON to log-path, SIGTERM stops with exit 0', async () => {
  const admin = await freePort();
  const logDir = join(work, 'log-run');
  const f = conf({ port: admin, bind: '127.0.0.1', 'log-path': logDir, 'log-format': 'json', 'target-redis-port': redis.port, 'redis-sender-num': 3 });
  const d = startDaemon(f);
  await waitFor(() => answersPing(admin));
  assert.match(await redisCli(admin, ['info', 'migrate']), /phase:idle/);
  assert.equal((await redisCli(admin, ['slaveof', '127.0.0.1', String(await freePort())])).trim(), 'OK');
  assert.match(await redisCli(admin, ['info', 'replication']), /role:slave[\s\S]*master_link_status:down/);
  assert.match(await redisCli(admin, ['slaveof', '127.0.0.1', String(admin)]), /ERR The master ip:port and the slave ip:port are the same/);
  assert.deepEqual((await redisCli(admin, ['config', 'get', 'redis-sender-num'])).trim().split('\n'), ['redis-sender-num', '3']);
  d.proc.kill('SIGTERM');
  assert.equal(await d.exited, 0);
  const log = readFileSync(join(logDir, 'pika-migrate.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
  assert.ok(log.some((l) => l.msg === 'admin port listening'));
  assert.ok(log.some((l) => l.msg.startsWith('slaveof: following the master')));
  assert.ok(log.some((l) => l.msg === 'stopped'));
});

test('SHUTDOWN on the admin port stops the daemon with exit 0', async () => {
  const admin = await freePort();
  const d = startDaemon(conf({ port: admin, bind: '127.0.0.1', 'log-path': join(work, 'log-sd'), 'log-format': 'json', 'target-redis-port': redis.port }));
  await waitFor(() => answersPing(admin));
  await redisCli(admin, ['shutdown']).catch(() => '');
  assert.equal(await d.exited, 0);
});

test('an admin port already in use is a runtime failure (exit 1) that names the address', async () => {
  const other = await startRedis();
  try {
    const r = runSync(['-c', conf({ port: other.port, bind: '127.0.0.1', 'log-path': join(work, 'log-busy'), 'log-format': 'json', 'target-redis-port': redis.port })]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${other.port}`));
  } finally {
    await other.stop();
  }
});

test('load <dump>: a real 3.3.6 dump into Redis with type-order and conflict-policy skip, summary on stderr, exit 0', async () => {
  const c = redis.client();
  await c.flushall();
  await c.set('app', 'already here');
  const f = conf({
    'log-path': join(work, 'log-load'),
    'log-format': 'json',
    'target-redis-port': redis.port,
    'conflict-policy': 'skip',
    'type-order': 'zset, string, hash, list, set',
  });
  const r = spawnSync(process.execPath, cliArgs('load', join(FIXTURES, 'snapshots', '3.3.6-base', 'dump'), '-c', f), { encoding: 'utf8', timeout: 60_000, env: shippedEnv() });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stderr, /loaded \d+ keys .* 1 existing keys kept/);
  assert.equal(await c.get('app'), 'already here', 'conflict-policy skip kept the key');
  assert.equal(await c.type('multi'), 'zset', 'type-order puts zset first');
  const exp = loadExpected(join(FIXTURES, 'snapshots', '3.3.6-base', 'expected.json'));
  const n = await assertRedisHoldsExpected(c, exp, { nowMs: Date.now(), expirySlackMs: 1000, ignore: (k) => k === 'app', typeOrder: ['zset', 'string', 'hash', 'list', 'set'] });
  assert.ok(n > 2000, `compared ${n} keys`);
  assert.equal(await c.exists('pika-migrate:load-guard'), 0);
  assert.equal(await c.exists('pika-migrate:applied'), 0, 'a one-shot load leaves no applied positions behind');
});

test('load <dump> with an emptied MANIFEST exits 1 naming the file and offset, with no summary and nothing loaded', async () => {
  const c = redis.client();
  await c.flushall();
  const dump = join(work, 'damaged-dump');
  cpSync(join(FIXTURES, 'snapshots', '3.2.7-base', 'dump'), dump, { recursive: true });
  const strings = join(dump, 'db0', 'strings');
  const manifest = join(strings, readdirSync(strings).find((n) => n.startsWith('MANIFEST-'))!);
  truncateSync(manifest, 0);
  const f = conf({ 'log-path': join(work, 'log-damaged'), 'log-format': 'json', 'target-redis-port': redis.port });
  const r = spawnSync(process.execPath, cliArgs('load', dump, '-c', f), { encoding: 'utf8', timeout: 60_000, env: shippedEnv() });
  assert.equal(r.status, 1, r.stderr + r.stdout);
  assert.ok(r.stderr.includes(`pika-migrate load: ${manifest}@0: MANIFEST is empty`), r.stderr);
  assert.doesNotMatch(r.stderr, /loaded \d+ keys/);
  assert.equal(await c.dbsize(), 0, 'the dump is refused before any key is written');
});

test('a log-path or db-sync-path that is a file or cannot be created exits 2 with file:line key: reason, no stack', () => {
  const file = join(work, 'plain-file');
  writeFileSync(file, 'x');
  const cases: Array<[string[], Record<string, string | number>, string, RegExp]> = [
    [[], { 'log-path': file }, 'log-path', /is not a directory/],
    [['load', work], { 'log-path': '/proc/nope/' }, 'log-path', /cannot be created \(ENOENT\)/],
    [[], { 'log-path': join(work, 'log-ok'), 'db-sync-path': '/proc/nope/' }, 'db-sync-path', /cannot be created \(ENOENT\)/],
  ];
  for (const [args, lines, key, reason] of cases) {
    const f = conf({ port: 9222, ...lines });
    const line = Object.keys({ port: 9222, ...lines }).indexOf(key) + 1;
    const r = spawnSync(process.execPath, cliArgs(...args, '-c', f), { encoding: 'utf8', timeout: 15_000, env: shippedEnv() });
    assert.equal(r.status, 2, `${key} ${JSON.stringify(lines)}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith(`pika-migrate: ${f}:${line} ${key}: ${lines[key]}: `), r.stderr);
    assert.match(r.stderr, reason);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('a misspelt key is warned about at start with file:line and the key it probably meant', () => {
  const f = conf({ 'log-path': join(work, 'log-typo'), 'log-format': 'json', 'target-redis-prot': 7000 });
  const r = spawnSync(process.execPath, cliArgs('load', join(work, 'no-such-dump'), '-c', f), { encoding: 'utf8', timeout: 30_000, env: shippedEnv() });
  const warn = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number | string; msg: string })
    .find((l) => l.msg.includes('target-redis-prot'));
  assert.ok(warn, r.stdout);
  assert.equal(warn.msg, `${f}:3 target-redis-prot: unknown key, ignored (did you mean target-redis-port?)`);
  assert.ok(warn.level === 40 || warn.level === 'warn', `level ${warn.level}`);
});

test('load <dump root with db0 and db1>: both in one run, a summary line per DB naming its Redis DB, exit 0', async () => {
  const root = join(work, 'two-dbs');
  for (const n of [0, 1]) cpSync(join(FIXTURES, 'snapshots', '3.2.7-base', 'dump', 'db0'), join(root, `db${n}`), { recursive: true });
  const c = redis.client();
  await c.flushall();
  const f = conf({ 'log-path': join(work, 'log-load2'), 'log-format': 'json', 'target-redis-port': redis.port, 'db-map': '0:2 1:3' });
  const r = spawnSync(process.execPath, cliArgs('load', root, '-c', f), { encoding: 'utf8', timeout: 60_000, env: shippedEnv() });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stderr, /^db0 → Redis DB 2: loaded (\d+) keys .*\ndb1 → Redis DB 3: loaded \1 keys /m);
  assert.equal(await c.dbsize(), 0);
  assert.ok((await redis.client({ db: 2 }).dbsize()) > 200 && (await redis.client({ db: 3 }).dbsize()) > 200);
});
