/**
 * The reader against databases written by real RocksDB (Debian librocksdb) through
 * test/fixtures-writer/rocks-writer.cc: every live pair must equal what RocksDB's own iterator
 * dumped, for each format_version / checksum / compression / index knob.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { shortLivedBytesNoted } from '../../src/core/gc-pacing.js';
import { openRocksDb, type Comparator, type RocksDb } from '../../src/snapshot/rocks/db.js';
import { UnsupportedEntryError } from '../../src/snapshot/rocks/merge.js';
import { Table } from '../../src/snapshot/rocks/sst/table.js';
import { cleanup, dumpValue, writeDb, type DumpedCf } from './writer.js';

const reverse: Comparator = {
  name: 'test.ReverseBytewiseComparator',
  compare: (a, b) => Buffer.compare(b, a),
};

const works: string[] = [];
after(() => works.forEach(cleanup));

async function readAll(db: RocksDb, cf: string): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const kv of db.scan(cf)) out.push([kv.key.toString('hex'), dumpValue(kv.value)]);
  return out;
}

async function assertSameAsRocksDb(dir: string, dump: DumpedCf[]): Promise<RocksDb> {
  const db = await openRocksDb(dir, { comparators: [reverse] });
  assert.deepEqual(
    db.columnFamilies(),
    dump.map((c) => c.name),
  );
  for (const cf of dump) {
    const got = await readAll(db, cf.name);
    assert.equal(got.length, cf.pairs.length, `CF ${cf.name}: pair count`);
    assert.deepEqual(got, cf.pairs, `CF ${cf.name}: pairs`);
  }
  return db;
}

/**
 * A history that leaves: overwritten keys across a deeper level, L0 files and the WAL; deletes,
 * single deletes and range deletions in SSTs and in the WAL; two CFs besides default.
 */
function history(opts: string[]): string[] {
  return [
    ...opts,
    'cf rev reverse',
    'cf side',
    'open',
    'putn default k 0 600 24 1',
    'putn rev r 0 400 12 2',
    'put side s1 one',
    'flush',
    'compact default 2',
    'compact rev 1',
    'putn default k 100 150 40 3',
    'del default k00000005',
    'sdel default k00000007',
    'delrange default k00000300 k00000350',
    'deln rev r 10 20 3',
    'flush',
    'putn default k 500 60 8 4',
    'put side s2 two',
    'flush default',
    // only in the WAL from here on
    'putn default k 550 20 16 5',
    'del default k00000401',
    'delrange default k00000010 k00000020',
    'put rev r00000999 last',
    'dump',
    'close',
  ];
}

interface Knobs {
  fv: number;
  checksum: 'crc32c' | 'xxhash' | 'xxhash64' | 'xxh3';
  compression: 'none' | 'snappy' | 'zlib' | 'lz4' | 'lz4hc' | 'zstd';
  index?: 'binary' | 'two_level' | 'first_key';
  extra?: string[];
}

const CHECKSUM_CODE = { crc32c: 1, xxhash: 2, xxhash64: 3, xxh3: 4 } as const;
const COMPRESSION_CODE = { none: 0, snappy: 1, zlib: 2, lz4: 4, lz4hc: 5, zstd: 7 } as const;
const INDEX_CODE = { binary: 0, two_level: 2, first_key: 3 } as const;

const matrix: Array<{ name: string; k: Knobs }> = [
  { name: 'fv2 crc32c none (A/B-like)', k: { fv: 2, checksum: 'crc32c', compression: 'none' } },
  { name: 'fv2 crc32c snappy', k: { fv: 2, checksum: 'crc32c', compression: 'snappy' } },
  { name: 'fv3 xxhash64 zlib', k: { fv: 3, checksum: 'xxhash64', compression: 'zlib' } },
  { name: 'fv4 xxhash lz4 two-level', k: { fv: 4, checksum: 'xxhash', compression: 'lz4', index: 'two_level', extra: ['metadata_block_size 128'] } },
  { name: 'fv4 crc32c lz4hc', k: { fv: 4, checksum: 'crc32c', compression: 'lz4hc' } },
  { name: 'fv5 xxh3 zstd', k: { fv: 5, checksum: 'xxh3', compression: 'zstd' } },
  { name: 'fv5 xxh3 snappy with bloom filters (C/D-like)', k: { fv: 5, checksum: 'xxh3', compression: 'snappy', extra: ['bloom 1'] } },
  { name: 'fv5 xxh3 snappy two-level partitioned', k: { fv: 5, checksum: 'xxh3', compression: 'snappy', index: 'two_level', extra: ['metadata_block_size 256', 'bloom 1'] } },
  { name: 'fv5 delta-encoded index handles (index restart 4)', k: { fv: 5, checksum: 'xxh3', compression: 'none', extra: ['index_restart_interval 4'] } },
  { name: 'fv5 index with first keys', k: { fv: 5, checksum: 'crc32c', compression: 'zlib', index: 'first_key' } },
  { name: 'fv3 restart interval 1, two-level', k: { fv: 3, checksum: 'crc32c', compression: 'zstd', index: 'two_level', extra: ['restart_interval 1', 'metadata_block_size 64'] } },
];

/** Checks from the files themselves that the writer's knobs took effect (so the test tests them). */
async function assertKnobs(db: RocksDb, k: Knobs): Promise<void> {
  const files = db.columnFamilies().flatMap((cf) => db.liveFiles(cf));
  assert.ok(files.length >= 4, 'several SSTs were written');
  const seen = new Set<number>();
  for (const f of files) {
    const t = await Table.open(f.path, f.size);
    try {
      assert.equal(t.footer.formatVersion, k.fv, 'format_version');
      assert.equal(t.footer.checksumType, CHECKSUM_CODE[k.checksum], 'checksum type');
      assert.equal(t.props.indexType, INDEX_CODE[k.index ?? 'binary'], 'index type');
      for (const type of await dataBlockCompressions(t)) seen.add(type);
    } finally {
      await t.close();
    }
  }
  assert.ok(seen.has(COMPRESSION_CODE[k.compression]), `some data block uses ${k.compression} (saw ${[...seen]})`);
}

async function dataBlockCompressions(t: Table): Promise<number[]> {
  const out: number[] = [];
  const top = await t.readIndexBlock(t.indexHandle, false);
  const handles: Array<{ offset: number; size: number }> = [];
  while (top.next()) {
    const h = { offset: top.handleOffset, size: top.handleSize };
    if (t.props.indexType !== 2) handles.push(h);
    else {
      const part = await t.readIndexBlock(h, false);
      while (part.next()) handles.push({ offset: part.handleOffset, size: part.handleSize });
    }
  }
  for (const h of handles) out.push((await t.file.read(h.offset + h.size, 1, false))[0]);
  return out;
}

describe('reads what real RocksDB wrote', () => {
  for (const m of matrix) {
    it(`matches RocksDB's own iteration: ${m.name}`, async () => {
      const { k } = m;
      const opts = [`format_version ${k.fv}`, `checksum ${k.checksum}`, `compression ${k.compression}`];
      if (k.index) opts.push(`index ${k.index}`);
      opts.push(...(k.extra ?? []), 'block_size 512');
      const { dir, dump, work } = writeDb(history(opts.map((o) => `option ${o}`)));
      works.push(work);
      const db = await assertSameAsRocksDb(dir, dump);
      await assertKnobs(db, k);
    });
  }

  it('keeps every value handed out intact while the read-ahead windows are reused (SSTs of several MiB)', async () => {
    // The reader recycles its 1 MiB windows: values are held here until the end of the scan, so a
    // value left as a view into a window (an uncompressed block, one straddling two windows) shows.
    for (const compression of ['none', 'snappy']) {
      const { dir, dump, work } = writeDb([
        `option compression ${compression}`,
        'option block_size 3001',
        'open',
        'putn default k 0 6000 700 7',
        'flush',
        'dump',
        'close',
      ]);
      works.push(work);
      const db = await openRocksDb(dir);
      const held: Array<[Buffer, Buffer]> = [];
      const noted = shortLivedBytesNoted();
      for await (const kv of db.scan('default')) held.push([kv.key, kv.value]);
      await db.close();
      assert.ok(db.liveFiles('default').length >= 1);
      // Each block handed on (decompressed, or copied out of its window) is noted for core/gc-pacing.ts.
      assert.ok(shortLivedBytesNoted() - noted >= 6000 * 700, `blocks noted: ${shortLivedBytesNoted() - noted} bytes (${compression})`);
      assert.deepEqual(
        held.map(([k, v]) => [k.toString('hex'), dumpValue(v)]),
        dump[0].pairs,
        `compression ${compression}`,
      );
    }
  });

  it('reads L0 files that do not overlap back to back, one open at a time, and overlapping ones side by side', async () => {
    // Four flushes of keys in order (ranges apart), a fifth over two of them, in a CF of each order.
    const { dir, dump, work } = writeDb([
      'option block_size 512',
      'cf rev reverse',
      'open',
      ...[0, 100, 200, 300].flatMap((from, i) => [`putn default k ${from} 100 20 ${i}`, `putn rev r ${from} 100 20 ${i}`, 'flush']),
      'putn default k 150 100 30 9',
      'putn rev r 150 100 30 9',
      'flush',
      'dump',
      'close',
    ]);
    works.push(work);
    const open = Table.open.bind(Table);
    let live = 0;
    let most = 0;
    const spy = async (...a: Parameters<typeof Table.open>): Promise<Table> => {
      const t = await open(...a);
      live++;
      most = Math.max(most, live);
      const close = t.close.bind(t);
      t.close = async () => {
        live--;
        await close();
      };
      return t;
    };
    Table.open = spy;
    try {
      const db = await openRocksDb(dir, { comparators: [reverse] });
      // Range deletions are gathered from every file first, one at a time: only the scans count.
      for (const cf of dump) {
        await readAll(db, cf.name);
        most = 0;
        assert.deepEqual(await readAll(db, cf.name), cf.pairs, `CF ${cf.name}: pairs`);
        assert.equal(db.liveFiles(cf.name).filter((f) => f.level === 0).length, 5, `CF ${cf.name}: five L0 files`);
        assert.equal(most, 2, `CF ${cf.name}: the fifth file beside one run of the four others`);
        const from = cf.name === 'rev' ? 'r00000260' : 'k00000260';
        const tail: string[] = [];
        for await (const kv of db.scan(cf.name, { from: Buffer.from(from) })) tail.push(kv.key.toString('hex'));
        const beyond = (k: string): boolean => (cf.name === 'rev' ? Buffer.from(k, 'hex').toString() <= from : Buffer.from(k, 'hex').toString() >= from);
        assert.deepEqual(tail, cf.pairs.map(([k]) => k).filter(beyond), `CF ${cf.name}: seek`);
      }
      await db.close();
    } finally {
      Table.open = open;
    }
  });

  it('keeps only the newest version when a snapshot kept old versions in one SST', async () => {
    const { dir, dump, work } = writeDb([
      'option block_size 256',
      'open',
      'snapshot',
      'putn default k 0 200 10 1',
      'putn default k 0 200 12 2',
      'deln default k 0 50 2',
      'putn default k 0 10 14 3',
      'delrange default k00000100 k00000150',
      'flush',
      'dump',
      'close',
    ]);
    works.push(work);
    const db = await assertSameAsRocksDb(dir, dump);
    const files = db.liveFiles('default');
    assert.equal(files.length, 1, 'one L0 file holds all versions');
  });

  it('reads a database whose data lives only in the WAL (closed without flush)', async () => {
    const { dir, dump, work } = writeDb([
      'cf c1',
      'open',
      'putn default a 0 1000 30 1',
      'putn c1 b 0 500 30 2',
      'del default a00000003',
      'delrange c1 b00000010 b00000400',
      'dump',
      'close',
    ]);
    works.push(work);
    const db = await assertSameAsRocksDb(dir, dump);
    assert.equal(db.liveFiles('default').length, 0);
    assert.equal(dump[0].pairs.length, 999);
  });

  it('orders a CF by its custom comparator and finds keys with get()', async () => {
    const { dir, dump, work } = writeDb([
      'cf rev reverse',
      'open',
      'put rev a 1',
      'put rev c 3',
      'flush',
      'put rev b 2',
      'put rev x:00ff 4',
      'dump',
      'close',
    ]);
    works.push(work);
    const db = await assertSameAsRocksDb(dir, dump);
    assert.deepEqual(dump[1].pairs.map(([k]) => Buffer.from(k, 'hex').toString('latin1')), ['c', 'b', 'a', '\x00\xff']);
    assert.equal(db.comparatorName('rev'), 'test.ReverseBytewiseComparator');
    assert.equal((await db.get('rev', Buffer.from('b')))?.toString(), '2');
    assert.equal((await db.get('rev', Buffer.from('a')))?.toString(), '1');
    assert.equal(await db.get('rev', Buffer.from('bb')), null);
    const from: string[] = [];
    for await (const kv of db.scan('rev', { from: Buffer.from('bz') })) from.push(kv.key.toString('latin1'));
    assert.deepEqual(from, ['b', 'a', '\x00\xff']);
    const plain = await openRocksDb(dir);
    assert.throws(() => plain.scan('rev'), /test\.ReverseBytewiseComparator.*not known/);
  });

  it('returns multi-megabyte values whole', async () => {
    const { dir, dump, work } = writeDb([
      'option compression snappy',
      'open',
      'bigput default big1 5000000 7',
      'put default small v',
      'flush',
      'bigput default big2 3500000 8',
      'dump',
      'close',
    ]);
    works.push(work);
    const db = await assertSameAsRocksDb(dir, dump);
    const v = await db.get('default', Buffer.from('big1'));
    assert.equal(v?.length, 5000000);
  });

  it('seeks with from and get() across levels, L0 and the WAL', async () => {
    const { dir, dump, work } = writeDb([...history(['option block_size 300', 'option compression lz4'])]);
    works.push(work);
    const db = await assertSameAsRocksDb(dir, dump);
    const live = new Map(dump[0].pairs);
    for (const i of [0, 5, 7, 12, 99, 100, 101, 320, 401, 449, 510, 555, 599, 650]) {
      const k = Buffer.from(`k${String(i).padStart(8, '0')}`);
      const v = await db.get('default', k);
      const want = live.get(k.toString('hex'));
      assert.equal(v === null ? undefined : dumpValue(v), want, `get ${k}`);
    }
    const tail: string[] = [];
    for await (const kv of db.scan('default', { from: Buffer.from('k00000298') })) tail.push(kv.key.toString('hex'));
    const want = dump[0].pairs.map(([k]) => k).filter((k) => Buffer.from(k, 'hex').toString() >= 'k00000298');
    assert.deepEqual(tail, want);
  });

  it('reports merge operands as unsupported', async () => {
    const { dir, work } = writeDb(['cf m merge', 'open', 'put m a 1', 'merge m a 2', 'close']);
    works.push(work);
    const db = await openRocksDb(dir);
    await assert.rejects(async () => {
      for await (const _ of db.scan('m')) void _;
    }, UnsupportedEntryError);
  });

  it('reads a checkpoint taken while the database was open', async () => {
    const { dump, work } = writeDb([
      'cf c1',
      'open',
      'putn default a 0 300 10 1',
      'flush',
      'putn default a 100 300 11 2',
      'putn c1 z 0 50 5 3',
      'dump',
      'checkpoint {work}/ckpt',
      'close',
    ]);
    works.push(work);
    await assertSameAsRocksDb(join(work, 'ckpt'), dump);
  });
});
