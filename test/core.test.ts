import { test } from 'node:test';
import assert from 'node:assert/strict';
import { comparePositions, formatPosition } from '../src/core/position.js';
import { printableBytes } from '../src/core/command.js';
import { startRedis } from './helpers/redis.js';

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
