import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc16 } from '../../src/core/cluster-slot.js';
import { KeyRouter, keySlot } from '../../src/sink/router.js';
import { classifyError, errorCode, statName } from '../../src/sink/replies.js';

test('hashes keys with the Redis Cluster CRC16', () => {
  // Reference values from the Redis Cluster specification.
  assert.equal(crc16(Buffer.from('123456789')), 0x31c3);
  assert.equal(keySlot(Buffer.from('foo')), 12182);
  assert.equal(keySlot(Buffer.from('bar')), 5061);
});

test('routes a key to the same sender every time and spreads keys over all senders', () => {
  const r = new KeyRouter(10);
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 10_000; i++) {
    const key = Buffer.from(`user:${String(i).padStart(6, '0')}`);
    const s = r.senderOf(key);
    assert.equal(r.senderOf(Buffer.from(key)), s);
    counts[s]++;
  }
  for (const c of counts) assert.ok(c > 700 && c < 1300, `uneven spread ${counts.join(',')}`);
  assert.equal(new KeyRouter(1).senderOf(Buffer.from([0xff, 0x00])), 0);
  assert.throws(() => new KeyRouter(0), RangeError);
});

test('classifies error replies by their code', () => {
  assert.equal(classifyError('WRONGTYPE Operation against a key holding the wrong kind of value'), 'typeConflict');
  for (const m of ['NOREPLICAS Not enough good replicas to write.', "OOM command not allowed when used memory > 'maxmemory'.", 'LOADING Redis is loading the dataset in memory', 'BUSY Redis is busy running a script', "READONLY You can't write against a read only replica."]) {
    assert.equal(classifyError(m), 'retryable', m);
  }
  assert.equal(classifyError('NOAUTH Authentication required.'), 'fatal');
  assert.equal(classifyError('WRONGPASS invalid username-password pair or user is disabled.'), 'fatal');
  assert.equal(classifyError('ERR syntax error'), 'other');
  // Redis 7.0's ACL denial inside a script has no NOPERM code of its own.
  assert.equal(errorCode("ERR The user executing the script can't run this command or subcommand"), 'NOPERM');
  assert.equal(classifyError("ERR The user executing the script can't access at least one of the keys mentioned in the command"), 'fatal');
  assert.equal(classifyError("NOPERM User pm has no permissions to run the 'rpush' command"), 'fatal');
  assert.equal(classifyError('something without a code'), 'other');
  assert.equal(errorCode('weird'), 'ERR');
  assert.equal(statName('WRONGTYPE'), 'wrongType');
  assert.equal(statName('OOM'), 'oom');
});
