import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { comparePositions, formatPosition } from '../src/core/position.js';
import { printableBytes } from '../src/core/command.js';
import { Fifo } from '../src/core/fifo.js';
import { abortedWhenSettled, sleep, unlessAborted } from '../src/core/interruptible.js';
import { getEventListeners } from 'node:events';
import { startRedis } from './helpers/redis.js';
import { shippedEnv, shippedNodeFlags } from './helpers/shipped-cli.js';

test('orders snapshot positions before binlog positions, binlog by file then offset', () => {
  const s = (seq: number) => ({ kind: 'snapshot', db: 0, seq }) as const;
  const b = (filenum: number, offset: number) => ({ kind: 'binlog', db: 0, filenum, offset }) as const;
  assert.ok(comparePositions(s(5), s(6)) < 0);
  assert.ok(comparePositions(s(1e9), b(0, 0)) < 0);
  assert.ok(comparePositions(b(1, 900), b(2, 0)) < 0);
  assert.ok(comparePositions(b(2, 10), b(2, 9)) > 0);
  assert.equal(formatPosition(b(3, 4)), 'db0:3:4');
});

test('renders binary keys printably', () => {
  assert.equal(printableBytes(Buffer.from([0x61, 0x00, 0xff, 0x5c])), 'a\\x00\\xff\\x5c');
});

test('a Fifo gives back what it was given, in order, across wraps and growth', () => {
  const q = new Fifo<number>();
  const model: number[] = [];
  let next = 0;
  // Uneven pushes and shifts so the head wraps round the ring before and after each growth.
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < (round % 7) + 3; i++) {
      q.push(next);
      model.push(next++);
    }
    if (round % 5 === 0) {
      q.setLast(-next);
      model[model.length - 1] = -next;
    }
    for (let i = 0; i < (round % 5) + 1 && model.length > 0; i++) assert.equal(q.shift(), model.shift());
    assert.equal(q.length, model.length);
    if (model.length > 0) {
      assert.equal(q.first(), model[0]);
      assert.equal(q.last(), model[model.length - 1]);
    }
  }
  while (model.length > 0) assert.equal(q.shift(), model.shift());
  assert.equal(q.length, 0);
});

test('unlessAborted gives the wait\'s outcome, or the reason once aborted, and leaves no listener behind', async () => {
  const ctl = new AbortController();
  const reason = () => new Error('stopped');
  // Many waits on one long-lived signal, as a load's: each must let go of it once settled
  // (Promise.race against a promise of the signal kept ~300 bytes per wait until the end).
  for (let i = 0; i < 1000; i++) assert.equal(await unlessAborted(new Promise((r) => setImmediate(() => r(i))), ctl.signal, reason), i);
  await assert.rejects(unlessAborted(Promise.reject(new Error('refused')), ctl.signal, reason), /refused/);
  assert.equal(getEventListeners(ctl.signal, 'abort').length, 0);
  const pending = unlessAborted(new Promise(() => {}), ctl.signal, reason);
  assert.equal(getEventListeners(ctl.signal, 'abort').length, 1);
  ctl.abort();
  await assert.rejects(pending, /stopped/);
  await assert.rejects(unlessAborted(Promise.resolve(1), ctl.signal, reason), /stopped/, 'already aborted');
});

test('sleep sleeps its time, and no longer once its signal aborts; abortedWhenSettled aborts as its promise settles', async () => {
  let end!: () => void;
  const settled = abortedWhenSettled(new Promise<void>((r) => (end = r)));
  let t = performance.now();
  await sleep(30, settled);
  assert.ok(performance.now() - t >= 25, 'a full sleep');
  assert.equal(settled.aborted, false);
  t = performance.now();
  const cut = sleep(10_000, settled);
  setTimeout(end, 20);
  await cut;
  assert.ok(performance.now() - t < 5_000, 'cut short when it settles');
  assert.equal(settled.aborted, true);
  assert.equal(getEventListeners(settled, 'abort').length, 0, 'the cut sleep let go of the signal');
  t = performance.now();
  await sleep(10_000, settled);
  assert.ok(performance.now() - t < 5_000, 'no sleep once aborted');
  const failed = abortedWhenSettled(Promise.reject(new Error('x')));
  await sleep(10_000, failed);
  assert.equal(failed.aborted, true, 'a rejection aborts it too');
  const idle = new AbortController();
  for (let i = 0; i < 100; i++) await sleep(0, idle.signal);
  assert.equal(getEventListeners(idle.signal, 'abort').length, 0, 'full sleeps let go of the signal');
});

test('starts a real redis-server for tests', async () => {
  const r = await startRedis();
  try {
    const c = r.client();
    assert.equal(await c.set('k', 'v'), 'OK');
    assert.equal(await c.get('k'), 'v');
  } finally {
    await r.stop();
  }
});

test('the CLI\'s shebang fits the 127 bytes older kernels read and carries glibc\'s setting and V8\'s heap flags', () => {
  const first = readFileSync(new URL('../src/cli.ts', import.meta.url), 'utf8').split('\n', 1)[0];
  assert.ok(Buffer.byteLength(first) <= 127, `${Buffer.byteLength(first)} bytes: ${first}`);
  assert.equal(shippedEnv().MALLOC_MMAP_THRESHOLD_, '131072');
  assert.equal(shippedEnv().MALLOC_ARENA_MAX, '2');
  assert.deepEqual(shippedNodeFlags(), ['--max-semi-space-size=8', '--noallocation-site-pretenuring']);
  // Node refuses a flag neither it nor V8 knows (exit 9): V8 reads `--noX` as `--no-X`.
  execFileSync(process.execPath, [...shippedNodeFlags(), '-e', '0']);
});

test('tuneV8 hands gc over to the GC pacing without exposing it globally; a plain process has none', () => {
  const tuning = new URL('../src/core/v8-tuning.ts', import.meta.url).href;
  const script = `
    import { collectYoung, tuneV8 } from '${tuning}';
    const before = collectYoung();
    tuneV8();
    console.log(JSON.stringify({ before, after: collectYoung(), global: typeof globalThis.gc }));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), { before: false, after: true, global: 'undefined' });
});
