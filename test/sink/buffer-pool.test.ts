import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool } from '../../src/sink/buffer-pool.js';

test('a buffer given back is taken again for a request it can hold, never for a longer one', () => {
  const pool = new BufferPool(2, 1024, 64);
  const a = pool.take(100);
  assert.equal(a.length, 100);
  pool.give(a);
  const b = pool.take(80);
  assert.equal(b.length, 80);
  assert.equal(b.buffer, a.buffer, 'reused');
  const c = pool.take(90);
  assert.notEqual(c.buffer, a.buffer, 'the reused one is out: a fresh one');
  pool.give(b);
  const d = pool.take(101);
  assert.notEqual(d.buffer, a.buffer, 'too short for 101 bytes');
  assert.equal(pool.take(100).buffer, a.buffer);
});

test('buffers over keepBytes are not kept, and at most maxFree are, the longest', () => {
  const pool = new BufferPool(2, 1024, 64);
  const big = pool.take(2000);
  pool.give(big);
  assert.notEqual(pool.take(2000).buffer, big.buffer);
  const bufs = [pool.take(100), pool.take(500), pool.take(300)];
  for (const b of bufs) pool.give(b);
  // 100 was dropped for 300: a request of 80 gets the 300 one (first fit from the end), 400 the 500 one.
  assert.equal(pool.take(400).buffer, bufs[1].buffer);
  assert.equal(pool.take(80).buffer, bufs[2].buffer);
  assert.notEqual(pool.take(80).buffer, bufs[0].buffer);
});
