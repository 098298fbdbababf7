import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { convertEntry } from '../../src/convert/binlog.js';
import type { PikaFamily } from '../../src/convert/types.js';
import { decodeBinlogItem, encodeBinlogItem } from '../../src/replication/binlog-item.js';
import type { RedisCommand } from '../../src/core/command.js';
import { silentLogger } from '../../src/core/log.js';
import { SenderPool } from '../../src/sink/pool.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { PikaLogger } from './pika-logger.js';
import { applyCommands, assertSameContents, assertSameReads, dumpRedis } from './redis-dump.js';
import { workload } from './workload.js';

/** family, version, pre-6.2 target, through the sender pool (batch script) instead of one by one. */
const CASES: ReadonlyArray<[PikaFamily, string, boolean, boolean?]> = [
  ['A', '3.2.7', false],
  ['B', '3.3.4', false],
  ['B', '3.3.6', false],
  ['C', '3.5.3', false],
  ['C', '3.5.5', false],
  ['D', '4.0.0', false],
  ['D', '4.0.1', false],
  // The same through the scripts meant for targets older than Redis 6.2.
  ['A', '3.2.7', true],
  ['D', '4.0.1', true],
  // The scripts again, inlined in the sink's batch script (Redis forbids EVAL inside a script).
  ['B', '3.3.6', false, true],
  ['A', '3.2.7', true, true],
  ['D', '4.0.1', true, true],
];

let ref: RedisServer;
let target: RedisServer;

before(async () => {
  ref = await startRedis();
  target = await startRedis();
});

after(async () => {
  await ref?.stop();
  await target?.stop();
});

for (const [family, version, legacyTarget, viaPool] of CASES) {
  test(`rebuilds a ${version} (family ${family}) master's writes on Redis from its binlog${legacyTarget ? ' (pre-6.2 target)' : ''}${viaPool ? ' through the sender pool' : ''}`, async () => {
    const a = ref.client();
    const b = target.client();
    await a.flushall();
    await b.flushall();
    const pool = viaPool ? await SenderPool.connect({ host: target.host, port: target.port, db: 0, senders: 3, batchSize: 7, logger: silentLogger() }) : null;
    const apply = async (cmds: ReadonlyArray<RedisCommand>): Promise<void> => {
      if (pool === null) return applyCommands(b, cmds);
      for (const c of cmds) await pool.submit(c);
    };
    const logger = new PikaLogger(a, family, version);
    const noteCodes = new Set<string>();
    let offset = 0;
    let logicId = 0n;
    for (const argv of workload(family, version)) {
      for (const logged of await logger.run(argv)) {
        // Through the real item codec, as the entries would arrive from the master.
        const item = encodeBinlogItem({ execTime: Math.floor(Date.now() / 1000), termOrServerId: 0, logicId: logicId++, headerPos: { filenum: 0, offset }, argv: logged });
        offset += 8 + item.length;
        const entry = decodeBinlogItem(item, 0, { filenum: 0, offset }, () => 'e2e');
        const r = convertEntry(entry, { family, version, nowMs: Date.now(), legacyTarget });
        if (legacyTarget) assert.ok(r.commands.every((c) => !c.args.some((x) => /^(EXAT|PXAT)$/.test(String(x)))));
        for (const n of r.notes) noteCodes.add(n.code);
        assert.ok(r.commands.length > 0 || r.notes.length > 0, `${logged.map(String).join(' ')} vanished without a note`);
        await apply(r.commands);
      }
    }
    if (pool !== null) {
      await pool.flush();
      assert.equal(pool.stats().total.acked, pool.stats().total.submitted, 'every command applied');
      assert.equal(pool.stats().refused, 0);
      assert.deepEqual(pool.stats().errors, {});
      await pool.clearApplied(); // the sink's own bookkeeping is not part of the data compared
      await pool.close();
    }
    await assertSameReads(() => dumpRedis(b), () => dumpRedis(a), 2000, `${version}`);
    // The reference really holds what the workload built (guards against a vacuous comparison).
    assert.equal(await a.get('s:vx'), 'new');
    assert.equal(await a.exists('dv:1', 'pm:1', 'pm:2', 'st:one'), 0);
    assert.equal(await a.exists('dv:2', 'e:expire'), 2);
    assert.equal(await a.exists('pm:h'), family === 'D' ? 0 : 1); // 4.0 deletes matches of every type
    assert.equal(await a.exists('e:2038'), family === 'D' ? 1 : 0); // only 4.0 keeps a post-2038 expiry
    assert.ok((await a.pttl('e:pexpire')) > 90_000);
    assert.equal(noteCodes.has('emulated'), version !== '4.0.1'); // 4.0.1 logs pkpatternmatchdel as plain dels
    assert.ok(noteCodes.has('hll-not-portable'));
  });
}

test('caps a 3.5.5 pkpatternmatchdel at the smallest matching keys, as Pika deletes them', async () => {
  const a = ref.client();
  const b = target.client();
  await a.flushall();
  await b.flushall();
  const setup = [['SET', 'u:5', 'x'], ['SET', 'u:1', 'x'], ['SET', 'u:3', 'x'], ['HSET', 'u:0', 'f', 'v'], ['SET', 'u:2', 'x'], ['SET', 'other', 'x']];
  for (const c of setup) {
    await a.call(c[0], ...c.slice(1));
    await b.call(c[0], ...c.slice(1));
  }
  const logger = new PikaLogger(a, 'C', '3.5.5');
  for (const logged of await logger.run(['pkpatternmatchdel', 'u:*', 'string', '2'])) {
    const item = encodeBinlogItem({ execTime: 0, termOrServerId: 0, logicId: 1n, headerPos: { filenum: 0, offset: 0 }, argv: logged });
    const r = convertEntry(decodeBinlogItem(item, 0, { filenum: 0, offset: 8 + item.length }, () => 'e2e'), { family: 'C', version: '3.5.5', nowMs: Date.now() });
    await applyCommands(b, r.commands);
  }
  assert.deepEqual((await b.keys('*')).sort(), ['other', 'u:0', 'u:3', 'u:5']);
  assertSameContents(await dumpRedis(b), await dumpRedis(a), 0, 'capped');
});
