import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import type { RedisCommand } from '../../src/core/command.js';
import { encodeBatch } from '../../src/sink/batch-script.js';
import { BY_REFERENCE, SplitArg } from '../../src/sink/resp.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { binlog, keyed, pattern, poolFor, submitAll } from './support.js';

/**
 * A batch mixing what the batch script lays out: a run of SETs (one MSET), other commands, long
 * values first, last, next to each other and just under the threshold.
 */
function mixedBatch(): { cmds: RedisCommand[]; long: Buffer[] } {
  const long = [pattern(BY_REFERENCE, 1), pattern(3 << 20, 2), pattern(BY_REFERENCE + 1, 3), pattern(70_000, 4)];
  const short = pattern(BY_REFERENCE - 1, 5);
  let off = 0;
  const at = () => binlog(1, (off += 10));
  const cmds = [
    keyed('HSET', 'h', ['f1', long[0], 'f2', short], at()),
    keyed('SET', 's1', [long[1]], at()),
    keyed('SET', 's2', ['small'], at()),
    keyed('SET', 's3', [long[2]], at()),
    keyed('RPUSH', 'l', [long[3], long[1], 'x', long[0]], at()),
    keyed('SET', 's4', [short], at()),
  ];
  return { cmds, long };
}

describe('batch script: long values are written where they are, not copied into the batch', () => {
  let redis: RedisServer;
  let c: Redis;
  before(async () => {
    redis = await startRedis();
    c = redis.client();
  });
  after(async () => {
    await redis?.stop();
  });

  it('lays out everything but the values of BY_REFERENCE bytes or more', () => {
    const { cmds, long } = mixedBatch();
    const enc = encodeBatch(cmds, 'm', '-', 1, 1000);
    const arg = enc.args[8];
    assert.ok(arg instanceof SplitArg, 'the commands argument is split around the long values');
    const referenced = [long[0], long[1], long[2], long[3], long[1], long[0]];
    const total = referenced.reduce((n, b) => n + b.length, 0);
    assert.equal(arg.length, enc.blob.length + total);
    // The two values just under the threshold, and the names, keys and lengths around them.
    assert.ok(enc.blob.length < 2 * (BY_REFERENCE - 1) + 512, `the laid-out buffer holds the short values only (${enc.blob.length} bytes)`);
    assert.equal(arg.parts.reduce((n, p) => n + p.length, 0), arg.length);
    for (const v of referenced) assert.ok(arg.parts.includes(v), 'each long value is one of the pieces, by reference');
  });

  it('Redis applies such a batch exactly: the MSET run, the other commands, and every value byte for byte', async () => {
    const { cmds, long } = mixedBatch();
    const pool = await poolFor(redis, { senders: 1, batchSize: 50 });
    try {
      await submitAll(pool, cmds);
      await pool.flush();
      assert.deepEqual(pool.stats().errors, {});
    } finally {
      await pool.close();
    }
    const short = pattern(BY_REFERENCE - 1, 5);
    assert.deepEqual(await c.hgetallBuffer('h'), { f1: long[0], f2: short });
    assert.deepEqual([await c.getBuffer('s1'), await c.get('s2'), await c.getBuffer('s3'), await c.getBuffer('s4')], [long[1], 'small', long[2], short]);
    assert.deepEqual(await c.lrangeBuffer('l', 0, -1), [long[3], long[1], Buffer.from('x'), long[0]]);
  });

  it('a batch that ends with a long value: nothing laid out after it, applied exactly', async () => {
    const v = pattern(BY_REFERENCE + 7, 6);
    const cmds = [keyed('HSET', 'h2', ['f', v], binlog(2, 10))];
    const arg = encodeBatch(cmds, 'm', '-', 1, 1000).args[8];
    assert.ok(arg instanceof SplitArg);
    assert.equal(arg.parts[arg.parts.length - 1], v, 'the value is the last piece');
    const pool = await poolFor(redis, { senders: 1 });
    try {
      await submitAll(pool, cmds);
      await pool.flush();
    } finally {
      await pool.close();
    }
    assert.deepEqual(await c.hgetBuffer('h2', 'f'), v);
  });
});
