import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedis } from '../helpers/redis.js';
import { replicaPort, tempDir, waitFor } from '../replication/support.js';
import { infoFields, startMaster } from './support.js';
import { cliArgs, shippedEnv } from '../helpers/shipped-cli.js';

/** Runs the CLI on a conf file; resolves with its exit code and stdout once it exits. */
function runCli(conf: string, env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, cliArgs('-c', conf), { stdio: ['ignore', 'pipe', 'pipe'], env: shippedEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { child, exited };
}

/** Keys that occur twice in one object of a JSON text (JSON.parse would silently keep the last). */
export function duplicateKeys(json: string): string[] {
  const dups: string[] = [];
  const stack: Array<Set<string> | null> = [];
  let i = 0;
  const readString = (): string => {
    let s = '';
    for (i++; json[i] !== '"'; i++) s += json[i] === '\\' ? json[i++] + json[i] : json[i];
    i++;
    return s;
  };
  while (i < json.length) {
    const c = json[i];
    if (c === '{' || c === '[') {
      stack.push(c === '{' ? new Set() : null);
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      i++;
    } else if (c === '"') {
      const s = readString();
      let j = i;
      while (json[j] === ' ') j++;
      const keys = stack[stack.length - 1];
      if (json[j] === ':' && keys) {
        if (keys.has(s)) dups.push(s);
        keys.add(s);
      }
    } else i++;
  }
  return dups;
}

test('duplicateKeys finds a key given twice, at any depth', () => {
  assert.deepEqual(duplicateKeys('{"pid":1,"a":{"db":1,"db":"x"},"pid":2,"s":"pid\\"db"}'), ['db', 'pid']);
  assert.deepEqual(duplicateKeys('{"a":[{"k":1},{"k":2}],"b":"{\\"a\\":1}"}'), []);
});

test('no secret reaches CONFIG GET, INFO, stdout or the log file, even at debug level; every JSON line has one value per key', async () => {
  const secrets = { requirepass: 'adm-SECRET-1', masterauth: 'mst-SECRET-2', userpass: 'usr-SECRET-3', 'my-api-secret': 'x-SECRET-4', 'target-redis-pwd': 'tgt-SECRET-5' };
  const target = await startRedis(['--requirepass', secrets['target-redis-pwd']]);
  const master = await startMaster('C', '3.5.5', { requirepass: secrets.masterauth });
  const dir = tempDir('pm-logs-');
  const port = await replicaPort();
  const conf = join(dir, 'pika.conf');
  const entries = {
    port,
    bind: '127.0.0.1',
    'log-path': join(dir, 'log'),
    'log-level': 'debug',
    'log-format': 'json',
    'db-sync-path': join(dir, 'dbsync'),
    'target-redis-port': target.port,
    slaveof: `127.0.0.1:${master.port}`,
    ...secrets,
  };
  writeFileSync(conf, Object.entries(entries).map(([k, v]) => `${k} : ${v}`).join('\n') + '\n');
  const run = runCli(conf);
  const admin = new Redis({ host: '127.0.0.1', port, password: secrets.requirepass, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 100 });
  admin.on('error', () => {});
  try {
    void admin.connect().catch(() => {});
    await waitFor('in sync', async () => infoFields(((await admin.info('migrate').catch(() => '')) as string) ?? '').get('in_sync') === 'yes', 30_000);
    const all = (await admin.config('GET', '*')) as string[];
    const got = new Map<string, string>();
    for (let i = 0; i < all.length; i += 2) got.set(all[i], all[i + 1]);
    for (const k of Object.keys(secrets)) assert.equal(got.get(k), '******', k);
    assert.equal(got.get('port'), String(port));
    const info = (await admin.info('all')) as string;
    assert.ok(!/SECRET/.test(info), 'INFO shows a secret');
    await admin.call('SHUTDOWN').catch(() => {});
    const { code, stdout } = await run.exited;
    assert.equal(code, 0);
    const file = readFileSync(join(dir, 'log', 'pika-migrate.log'), 'utf8');
    for (const [where, text] of [['stdout', stdout], ['log file', file]] as const) {
      assert.ok(!/SECRET/.test(text), `${where} shows a secret: ${text.split('\n').find((l) => l.includes('SECRET'))}`);
      const lines = text.split('\n').filter((l) => l !== '');
      assert.ok(lines.length > 10, `${where}: ${lines.length} lines`);
      for (const line of lines) assert.deepEqual(duplicateKeys(line), [], `${where}: ${line}`);
    }
    // The debug dump of Pika's own keys shows them, masked.
    assert.match(file, /"key":"userpass","value":"\*\*\*\*\*\*"/);
    assert.match(file, /"db":"db0".*full sync/);
  } finally {
    admin.disconnect();
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
    await master.stop();
    await target.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a fatal error in text mode is one line naming the cause; the stack only at debug level', async () => {
  const dir = tempDir('pm-fatal-');
  try {
    const closed = await replicaPort();
    for (const level of ['info', 'debug']) {
      const conf = join(dir, `${level}.conf`);
      writeFileSync(conf, `port : ${await replicaPort()}\nbind : 127.0.0.1\nlog-path : ${join(dir, 'log')}\nlog-format : text\nlog-level : ${level}\ntarget-redis-port : ${closed}\n`);
      const { code, stdout } = await runCli(conf).exited;
      assert.equal(code, 1);
      const fatal = stdout.split('\n').filter((l) => /FATAL/.test(l));
      assert.equal(fatal.length, 1, stdout);
      assert.match(fatal[0], new RegExp(`127\\.0\\.0\\.1:${closed}`));
      const stackLines = stdout.split('\n').filter((l) => /^\s+at /.test(l));
      if (level === 'info') assert.deepEqual(stackLines, [], stdout);
      else assert.ok(stackLines.length > 0, 'debug level shows the stack');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
