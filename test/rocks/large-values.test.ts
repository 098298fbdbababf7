/**
 * Values of several MiB written by real RocksDB: a block of 4 MiB or more, stored uncompressed or
 * compressed by snappy, LZ4, zlib or zstd, is not read whole; its big value stays in the file
 * (LargeValue) and is read in pieces, after the block's checksum was verified in pieces.
 * Everything is compared with RocksDB's own iteration (the writer's dump: length and FNV-1a of
 * each big value).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CorruptionError } from '../../src/core/errors.js';
import { openRocksDb, type KeyValue } from '../../src/snapshot/rocks/db.js';
import { readLargeValue, type LargeValue } from '../../src/snapshot/rocks/large-value.js';
import { cleanup, dumpValue, writeDb, type DumpedCf } from './writer.js';

const works: string[] = [];
after(() => works.forEach(cleanup));

const BIG = 9 << 20;
const BIGGER = 5 << 20;

/** Small keys around two big values (`b` right after small ones in the same block, `d` alone). */
function dbWith(checksum: string, compression = 'none', values = compression === 'none' ? 'random' : 'text'): { dir: string; dump: DumpedCf[] } {
  const { dir, dump, work } = writeDb([
    'option format_version 5',
    `option checksum ${checksum}`,
    `option compression ${compression}`,
    // Words, so that the codec shrinks the big blocks enough for RocksDB to keep them compressed.
    `option values ${values}`,
    'option write_buffer_size 134217728',
    'open',
    'putn default a 0 40 20 1',
    `bigput default b ${BIG} 7`,
    'putn default c 0 40 20 2',
    `bigput default d ${BIGGER} 8`,
    'putn default e 0 5 20 3',
    'flush',
    'dump',
    'close',
  ]);
  works.push(work);
  return { dir, dump };
}

const largeEntry = (key: Buffer, large: LargeValue): KeyValue => ({ key, value: Buffer.alloc(0), large });

/** Every pair of the scan, big values read back in 1 MiB pieces; and which keys came as LargeValues. */
async function scanAll(dir: string, makeLarge: boolean): Promise<{ pairs: Array<[string, string]>; large: string[] }> {
  const db = await openRocksDb(dir);
  const pairs: Array<[string, string]> = [];
  const large: string[] = [];
  try {
    for await (const batch of db.scanBatches('default', makeLarge ? { makeLarge: largeEntry } : {})) {
      for (const e of batch) {
        let v = e.value;
        if (e.large !== undefined) {
          large.push(e.key.toString('latin1'));
          const parts: Buffer[] = [];
          for (let at = 0; at < e.large.length; at += 1 << 20) parts.push(await readLargeValue(e.large, at, Math.min(1 << 20, e.large.length - at)));
          v = Buffer.concat(parts);
        }
        pairs.push([e.key.toString('hex'), dumpValue(v)]);
      }
    }
  } finally {
    await db.close();
  }
  return { pairs, large };
}

describe('values of several MiB', () => {
  for (const [checksum, compression] of [
    ['crc32c', 'none'],
    ['xxh3', 'none'],
    ['xxhash64', 'none'],
    ['crc32c', 'snappy'],
    ['xxh3', 'snappy'],
    ['crc32c', 'lz4'],
    ['crc32c', 'zlib'],
    ['xxh3', 'zstd'],
  ]) {
    it(`leaves them in the file and reads them in pieces, as RocksDB iterates them (${checksum}, ${compression})`, async () => {
      const { dir, dump } = dbWith(checksum, compression);
      if (compression !== 'none') assert.ok(sstBytes(dir) < 0.7 * (BIG + BIGGER), `the big blocks are stored compressed (${sstBytes(dir)} bytes)`);
      const expected = dump.find((c) => c.name === 'default')!.pairs;
      const streamed = await scanAll(dir, true);
      assert.deepEqual(streamed.pairs, expected);
      assert.deepEqual(streamed.large, ['b', 'd']);
      // A scan that takes no LargeValue gets them read whole.
      const whole = await scanAll(dir, false);
      assert.deepEqual(whole.pairs, expected);
      assert.deepEqual(whole.large, []);
    });
  }

  for (const compression of ['lz4', 'snappy', 'zlib', 'zstd']) {
    it(`a big value packed into a small block (one byte repeated, ${compression}) is found by the header the block declares, and streamed`, async () => {
      const { dir, dump } = dbWith('crc32c', compression, 'runs');
      assert.ok(sstBytes(dir) < 1 << 20, `the big blocks are small (${sstBytes(dir)} bytes)`);
      const streamed = await scanAll(dir, true);
      assert.deepEqual(streamed.pairs, dump.find((c) => c.name === 'default')!.pairs);
      assert.deepEqual(streamed.large, ['b', 'd']);
    });
  }

  it('seeks onto a big value and past it', async () => {
    const { dir } = dbWith('crc32c');
    const db = await openRocksDb(dir);
    try {
      const at = async (from: string): Promise<KeyValue[]> => {
        for await (const batch of db.scanBatches('default', { from: Buffer.from(from), batchSize: 2, makeLarge: largeEntry })) return batch;
        return [];
      };
      const [onB, next] = await at('b');
      assert.equal(onB.key.toString(), 'b');
      assert.equal(onB.large?.length, BIG);
      assert.equal(next.key.toString(), 'c00000000');
      const [onD] = await at('c00000039\x01');
      assert.equal(onD.key.toString(), 'd');
      assert.equal(onD.large?.length, BIGGER);
    } finally {
      await db.close();
    }
  });

  for (const [compression, flipAt, how] of [
    // `b`'s value is the first run of 9 MiB in the file: a byte in its middle.
    ['none', (buf: Buffer) => buf.indexOf(Buffer.from('b')) + (BIG >> 1), 'its checksum verified in pieces'],
    // `b`'s compressed block is the file's first MiBs: damage found while it is decoded as a stream
    // is reported by the whole-block read.
    ['snappy', () => 1 << 20, 'decoded as a stream'],
    ['lz4', () => 1 << 20, 'decoded as a stream'],
    ['zlib', () => 1 << 20, 'decoded as a stream'],
    ['zstd', () => 1 << 20, 'decoded as a stream'],
  ] as const) {
    it(`verifies the big block before handing anything of it on (${compression}: ${how}): a flipped byte deep in the value is a CorruptionError naming the block`, async () => {
      const { dir } = dbWith('crc32c', compression);
      const sst = join(dir, readdirSync(dir).find((f) => f.endsWith('.sst'))!);
      const buf = readFileSync(sst);
      buf[flipAt(buf)] ^= 0x20;
      writeFileSync(sst, buf);
      const db = await openRocksDb(dir);
      const seen: string[] = [];
      try {
        await assert.rejects(
          (async () => {
            for await (const batch of db.scanBatches('default', { makeLarge: largeEntry, batchSize: 1 })) for (const e of batch) seen.push(e.key.toString());
          })(),
          (e: unknown) => {
            assert.ok(e instanceof CorruptionError, String(e));
            assert.match(e.message, /data block checksum mismatch/);
            assert.match(e.where, new RegExp(`${sst.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}@\\d+$`));
            return true;
          },
        );
        assert.ok(!seen.includes('b'), 'nothing of the damaged block handed on');
      } finally {
        await db.close();
      }
    });
  }
});

const sstBytes = (dir: string): number =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.sst'))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
