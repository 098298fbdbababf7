import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../helpers/redis.js';
import { setup, type Setup } from './support.js';
import { cliArgs, shippedEnv } from '../helpers/shipped-cli.js';

/** Runs the CLI as a user would (async: the test master answers in this process). */
function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, cliArgs(...args), { stdio: ['ignore', 'pipe', 'pipe'], env: shippedEnv() });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

let s: Setup;
let conf: string;
before(async () => {
  s = await setup('B', '3.3.6');
  conf = join(s.dir, 'pika.conf');
  writeFileSync(conf, Object.entries({ ...s.conf, 'log-format': 'json' }).map(([k, v]) => `${k} : ${v}`).join('\n') + '\n');
});
after(() => s.done());

test('verify exits 0 on a match and prints the summary', async () => {
  const r = await runCli(['verify', '-c', conf]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^verify: Pika 3\.3\.6 at 127\.0\.0\.1:\d+ against Redis 127\.0\.0\.1:\d+ db 0, full$/m);
  assert.match(r.stdout, /^compared: \d+ keys \(string \d+, hash \d+, list \d+, set \d+, zset \d+, stream \d+\)$/m);
  assert.match(r.stdout, /^differences: 0 \(missing 0, extra 0, type 0, value 0, ttl 0\)$/m);
  assert.match(r.stdout, /ttl unverifiable 4\b/, 'the four other types of "multi", under their side names');
  assert.match(r.stdout, /^result: MATCH$/m);
});

test('verify exits 1 on a difference and names the report', async () => {
  const c = (await import('ioredis')).Redis;
  const redis = new c({ port: s.target.port });
  await redis.set('str:7', 'changed');
  redis.disconnect();
  const report = join(s.dir, 'r.jsonl');
  const r = await runCli(['verify', '-c', conf, '--report', report]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /^differences: 1 \(missing 0, extra 0, type 0, value 1, ttl 0\); by type: string 1$/m);
  assert.match(r.stdout, new RegExp(`^result: DIFFERENT \\(first differences in ${report}\\)$`, 'm'));
  assert.deepEqual(JSON.parse(readFileSync(report, 'utf8')), { kind: 'value', key: 'str:7', type: 'string', detail: readDetail(report) });
  assert.match(readDetail(report), /^pika \d+ bytes 'v7-\d+', redis 7 bytes 'changed'$/);
});

function readDetail(file: string): string {
  return (JSON.parse(readFileSync(file, 'utf8')) as { detail: string }).detail;
}

test('bad usage exits 2 naming the flag; no Pika to read exits 2', async () => {
  const bad = await runCli(['verify', '-c', conf, '--sample', '1.5']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /verify --sample: expected a key count/);
  const neg = await runCli(['verify', '-c', conf, '--ttl-tolerance', 'soon']);
  assert.equal(neg.status, 2);
  assert.match(neg.stderr, /verify --ttl-tolerance/);
  const noSource = join(s.dir, 'nosource.conf');
  writeFileSync(noSource, `target-redis-port : ${s.target.port}\nlog-path : ${join(s.dir, 'log')}\n`);
  const r = await runCli(['verify', '-c', noSource]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no Pika to read: set slaveof .* or pass --source/);
});

test('an unreachable Pika exits 1 with its address', async () => {
  const port = await freePort();
  const r = await runCli(['verify', '-c', conf, '--source', `127.0.0.1:${port}`]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`cannot read the Pika at 127\\.0\\.0\\.1:${port}`));
});
