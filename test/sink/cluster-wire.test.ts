import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RedisCommand } from '../../src/core/command.js';
import { openConnection } from '../../src/sink/connection.js';
import { WirePipe } from '../../src/sink/cluster-wire.js';
import { BY_REFERENCE, encodeCommands } from '../../src/sink/resp.js';
import { startRedis } from '../helpers/redis.js';
import { snap } from './support.js';

const cmd = (name: string, ...args: Array<Buffer | string>): RedisCommand => ({ name, args, key: null, pos: snap(0) });

function sendAll(wire: WirePipe, cmds: RedisCommand[]): Promise<Array<Error | null>> {
  return new Promise((resolve) => wire.send(cmds, resolve));
}

test('cluster wire: a batch is written as RESP that Redis runs exactly (binary, UTF-8, large values), each reply told error or not', async () => {
  const redis = await startRedis();
  const conn = await openConnection({ host: redis.host, port: redis.port, db: 0, connectTimeoutMs: 5000 }, 'wire-test');
  try {
    const wire = new WirePipe(conn);
    const bin = Buffer.from([0, 13, 10, 255, 36, 42]);
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const results = await sendAll(wire, [
      cmd('SET', bin, 'é€'),
      cmd('SET', 'big', big),
      cmd('INCR', bin),
      cmd('RPUSH', 'l', 'a', 'b', 'c'),
      cmd('LRANGE', 'l', '0', '-1'),
      cmd('GET', 'big'),
      cmd('GET', 'nope'),
      cmd('NOSUCHCOMMAND'),
      cmd('SET', 'after', '1'),
    ]);
    assert.deepEqual(
      results.map((r) => (r === null ? null : `${r.name}: ${r.message.split(' ')[0]}`)),
      [null, null, 'ReplyError: ERR', null, null, null, null, 'ReplyError: ERR', null],
    );
    // Many small batches in flight at once: each gets its own replies, in order.
    const many = await Promise.all(Array.from({ length: 50 }, (_, i) => sendAll(wire, [cmd('SET', `k${i}`, String(i)), cmd('LPUSH', `k${i}`, 'x')])));
    for (const r of many) assert.deepEqual(r.map((e) => e?.name ?? null), [null, 'ReplyError']);
    const c = redis.client();
    assert.deepEqual(await c.getBuffer(bin), Buffer.from('é€'));
    assert.equal((await c.getBuffer('big'))?.equals(big), true);
    assert.deepEqual(await c.lrange('l', 0, -1), ['a', 'b', 'c']);
    assert.equal(await c.get('k49'), '49');
    assert.equal(await c.get('after'), '1');
  } finally {
    conn.disconnect();
    await redis.stop();
  }
});

test('cluster wire: values of BY_REFERENCE bytes or more are written where they are, not copied', () => {
  const long = Buffer.alloc(BY_REFERENCE, 1);
  const big = Buffer.alloc(3 << 20, 2);
  const chunks = encodeCommands([cmd('SET', 'a', long), cmd('RPUSH', 'l', 'x', big, Buffer.alloc(BY_REFERENCE - 1, 3))]);
  assert.ok(chunks.includes(long) && chunks.includes(big), 'the long values are chunks of their own');
  const copied = chunks.filter((c) => c !== long && c !== big).reduce((n, c) => n + c.length, 0);
  assert.ok(copied < BY_REFERENCE + 100, `only the short value and the framing are copied (${copied} bytes)`);
  const lines = Buffer.concat(chunks).toString('latin1').split('\r\n');
  assert.deepEqual(lines.filter((l) => /^[*$]/.test(l)), ['*3', '$3', '$1', `$${BY_REFERENCE}`, '*5', '$5', '$1', '$1', `$${3 << 20}`, `$${BY_REFERENCE - 1}`]);
  assert.equal(lines.length, 19, 'the two arrays and nothing else, each line ended by CRLF');
});

test('cluster wire: replies owed when the connection drops come back as lost (not reply errors), and so does a batch sent after', async () => {
  const redis = await startRedis();
  const conn = await openConnection({ host: redis.host, port: redis.port, db: 0, connectTimeoutMs: 5000 }, 'wire-test');
  try {
    const wire = new WirePipe(conn);
    assert.deepEqual(await sendAll(wire, [cmd('SET', 'a', '1')]), [null]);
    // The BLPOP holds the connection's replies back when it goes.
    const owed = sendAll(wire, [cmd('BLPOP', 'nolist', '2'), cmd('SET', 'b', '2')]);
    await new Promise((r) => setTimeout(r, 100));
    conn.stream.destroy();
    const res = await owed;
    assert.equal(res.length, 2);
    assert.ok(res.every((e) => e !== null && e.name !== 'ReplyError'), 'lost, never successes nor reply errors');
    const late = await sendAll(wire, [cmd('SET', 'c', '3')]);
    assert.ok(late[0] !== null && late[0].name !== 'ReplyError');
  } finally {
    conn.disconnect();
    await redis.stop();
  }
});
