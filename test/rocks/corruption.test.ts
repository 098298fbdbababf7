/**
 * Damaged files written by real RocksDB: every failure is a CorruptionError naming the file and the
 * byte offset; WAL damage is handled as RocksDB's point-in-time recovery (DBImpl::RecoverLogFiles) does.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CorruptionError } from '../../src/core/errors.js';
import { crc32cExtend, loadHashers, maskCrc, putVarint } from '../../src/snapshot/rocks/coding.js';
import { openRocksDb, type RocksDb } from '../../src/snapshot/rocks/db.js';
import { Table } from '../../src/snapshot/rocks/sst/table.js';
import { cleanup, writeDb } from './writer.js';

const works: string[] = [];
after(() => works.forEach(cleanup));

async function drain(db: RocksDb, cf = 'default'): Promise<number> {
  let n = 0;
  for await (const b of db.scanBatches(cf)) n += b.length;
  return n;
}

function patch(path: string, at: number, bytes: number[]): void {
  const buf = readFileSync(path);
  bytes.forEach((b, i) => (buf[at + i] = b));
  writeFileSync(path, buf);
}

/** One flushed SST (crc32c, given compression) plus nothing in the WAL. */
function oneSst(compression: string): { dir: string; sst: string } {
  const { dir, work } = writeDb([
    'option format_version 5',
    'option checksum crc32c',
    `option compression ${compression}`,
    'option block_size 1024',
    'open',
    'putn default k 0 2000 6 1',
    'flush',
    'close',
  ]);
  works.push(work);
  const sst = readdirSync(dir).find((f) => f.endsWith('.sst'))!;
  return { dir, sst: join(dir, sst) };
}

/** The first data block (whose trailer type is `type`, when given). */
async function firstDataBlock(path: string, type?: number): Promise<{ offset: number; size: number }> {
  await loadHashers();
  const file = readFileSync(path);
  const t = await Table.open(path);
  try {
    const idx = await t.readIndexBlock(t.indexHandle, false);
    while (idx.next()) {
      const h = { offset: idx.handleOffset, size: idx.handleSize };
      if (type === undefined || file[h.offset + h.size] === type) return h;
    }
    throw new Error(`no data block of type ${type} in ${path}`);
  } finally {
    await t.close();
  }
}

/** Rewrites a block's trailer checksum (crc32c) so that only the payload problem remains. */
function resealCrc32c(path: string, h: { offset: number; size: number }): void {
  const buf = readFileSync(path);
  const crc = maskCrc(crc32cExtend(0, buf, h.offset, h.offset + h.size + 1));
  buf.writeUInt32LE(crc, h.offset + h.size + 1);
  writeFileSync(path, buf);
}

async function assertCorruption(p: Promise<unknown>, where: RegExp, msg: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CorruptionError, `CorruptionError, got ${String(e)}`);
    assert.match(e.where, where);
    assert.match(e.message, msg);
    return true;
  });
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('corrupt input', () => {
  it('names the file and block offset when a data block byte is flipped', async () => {
    const { dir, sst } = oneSst('none');
    const h = await firstDataBlock(sst);
    const buf = readFileSync(sst);
    patch(sst, h.offset + 20, [buf[h.offset + 20] ^ 0x40]);
    const db = await openRocksDb(dir);
    await assertCorruption(drain(db), new RegExp(`^${esc(sst)}@${h.offset}$`), /data block checksum mismatch/);
  });

  it('names the file when an SST is shorter than the MANIFEST says', async () => {
    const { dir, sst } = oneSst('snappy');
    const size = readFileSync(sst).length;
    truncateSync(sst, size - 100);
    // checked when the DB opens, before any key is read
    await assertCorruption(openRocksDb(dir), new RegExp(`^${esc(sst)}@${size - 100}$`), /MANIFEST records \d+/);
  });

  it('reports a bad magic number at the end of a truncated SST opened on its own', async () => {
    const { sst } = oneSst('none');
    const size = readFileSync(sst).length;
    truncateSync(sst, size - 3);
    await loadHashers();
    await assertCorruption(Table.open(sst), new RegExp(`^${esc(sst)}@${size - 3 - 8}$`), /bad table magic number/);
  });

  it('rejects an unknown compression type even when the checksum is right', async () => {
    const { dir, sst } = oneSst('none');
    const h = await firstDataBlock(sst);
    patch(sst, h.offset + h.size, [0x2a]);
    resealCrc32c(sst, h);
    const db = await openRocksDb(dir);
    await assertCorruption(drain(db), new RegExp(`^${esc(sst)}@${h.offset}$`), /unknown compression type 42/);
  });

  it('reports a snappy block that does not decode', async () => {
    const { dir, sst } = oneSst('snappy');
    const h = await firstDataBlock(sst, 1);
    patch(sst, h.offset, [0xff, 0xff, 0xff, 0xff, 0x0f]); // absurd uncompressed length
    resealCrc32c(sst, h);
    const db = await openRocksDb(dir);
    await assertCorruption(drain(db), new RegExp(`^${esc(sst)}@${h.offset}$`), /snappy/);
  });

  it('reports a damaged MANIFEST record with its offset', async () => {
    const { dir } = oneSst('none');
    const manifest = readdirSync(dir).find((f) => f.startsWith('MANIFEST-'))!;
    const path = join(dir, manifest);
    const buf = readFileSync(path);
    patch(path, 12, [buf[12] ^ 1]);
    await assertCorruption(openRocksDb(dir), new RegExp(`^${esc(path)}@0$`), /log record checksum mismatch/);
  });

  it('refuses an SST whose index (checksum intact) no longer lists its last data block', async () => {
    const { dir, sst } = oneSst('none');
    const intact = await openRocksDb(dir);
    assert.equal(await drain(intact), 2000);
    await loadHashers();
    const t = await Table.open(sst);
    const h = t.indexHandle;
    const props = t.props;
    await t.close();
    assert.equal(t.footer.formatVersion, 5);
    assert.ok(props.numDataBlocks! > 2, `${props.numDataBlocks} data blocks`);
    // The index block (restart interval 1: every entry is a restart point) without its last entry,
    // resealed in place; the footer's index handle gets the new size. Everything else stays put.
    const buf = readFileSync(sst);
    const block = buf.subarray(h.offset, h.offset + h.size);
    const n = block.readUInt32LE(h.size - 4);
    const restarts = h.size - 4 - 4 * n;
    const lastEntry = block.readUInt32LE(restarts + 4 * (n - 1));
    const shorter = Buffer.concat([block.subarray(0, lastEntry), block.subarray(restarts, restarts + 4 * (n - 1)), Buffer.alloc(4)]);
    shorter.writeUInt32LE(n - 1, shorter.length - 4);
    shorter.copy(buf, h.offset);
    buf[h.offset + shorter.length] = 0; // not compressed
    buf.writeUInt32LE(maskCrc(crc32cExtend(0, buf, h.offset, h.offset + shorter.length + 1)), h.offset + shorter.length + 1);
    const footer = buf.length - 53;
    const handles: number[] = [];
    putVarint(handles, t.footer.metaindexHandle.offset);
    putVarint(handles, t.footer.metaindexHandle.size);
    putVarint(handles, h.offset);
    putVarint(handles, shorter.length);
    Buffer.concat([Buffer.from(handles), Buffer.alloc(40 - handles.length)]).copy(buf, footer + 1);
    writeFileSync(sst, buf);
    const db = await openRocksDb(dir);
    await assertCorruption(
      drain(db),
      new RegExp(`^${esc(sst)}@${h.offset}$`),
      new RegExp(`index lists ${props.numDataBlocks! - 1} data blocks, the properties record ${props.numDataBlocks}`),
    );
  });

  describe('WAL damage', () => {
    /** Two live WALs: cf c1 keeps the first alive; the second gets later writes. */
    function twoWals(): { dir: string; wals: string[] } {
      const { dir, work } = writeDb([
        'cf c1',
        'open',
        'putn default a 0 100 20 1',
        'putn c1 b 0 100 20 2',
        'flush default',
        'putn default a 100 100 20 3',
        'put default zz last',
        'close',
      ]);
      works.push(work);
      const wals = readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .sort()
        .map((f) => join(dir, f));
      assert.equal(wals.length, 2);
      return { dir, wals };
    }

    it('refuses a damaged WAL when a column family flushed past it holds SSTs (RocksDB: SST file is ahead of WALs)', async () => {
      const { dir, wals } = twoWals();
      const buf = readFileSync(wals[0]);
      patch(wals[0], 100, [buf[100] ^ 0x10]);
      await assertCorruption(openRocksDb(dir), new RegExp(`^${esc(wals[0])}@\\d+$`), /SST file is ahead of WALs in CF default: .*checksum mismatch/);
    });

    it('resumes in the next WAL when its sequence numbers continue right after a torn tail (point-in-time recovery)', async () => {
      const { dir, wals } = twoWals();
      appendFileSync(wals[0], Buffer.from([1, 2, 3])); // a header cut off after the last whole record
      const db = await openRocksDb(dir);
      assert.equal(await drain(db), 201);
      assert.equal(await drain(db, 'c1'), 100);
    });

    it('ends the last WAL at a torn tail and keeps everything before it', async () => {
      const { dir, wals } = twoWals();
      const intact = await openRocksDb(dir);
      assert.equal(await drain(intact), 201);
      const size = readFileSync(wals[1]).length;
      truncateSync(wals[1], size - 3); // cuts the last batch (put zz)
      const db = await openRocksDb(dir);
      assert.equal(await drain(db), 200);
      assert.equal(await db.get('default', Buffer.from('zz')), null);
      assert.equal(await drain(db, 'c1'), 100);
    });
  });
});
