/**
 * `pika-migrate load` as a child process against targets that fail it: a target that restarts
 * empty mid-load (acknowledged writes gone), a stop by signal, a target answering OOM forever, a
 * port that accepts connections and never answers; and `verify --source` at such a port. Each
 * asserts the exit code and the message, and that nothing hangs.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { writePikaDump, type KeyDesc } from '../pika/pika-dump-writer.js';
import { cliArgs, shippedEnv } from '../helpers/shipped-cli.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  readonly proc: ChildProcess;
  /** stdout (the JSON log) and stderr so far. */
  out(): string;
  err(): string;
  /** The exit code, or a failure when the process is still running after `ms` (then it is killed). */
  exit(ms: number): Promise<number | null>;
}

function run(args: string[]): Run {
  const proc = spawn(process.execPath, cliArgs(...args), { stdio: ['ignore', 'pipe', 'pipe'], env: shippedEnv() });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc,
    out: () => out,
    err: () => err,
    async exit(ms: number) {
      const t = sleep(ms).then(() => 'late' as const);
      const r = await Promise.race([exited, t]);
      if (r === 'late') {
        proc.kill('SIGKILL');
        await exited;
        assert.fail(`still running after ${ms} ms\nstderr: ${err}\nstdout tail: ${out.slice(-2000)}`);
      }
      return r;
    },
  };
}

/** Keys of the data, not pika-migrate's own (its load note, positions, a killed run's markers). */
async function dataKeys(c: Redis): Promise<number> {
  return (await c.keys('*')).filter((k) => !k.startsWith('pika-migrate:')).length;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A port that accepts TCP connections and never says a word. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const socks = new Set<Socket>();
  const srv: Server = createServer((s) => {
    socks.add(s);
    s.on('error', () => {});
    s.on('close', () => socks.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  return {
    port,
    close: () => {
      for (const s of socks) s.destroy();
      return new Promise((r) => srv.close(() => r()));
    },
  };
}

describe('load and verify against failing targets', () => {
  const work = mkdtempSync(join(tmpdir(), 'pm-load-faults-'));
  let dump = '';
  let bigDump = '';
  let listDump = '';
  let target: RedisServer;

  const conf = (port: number, extra: Record<string, string | number> = {}): string => {
    const f = join(work, `${Math.random().toString(36).slice(2)}.conf`);
    const lines = { 'log-path': join(work, 'log'), 'log-format': 'json', 'target-redis-port': port, 'redis-sender-num': 4, ...extra };
    writeFileSync(f, Object.entries(lines).map(([k, v]) => `${k} : ${v}`).join('\n') + '\n');
    return f;
  };

  before(async () => {
    const keys: KeyDesc[] = Array.from({ length: 20_000 }, (_, i) => ({ name: `k:${i}`, type: 'string', value: `v${i}` }));
    mkdirSync(join(work, 'dump'));
    dump = writePikaDump({ family: 'A-C', keys }, join(work, 'dump'));
    const big: KeyDesc[] = Array.from({ length: 3000 }, (_, i) => ({ name: `b:${i}`, type: 'string', value: 'x'.repeat(2000) + i }));
    mkdirSync(join(work, 'big'));
    bigDump = writePikaDump({ family: 'A-C', keys: big }, join(work, 'big'));
    const lists: KeyDesc[] = [
      ...Array.from({ length: 1500 }, (_, i): KeyDesc => ({ name: `l:${i}`, type: 'list', value: Array.from({ length: 40 }, (_, e) => `${i}.${e}`) })),
      ...Array.from({ length: 3000 }, (_, i): KeyDesc => ({ name: `s:${i}`, type: 'string', value: `v${i}` })),
    ];
    mkdirSync(join(work, 'lists'));
    listDump = writePikaDump({ family: 'A-C', keys: lists }, join(work, 'lists'));
    target = await startRedis();
  });
  after(async () => {
    await target.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('a target that restarts empty mid-load fails the load (exit 1, "lost writes", the target named), not exit 0 with keys missing', async () => {
    const c = target.client();
    await c.flushall();
    const r = run(['load', dump, '-c', conf(target.port, { 'target-max-ops': 4000 })]);
    await until('a few thousand keys loaded', async () => (await c.dbsize().catch(() => 0)) > 3000, 20_000);
    await target.crash(300);
    const code = await r.exit(30_000);
    assert.equal(code, 1, r.err());
    assert.match(r.err(), new RegExp(`Redis at 127\\.0\\.0\\.1:${target.port} lost writes it had acknowledged: sender \\d+ had batches up to \\d+ acknowledged \\(\\d+ commands\\).*run_id changed`));
    assert.doesNotMatch(r.err(), /^loaded /m);
  });

  it('SIGTERM and SIGINT interrupt a load: exit 143 / 130, "interrupted at" with the counts, what was sent is flushed', async () => {
    const c = target.client();
    for (const [sig, want] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
      await c.flushall();
      const r = run(['load', dump, '-c', conf(target.port, { 'target-max-ops': 3000 })]);
      await until('some keys loaded', async () => (await c.dbsize()) > 1000, 20_000);
      r.proc.kill(sig);
      const code = await r.exit(10_000);
      assert.equal(code, want, r.err());
      const m = /load interrupted \(received (\w+)\) at record db0:snapshot#(\d+)\S*: (\d+) keys read, (\d+) of (\d+) commands acknowledged by Redis/.exec(r.err());
      assert.ok(m, r.err());
      assert.equal(m[1], sig);
      // Everything sent was flushed: Redis holds every acknowledged SET, and the load stopped short.
      const keys = await dataKeys(c);
      assert.equal(Number(m[4]), Number(m[5]), 'every submitted command acknowledged before the exit');
      assert.equal(keys, Number(m[4]));
      assert.ok(keys < 20_000, `${keys} keys: stopped before the end`);
      assert.match(r.err(), /the same load run again .* goes on from there/);
    }
  });

  it('an interrupted load (SIGTERM, then kill -9) resumes when run again: every list element once, in order; another dump is refused meanwhile', async () => {
    const c = target.client();
    await c.flushall();
    const f = conf(target.port, { 'target-max-ops': 2500, 'sync-batch-num': 10 });
    const r1 = run(['load', listDump, '-c', f]);
    await until('some keys loaded', async () => (await c.dbsize()) > 800, 20_000);
    r1.proc.kill('SIGTERM');
    assert.equal(await r1.exit(10_000), 143, r1.err());
    const after1 = await c.dbsize();
    const r2 = run(['load', listDump, '-c', f]);
    await until('more keys loaded', async () => (await c.dbsize()) > after1 + 800, 20_000);
    r2.proc.kill('SIGKILL');
    await r2.exit(10_000);
    assert.equal(await c.exists('pika-migrate:load'), 1, 'the note of the interrupted load stays');

    const other = run(['load', dump, '-c', f]);
    assert.equal(await other.exit(30_000), 1, other.err());
    assert.match(other.err(), new RegExp(`the target 127\\.0\\.0\\.1:${target.port}/0 holds an interrupted load of another dump .*DEL pika-migrate:load pika-migrate:load-applied`));

    const r3 = run(['load', listDump, '-c', conf(target.port, { 'sync-batch-num': 10 })]);
    assert.equal(await r3.exit(60_000), 0, r3.err());
    assert.match(r3.err(), /loaded 4500 keys .*resumed an interrupted load: \d+ commands it had applied were not sent again/);
    for (let i = 0; i < 1500; i += 7) assert.deepEqual(await c.lrange(`l:${i}`, 0, -1), Array.from({ length: 40 }, (_, e) => `${i}.${e}`), `l:${i}`);
    const lens = await Promise.all(Array.from({ length: 1500 }, (_, i) => c.llen(`l:${i}`)));
    assert.deepEqual(lens.filter((n) => n !== 40), [], 'every list holds its 40 elements exactly once');
    assert.equal(await c.get('s:2999'), 'v2999');
    assert.equal(await c.exists('pika-migrate:load', 'pika-migrate:load-applied'), 0, 'a finished load leaves no note');
    assert.equal(await dataKeys(c), 4500);
  });

  it('a target answering OOM forever: the retry is logged with its attempt count every few seconds, and SIGTERM ends it at once (143)', async () => {
    const oom = await startRedis(['--maxmemory', '3mb', '--maxmemory-policy', 'noeviction']);
    try {
      const r = run(['load', bigDump, '-c', conf(oom.port, { 'target-max-ops': 2000 })]);
      // Once it has begun, memory is filled up: from then on every batch is refused, none squeezes in.
      const fill = oom.client();
      await until('the load begun', async () => (await fill.exists('pika-migrate:load')) === 1, 20_000);
      for (let i = 0; ; i++) {
        const full = await fill.set(`fill:${i}`, 'x'.repeat(10_000)).then(() => false, (e: Error) => /OOM/.test(e.message));
        if (full) break;
      }
      // One batch's warnings: its first refusal, then one every few seconds while it lasts. (A batch
      // refused before the fill, while a 3 MB target's buffers came and went, may have gone through.)
      type Refusal = { attempt: number; code: string; target: string; sender: number; seq: number; time: string };
      const refusals = (): Refusal[] => {
        const all = r
          .out()
          .split('\n')
          .filter((l) => l.includes('Redis refused a batch for now'))
          .map((l) => JSON.parse(l) as Refusal);
        const byBatch = new Map<string, Refusal[]>();
        for (const w of all) byBatch.set(`${w.sender}:${w.seq}`, [...(byBatch.get(`${w.sender}:${w.seq}`) ?? []), w]);
        return [...byBatch.values()].find((ws) => ws.length >= 2) ?? [];
      };
      await until('two refusal warnings of one batch', () => refusals().length >= 2, 20_000);
      const w = refusals();
      assert.equal(w[0].code, 'OOM');
      assert.equal(w[0].target, `127.0.0.1:${oom.port}`);
      assert.equal(w[0].attempt, 1);
      assert.ok(w[1].attempt > 2, `attempts between warnings are counted: ${JSON.stringify(w)}`);
      const gap = Date.parse(w[1].time) - Date.parse(w[0].time);
      assert.ok(gap >= 4000 && gap < 8000, `warned again after ${gap} ms`);
      const t0 = Date.now();
      r.proc.kill('SIGTERM');
      const code = await r.exit(5000);
      assert.equal(code, 143, r.err());
      assert.ok(Date.now() - t0 < 3000, `exited ${Date.now() - t0} ms after SIGTERM`);
      assert.match(r.err(), /load interrupted \(received SIGTERM\).*the rest were not flushed: .*keeps refusing batches: OOM/);
    } finally {
      await oom.stop();
    }
  });

  it('a target port that accepts and never answers: load fails within the first-reply deadline, exit 1, the address named', async () => {
    const silent = await silentServer();
    try {
      const t0 = Date.now();
      const r = run(['load', dump, '-c', conf(silent.port)]);
      const code = await r.exit(25_000);
      assert.equal(code, 1, r.err());
      assert.match(r.err(), new RegExp(`127\\.0\\.0\\.1:${silent.port}.*no reply within 10 s`));
      assert.ok(Date.now() - t0 < 20_000);
    } finally {
      await silent.close();
    }
  });

  it('verify --source at a port that never answers: exit 1 within the deadline, the address named', async () => {
    const silent = await silentServer();
    try {
      const r = run(['verify', '-c', conf(target.port), '--source', `127.0.0.1:${silent.port}`]);
      const code = await r.exit(25_000);
      assert.equal(code, 1, r.err());
      assert.match(r.err(), new RegExp(`cannot read the Pika at 127\\.0\\.0\\.1:${silent.port}: no reply within 10 s`));
    } finally {
      await silent.close();
    }
  });
});
