import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { convertEntry } from '../../src/convert/binlog.js';
import type { PikaFamily } from '../../src/convert/types.js';
import type { BinlogEntry } from '../../src/core/binlog.js';
import { readBinlogItems } from '../../src/replication/binlog-file.js';
import { decodeBinlogItem } from '../../src/replication/binlog-item.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { wireItems } from '../binlog/wire-items.js';
import { applyCommands } from './redis-dump.js';
import { FIXTURES } from '../helpers/fixtures.js';

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

const CAPTURES: ReadonlyArray<[string, PikaFamily, string]> = [
  ['3.2.7-full-then-binlog.repl-frames.txt', 'A', '3.2.7'],
  ['3.3.6-full-then-binlog.repl-frames.txt', 'B', '3.3.6'],
  ['3.5.5-full-then-binlog.repl-frames.txt', 'C', '3.5.5'],
];

async function replay(entries: BinlogEntry[], family: PikaFamily, version: string, nowMs: number): Promise<string[]> {
  const c = redis.client();
  await c.flushall();
  const warnings: string[] = [];
  for (const e of entries) {
    const r = convertEntry(e, { family, version, nowMs });
    assert.ok(r.commands.length > 0 || r.notes.length > 0, `entry ending at ${e.end.offset} vanished`);
    warnings.push(...r.notes.filter((n) => n.level === 'warn').map((n) => n.code));
    await applyCommands(c, r.commands);
  }
  return warnings;
}

for (const [file, family, version] of CAPTURES) {
  test(`replays every entry of the real ${file.replace('.repl-frames.txt', '')} capture on redis-server without an error reply`, async () => {
    const entries = wireItems(file).map((it) => decodeBinlogItem(it.item, 0, it.end, () => file));
    assert.ok(entries.length > 0);
    // "now" = when the master wrote the first entry, so the captured expiries lie ahead as they did then.
    const warnings = await replay(entries, family, version, entries[0].execTime * 1000);
    assert.deepEqual(warnings, version === '3.3.6' ? ['spop-nondeterministic'] : []);
    const c = redis.client();
    if (file.startsWith('3.2.7-full')) {
      assert.deepEqual(await c.lrange('bl:list', 0, -1), ['b', 'a', 'c']);
      assert.equal(await c.get('bl:incr'), '12');
      assert.equal(await c.zscore('bl:zset', 'm2'), '-inf');
      assert.deepEqual(await c.getBuffer('bl:bin'), wireItems(file).map((it) => decodeBinlogItem(it.item, 0, it.end, () => 't')).find((e) => e.argv[1].toString() === 'bl:bin')!.argv[2]);
      // The captured SETEX is logged as an absolute expiry; the converter keeps it absolute (EXAT),
      // so once that second has passed on this machine's clock Redis holds no key at all.
      const setex = entries.find((e) => e.argv[1]?.toString() === 'bl:setex')!;
      const cmds = convertEntry(setex, { family, version, nowMs: entries[0].execTime * 1000 }).commands;
      assert.deepEqual(cmds.map((x) => [x.name, ...x.args.slice(2).map(String)]), [['SET', 'EXAT', '1795712702']]);
      const expiry = 1795712702;
      assert.equal(Number(await c.call('EXPIRETIME', 'bl:setex')), expiry * 1000 > Date.now() ? expiry : -2);
      assert.equal(Number(await c.call('EXPIRETIME', 'bl:expireat')), 2000000000);
      assert.equal(await c.get('bl:last'), 'done');
    }
  });
}

test('replays the real 3.2.7 binlog directory from the oldest file to the manifest', async () => {
  const entries = [...readBinlogItems(`${FIXTURES}/binlog/3.2.7`, { filenum: 6, offset: 0 })].map((it) => decodeBinlogItem(it.item, 0, it.end, () => 'dir'));
  assert.deepEqual(await replay(entries, 'A', '3.2.7', Date.now()), []);
  const c = redis.client();
  assert.equal(await c.dbsize(), 16);
  assert.equal(await c.get('edge:40'), 'x'.repeat(200));
});
