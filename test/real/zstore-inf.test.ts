/**
 * Pika 3.2.7 computes ZUNIONSTORE/ZINTERSTORE over ±inf scores unlike Redis (a -inf source member
 * is not seen, inf + -inf is NaN), and its binlog holds the command, not the result: the daemon
 * forwards it with the note zstore-inf-arithmetic, and verify names the one key that differs.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildConfig } from '../../src/config/load.js';
import { verify, verifyOptionsOf } from '../../src/daemon/verify.js';
import { totalDifferences } from '../../src/verify/summary.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startRealPika, type RealPika } from '../helpers/real-pika.js';
import { tempDir, testLogger } from '../replication/support.js';
import { startDaemon, stopDaemon, untilIncremental, type TestDaemon } from '../daemon/support.js';
import { untilCaughtUp } from './support.js';

describe('real Pika 3.2.7: ZUNIONSTORE over ±inf scores', () => {
  let pika: RealPika;
  let target: RedisServer;
  let dir: string;
  let d: TestDaemon | undefined;

  before(async () => {
    pika = await startRealPika('3.2.7');
    target = await startRedis();
    dir = tempDir('pm-zinf-');
  });
  after(async () => {
    if (d) await stopDaemon(d);
    await pika?.destroy();
    await target?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('forwards them with a note per entry; only the result built from ±inf differs', async () => {
    d = await startDaemon(target, dir);
    await d.admin.call('SLAVEOF', '127.0.0.1', String(pika.port), 'force');
    await untilIncremental(d, 60_000);
    const c = pika.client();
    await c.call('ZADD', 'zi:a', '+inf', 'p', '-inf', 'n', '1', 'f');
    await c.call('ZADD', 'zi:b', '-inf', 'p', '2', 'f');
    await c.call('ZUNIONSTORE', 'zi:inf', '2', 'zi:a', 'zi:b');
    await c.call('ZADD', 'zf:a', '1.5', 'x', '-3', 'y');
    await c.call('ZADD', 'zf:b', '2', 'x');
    await c.call('ZUNIONSTORE', 'zf:sum', '2', 'zf:a', 'zf:b');
    await c.call('ZINTERSTORE', 'zf:inter', '2', 'zf:a', 'zf:b', 'AGGREGATE', 'MAX');
    await untilCaughtUp(pika, d, 20_000);
    assert.equal((await d.info('migrate')).get('binlog_notes_zstore_inf_arithmetic'), '3');
    // The master's result lacks zi:a's -inf member, which Redis's arithmetic keeps.
    assert.equal(await c.call('ZSCORE', 'zi:inf', 'n'), null);
    assert.equal(await target.client().call('ZSCORE', 'zi:inf', 'n'), '-inf');
    const conf = buildConfig('real.conf', [
      { key: 'target-redis-port', value: String(target.port), where: 'real.conf:1' },
      { key: 'slaveof', value: `127.0.0.1:${pika.port}`, where: 'real.conf:2' },
    ]);
    const report = join(dir, 'report.jsonl');
    const r = await verify(verifyOptionsOf(conf, { report }, testLogger()));
    const keys = readFileSync(report, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { key: string; kind: string }));
    assert.deepEqual(keys.map((k) => `${k.kind} ${k.key}`), ['value zi:inf']);
    assert.equal(totalDifferences(r), 1);
    assert.equal(await target.client().call('ZSCORE', 'zf:sum', 'x'), '3.5');
  });
});
