import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorruptionError } from '../../src/core/errors.js';
import { decodeBinlogItem, encodeBinlogItem } from '../../src/replication/binlog-item.js';
import {
  BINLOG_BLOCK_SIZE,
  BinlogDirReader,
  BinlogPositionError,
  isResumePoint,
  readBinlogItems,
  readManifest,
} from '../../src/replication/binlog-file.js';
import { BinlogFileWriter } from '../master/binlog-file-writer.js';
import { FIXTURES } from '../helpers/fixtures.js';

const FIXTURE = `${FIXTURES}/binlog/3.2.7`;

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'pm-binlog-'));
}

/** A copy of the real fixture that tests may write to. */
function fixtureCopy(): string {
  const d = tmp();
  cpSync(FIXTURE, d, { recursive: true });
  for (const f of readdirSync(d)) chmodSync(join(d, f), 0o644);
  return d;
}

function item(key: string, valueLen: number, logicId = 0n): Buffer {
  return encodeBinlogItem({ execTime: 1700000000, termOrServerId: 1, logicId, headerPos: { filenum: 0, offset: 0 }, argv: ['set', key, Buffer.alloc(valueLen, 'v')] });
}

/** An item of exactly `total` bytes. */
function sized(key: string, total: number): Buffer {
  for (let n = total - item(key, 0).length; n >= 0; n--) {
    const b = item(key, n);
    if (b.length === total) return b;
  }
  throw new Error(`no item of ${total} bytes`);
}

test('reads the real 3.2.7 binlog directory up to the manifest, across files', () => {
  assert.deepEqual(readManifest(FIXTURE), { filenum: 9, offset: 1104, logicId: 40n, term: 0 });
  const items = [...readBinlogItems(FIXTURE, { filenum: 6, offset: 0 })];
  assert.equal(items.length, 16);
  const keys = items.map((it) => decodeBinlogItem(it.item, 0, it.end, () => 't').argv[1].toString());
  assert.deepEqual(keys, Array.from({ length: 16 }, (_, i) => `edge:${25 + i}`));
  assert.deepEqual(items[4].start, { filenum: 7, offset: 0 });
  assert.deepEqual(items[4].end, { filenum: 7, offset: 276 });
  assert.deepEqual(items[15].end, { filenum: 9, offset: 1104 });
  // Each item's header holds the producer position before it (the previous end, across files too).
  for (let i = 1; i < items.length; i++) {
    const e = decodeBinlogItem(items[i].item, 0, items[i].end, () => 't');
    assert.deepEqual(e.headerPos, items[i - 1].end);
  }
});

test('stops at the real end of a pre-sized file and resumes mid-file', () => {
  const r = new BinlogDirReader(FIXTURE, { filenum: 9, offset: 552 });
  try {
    assert.deepEqual(r.next()?.end, { filenum: 9, offset: 828 });
    assert.deepEqual(r.next()?.end, { filenum: 9, offset: 1104 });
    assert.equal(r.next(), null);
    assert.deepEqual(r.position, { filenum: 9, offset: 1104 });
  } finally {
    r.close();
  }
});

test('accepts only item boundaries of existing files as resume points', () => {
  assert.equal(isResumePoint(FIXTURE, { filenum: 6, offset: 0 }), true);
  assert.equal(isResumePoint(FIXTURE, { filenum: 8, offset: 276 }), true);
  assert.equal(isResumePoint(FIXTURE, { filenum: 9, offset: 1104 }), true);
  assert.equal(isResumePoint(FIXTURE, { filenum: 8, offset: 277 }), false);
  assert.equal(isResumePoint(FIXTURE, { filenum: 9, offset: 1200 }), false);
  assert.equal(isResumePoint(FIXTURE, { filenum: 5, offset: 0 }), false);
  assert.throws(() => new BinlogDirReader(FIXTURE, { filenum: 8, offset: 100 }), BinlogPositionError);
});

test('writer continues a real directory where its manifest says, and the reader tails it', () => {
  const d = fixtureCopy();
  try {
    const r = new BinlogDirReader(d, { filenum: 9, offset: 1104 });
    assert.equal(r.next(), null);
    const w = new BinlogFileWriter(d);
    const pos = w.append(item('new:1', 10, 41n));
    assert.deepEqual(pos, { start: { filenum: 9, offset: 1104 }, end: { filenum: 9, offset: 1104 + 8 + item('new:1', 10).length } });
    const got = r.next();
    assert.deepEqual(got?.end, pos.end);
    assert.equal(decodeBinlogItem(got!.item, 0, got!.end, () => 't').argv[1].toString(), 'new:1');
    assert.equal(r.next(), null);
    assert.deepEqual(readManifest(d), { filenum: 9, offset: pos.end.offset, logicId: 41n, term: 0 });
    w.close();
    r.close();
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('frames items across 64 KiB blocks as Pika does: fill, empty first record, first/middle/last', () => {
  const d = tmp();
  try {
    const w = new BinlogFileWriter(d, { clock: () => 1700000000 });
    // 1) Leave 5 bytes in block 0: the next item starts in block 1 after 5 zero bytes.
    const p1 = w.append(sized('a', BINLOG_BLOCK_SIZE - 5 - 8)); // one full record ending 5 bytes before the block end
    assert.equal(p1.end.offset, BINLOG_BLOCK_SIZE - 5);
    const p2 = w.append(item('b', 1));
    assert.equal(p2.start.offset, BINLOG_BLOCK_SIZE - 5); // the header position excludes the fill
    // 2) Leave exactly 8 bytes in block 1: the writer emits an empty "first" record there.
    const used = p2.end.offset - BINLOG_BLOCK_SIZE;
    const p3 = w.append(sized('c', BINLOG_BLOCK_SIZE - used - 8 - 8));
    assert.equal(p3.end.offset, 2 * BINLOG_BLOCK_SIZE - 8);
    const p4 = w.append(item('d', 100));
    // 3) One item spanning three blocks.
    const p5 = w.append(item('e', 2 * BINLOG_BLOCK_SIZE));
    const p6 = w.append(item('f', 3));
    w.close();

    const raw = readFileSync(join(d, 'write2file0'));
    assert.deepEqual([...raw.subarray(BINLOG_BLOCK_SIZE - 5, BINLOG_BLOCK_SIZE)], [0, 0, 0, 0, 0]);
    assert.equal(raw[BINLOG_BLOCK_SIZE + 7], 1); // full record of 'b' at the start of block 1
    const emptyFirst = raw.subarray(2 * BINLOG_BLOCK_SIZE - 8, 2 * BINLOG_BLOCK_SIZE);
    assert.equal(emptyFirst.readUIntLE(0, 3), 0);
    assert.equal(emptyFirst.readUInt32LE(3), 1700000000);
    assert.equal(emptyFirst[7], 2);
    assert.equal(raw[2 * BINLOG_BLOCK_SIZE + 7], 4); // 'd' ends with a last record in block 2

    const items = [...readBinlogItems(d, { filenum: 0, offset: 0 })];
    assert.deepEqual(
      items.map((it) => [decodeBinlogItem(it.item, 0, it.end, () => 't').argv[1].toString(), it.start.offset, it.end.offset]),
      [
        ['a', 0, p1.end.offset],
        ['b', p2.start.offset, p2.end.offset],
        ['c', p3.start.offset, p3.end.offset],
        ['d', p4.start.offset, p4.end.offset],
        ['e', p5.start.offset, p5.end.offset],
        ['f', p6.start.offset, p6.end.offset],
      ],
    );
    assert.equal(items[4].item.length, item('e', 2 * BINLOG_BLOCK_SIZE).length);
    for (const p of [p1, p2, p3, p4, p5, p6]) assert.equal(isResumePoint(d, p.end), true);
    assert.equal(isResumePoint(d, { filenum: 0, offset: BINLOG_BLOCK_SIZE - 3 }), false);
    assert.equal(isResumePoint(d, { filenum: 0, offset: p5.start.offset + BINLOG_BLOCK_SIZE }), false);
    // Resuming right before the empty first record still yields 'd' whole.
    const r = new BinlogDirReader(d, p3.end);
    assert.equal(decodeBinlogItem(r.next()!.item, 0, p4.end, () => 't').argv[1].toString(), 'd');
    r.close();
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('rolls to a new file once the current one is larger than the file size', () => {
  const d = tmp();
  try {
    const w = new BinlogFileWriter(d, { fileSize: 1000, withTerm: true });
    const ends = Array.from({ length: 10 }, (_, i) => w.append(item(`k${i}`, 300)).end);
    w.close();
    assert.deepEqual(ends.map((e) => e.filenum), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]);
    const rec = item('k3', 300).length + 8; // 371: two records stay under 1000, the third passes it
    assert.equal(ends[3].offset, rec);
    const got = [...readBinlogItems(d, { filenum: 0, offset: 0 })].map((it) => it.end);
    assert.deepEqual(got, ends);
    assert.deepEqual(readManifest(d), { filenum: 3, offset: rec, logicId: 10n, term: 0 });
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('reports a finished file that ends inside an item, or a corrupt record header, with file and offset', () => {
  const d = tmp();
  try {
    const w = new BinlogFileWriter(d, { fileSize: 100 });
    w.append(item('x', BINLOG_BLOCK_SIZE)); // spans two blocks in file 0
    w.append(item('y', 1)); // file 1
    w.close();
    truncateSync(join(d, 'write2file0'), BINLOG_BLOCK_SIZE + 20);
    assert.throws(
      () => [...readBinlogItems(d, { filenum: 0, offset: 0 })],
      (e: unknown) => e instanceof CorruptionError && /write2file0 byte 0: file ends inside an item/.test(e.message),
    );
    const f1 = readFileSync(join(d, 'write2file1'));
    f1[7] = 9;
    writeFileSync(join(d, 'write2file1'), f1);
    assert.throws(
      () => [...readBinlogItems(d, { filenum: 1, offset: 0 })],
      (e: unknown) => e instanceof CorruptionError && /write2file1 byte 7: record type 9/.test(e.message),
    );
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

for (const style of ['padding-items', 'bad-records'] as const) {
  test(`resumes after a replica's post-full-sync padding (${style === 'padding-items' ? 'A: padding items' : 'B–D: type-6 records'})`, () => {
    const d = tmp();
    try {
      const w = new BinlogFileWriter(d);
      const o = 2 * BINLOG_BLOCK_SIZE + 300;
      assert.deepEqual(w.padAfterFullSync(7, o, style), { filenum: 7, offset: o });
      const a = w.append(item('after', 5));
      assert.deepEqual(a.start, { filenum: 7, offset: o });
      w.close();
      assert.equal(isResumePoint(d, { filenum: 7, offset: o }), true);
      assert.equal(isResumePoint(d, { filenum: 7, offset: BINLOG_BLOCK_SIZE }), true);
      assert.equal(isResumePoint(d, { filenum: 7, offset: o - 1 }), false);
      const fromO = [...readBinlogItems(d, { filenum: 7, offset: o })];
      assert.deepEqual(fromO.map((it) => it.end), [a.end]);
      // From the file start: A's padding items come out (the converter drops them); B–D's records are skipped.
      const all = [...readBinlogItems(d, { filenum: 7, offset: 0 })].map((it) => decodeBinlogItem(it.item, 0, it.end, () => 't').argv[0].toString());
      assert.deepEqual(all, style === 'padding-items' ? ['padding', 'padding', 'padding', 'set'] : ['set']);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
}
