import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { writeCommand } from '../../src/sink/raw-write.js';
import { BY_REFERENCE } from '../../src/sink/resp.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { pattern } from './support.js';

describe('writeCommand: long arguments by reference, replies in order', () => {
  let redis: RedisServer;
  let c: Redis;
  before(async () => {
    redis = await startRedis();
    c = redis.client();
    await c.ping();
  });
  after(async () => {
    await redis?.stop();
  });

  it('writes long arguments first, between, last and next to each other, and short-only commands', async () => {
    const long = [pattern(BY_REFERENCE, 1), pattern(70_000, 2), pattern(BY_REFERENCE + 1, 3)];
    const shapes: Array<Array<Buffer | string>> = [
      ['k:only-short', 'a', 'é', pattern(BY_REFERENCE - 1, 9)],
      ['k:long-last', 'x', long[0]],
      ['k:long-middle', 'x', long[1], 'y'],
      ['k:long-adjacent', long[0], long[1], long[2]],
      ['k:long-with-utf8', 'ü', long[2], 'ß'],
    ];
    // Pipelined without waiting, interleaved with ioredis's own commands: each reply must land on its own slot.
    const replies = shapes.flatMap((args) => [writeCommand(c, 'RPUSH', args), c.llen(args[0] as string)]);
    const got = await Promise.all(replies);
    assert.deepEqual(
      got,
      shapes.flatMap((args) => [args.length - 1, args.length - 1]),
    );
    for (const args of shapes) {
      const stored = await c.lrangeBuffer(args[0] as string, 0, -1);
      assert.deepEqual(stored, args.slice(1).map((a) => (typeof a === 'string' ? Buffer.from(a) : a)));
    }
  });

  it('an error reply rejects that command only', async () => {
    await c.set('k:str', 'v');
    const bad = writeCommand(c, 'RPUSH', ['k:str', pattern(BY_REFERENCE, 5)]);
    const good = writeCommand(c, 'GET', ['k:str']);
    await assert.rejects(bad, /WRONGTYPE/);
    assert.equal(String(await good), 'v');
  });
});
