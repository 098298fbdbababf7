/**
 * The spool of an interrupted load is reopened to append to: what the checkpoint says was fsynced
 * is kept, whole records after it too (a kill -9 leaves them in the page cache, and they may have
 * been acked), a torn last record is cut off, and a spool shorter than the checkpoint is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BinlogEntry } from '../../src/core/binlog.js';
import { BinlogSpool } from '../../src/ops/binlog-spool.js';

const entry = (i: number): BinlogEntry => ({
  db: 0,
  execTime: 1700000000 + i,
  termOrServerId: 1,
  logicId: BigInt(i),
  headerPos: { filenum: 1, offset: i * 100 },
  argv: [Buffer.from('incr'), Buffer.from(`k${i}`)],
  end: { filenum: 1, offset: (i + 1) * 100 },
});

function withSpool(fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'pm-spool-'));
  try {
    fn(join(dir, 'spool-db0.bin'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('reopen keeps the fsynced part and the whole records after it, cuts a torn tail, appends after', () => {
  withSpool((path) => {
    const s = new BinlogSpool(path, 0);
    for (let i = 0; i < 3; i++) s.append(entry(i));
    s.sync();
    const durableBytes = s.durableBytes;
    const durable = s.durable;
    for (let i = 3; i < 5; i++) s.append(entry(i)); // written, not fsynced: still in the file after a kill -9
    const whole = s.bytes;
    appendFileSync(path, Buffer.from([50, 0, 0, 0, 1, 2, 3])); // a record torn by a crash
    const r = BinlogSpool.reopen(path, 0, durableBytes, durable);
    assert.equal(r.bytes, whole, 'the torn record is cut off');
    assert.equal(statSync(path).size, whole);
    assert.deepEqual(r.durable, entry(4).end, 'the whole records after the fsynced part count');
    r.append(entry(5));
    r.sync();
    const got = r.readFrom(0).entries.map((e) => e.end.offset);
    assert.deepEqual(got, [100, 200, 300, 400, 500, 600]);
    r.close();
    s.close();
  });
});

test('reopen refuses a spool shorter than the checkpoint says, or one that is gone, naming the file', () => {
  withSpool((path) => {
    const s = new BinlogSpool(path, 0);
    for (let i = 0; i < 3; i++) s.append(entry(i));
    s.sync();
    s.close();
    const bytes = statSync(path).size;
    truncateSync(path, bytes - 5);
    assert.throws(() => BinlogSpool.reopen(path, 0, bytes, entry(2).end), (e: Error) => e.message.includes(path) && /holds \d+ bytes, the checkpoint says \d+ were fsynced/.test(e.message));
    rmSync(path);
    assert.throws(() => BinlogSpool.reopen(path, 0, 0, null), (e: Error) => e.message.includes(path) && /cannot be opened/.test(e.message));
  });
});
