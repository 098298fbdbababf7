/**
 * Strings of several MiB (a dump written by real RocksDB, uncompressed and snappy): the reader hands each
 * on in pieces of `chunkBytes`, read from the file one at a time, `first` on the first and `last` on
 * the final piece, with the string's expiry on every piece; an expired one is not read at all, and
 * a later type's probe of the name reads only the value's 4-byte expiry. 4.0 the same, from its
 * meta column family.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DataType, SnapshotRecord } from '../../src/core/record.js';
import { readSnapshotBatches } from '../../src/snapshot/pika/snapshot.js';
import { checkInstanceCount } from '../../src/snapshot/pika/instance-count.js';
import { openRocksDb, type KeyValue } from '../../src/snapshot/rocks/db.js';
import { dataPrefix, meta, writeDump3 } from '../../bench/datasets.js';
import { string3, writePikaDump, x } from './pika-dump-writer.js';
import { dumpValue, parseDump } from '../rocks/writer.js';

const MiB = 1 << 20;
const NOW = Date.UTC(2026, 0, 1);
const FUTURE_S = NOW / 1000 + 3600;
const PAST_S = NOW / 1000 - 3600;

for (const compression of ['none', 'snappy']) {
  describe(`A–C strings of several MiB (${compression})`, () => {
    let work: string;
    let dump: Map<string, string>;
    let records: SnapshotRecord[];
    const conflicts: Array<[string, DataType, DataType]> = [];

    before(async () => {
      work = mkdtempSync(join(tmpdir(), 'pm-large-strings-'));
      const db0 = join(work, 'db0');
      writeDump3(
        db0,
        {
          strings: [
            `option compression ${compression}`,
            // Words: snappy shrinks them enough for RocksDB to keep the big blocks compressed.
            `option values ${compression === 'none' ? 'random' : 'text'}`,
            'option write_buffer_size 134217728',
            'open',
            `putn default a 0 20 10 1 ${x(string3(Buffer.alloc(0)))}`,
            `putn default big 0 1 ${9 * MiB + 123} 7 ${x(string3(Buffer.alloc(0)))}`,
            `putn default big 1 1 ${5 * MiB} 8 ${x(string3(Buffer.alloc(0), FUTURE_S))}`,
            `putn default big 2 1 ${5 * MiB} 9 ${x(string3(Buffer.alloc(0), PAST_S))}`,
            `putn default z 0 20 10 2 ${x(string3(Buffer.alloc(0)))}`,
            'flush',
            `dump ${join(work, 'strings.dump')}`,
            'close',
          ],
          // The same names as hashes: the live big string wins big00000001, the expired one does not.
          hashes: [
            'cf data_cf',
            'open',
            `put default ${x(Buffer.from('big00000001'))} ${meta(1, 5)}`,
            `putn data_cf ${dataPrefix('big00000001', 5)} 0 1 16 3`,
            `put default ${x(Buffer.from('big00000002'))} ${meta(1, 6)}`,
            `putn data_cf ${dataPrefix('big00000002', 6)} 0 1 16 4`,
            'flush',
            'close',
          ],
        },
        work,
      );
      dump = new Map(parseDump(readFileSync(join(work, 'strings.dump'), 'latin1')).find((c) => c.name === 'default')!.pairs);
      records = [];
      for await (const batch of readSnapshotBatches(db0, {
        db: 0,
        nowMs: NOW,
        chunkSize: 512,
        chunkBytes: MiB,
        onTypeConflict: (key, loser, winner) => conflicts.push([key.toString(), loser, winner]),
      })) {
        records.push(...batch);
      }
    });
    after(() => rmSync(work, { recursive: true, force: true }));

    const of = (name: string) => records.filter((r) => r.key.toString() === name);

    for (const [name, size, expireS] of [['big00000000', 9 * MiB + 123, 0], ['big00000001', 5 * MiB, FUTURE_S]] as const) {
      it(`hands ${name} (${size} bytes) on in pieces of 1 MiB that add up to RocksDB's value`, () => {
        const pieces = of(name);
        assert.equal(pieces.length, Math.ceil(size / MiB));
        pieces.forEach((r, i) => {
          assert.equal(r.type, 'string');
          assert.equal(r.first, i === 0);
          assert.equal(r.last, i === pieces.length - 1);
          assert.equal(r.expireAtMs, expireS === 0 ? null : expireS * 1000);
          if (i > 0) assert.equal(r.pos.kind === 'snapshot' && r.pos.seq, (pieces[i - 1].pos as { seq: number }).seq + 1);
        });
        const value = Buffer.concat(pieces.map((r) => (r.type === 'string' ? r.value : Buffer.alloc(0))));
        assert.equal(value.length, size);
        assert.equal(dumpValue(string3(value, expireS)), dump.get(Buffer.from(name).toString('hex')));
      });
    }

    it('a read resumed at a big string gives its pieces again, at the same positions', async () => {
      const at = records.findIndex((r) => r.key.toString() === 'big00000001');
      const resumed: SnapshotRecord[] = [];
      for await (const batch of readSnapshotBatches(join(work, 'db0'), {
        db: 0,
        nowMs: NOW,
        chunkSize: 512,
        chunkBytes: MiB,
        from: { type: 'string', key: records[at].key, seq: (records[at].pos as { seq: number }).seq },
      })) {
        resumed.push(...batch);
      }
      const strip = (r: SnapshotRecord) => ({ ...r, value: r.type === 'string' ? r.value.length : 0 });
      assert.deepEqual(resumed.slice(0, 7).map(strip), records.slice(at, at + 7).map(strip));
      assert.ok(resumed[0].type === 'string' && records[at].type === 'string' && resumed[4].type === 'string' && resumed[4].value.equals((records[at + 4] as { value: Buffer }).value));
    });

    it('leaves out the expired one, keeps the small strings around them, and probes names against the big ones', () => {
      assert.equal(of('big00000002').filter((r) => r.type === 'string').length, 0);
      assert.equal(records.filter((r) => r.type === 'string' && r.value.length === 10).length, 40);
      // (writeDump3 adds the real 3.2.7 dump's lists and zsets, with a conflict of their own.)
      assert.deepEqual(conflicts.filter(([k]) => k.startsWith('big')), [['big00000001', 'hash', 'string']]);
      assert.deepEqual(
        records.filter((r) => r.type === 'hash').map((r) => r.key.toString()),
        ['big00000002'],
      );
    });
  });
}

describe('4.0 strings of several MiB', () => {
  let work: string;
  let records: SnapshotRecord[];
  // Bytes that do not compress, as latin1 text (the writer's value form).
  const value = (n: number, seed: number): string => {
    let x = seed;
    let out = '';
    for (let i = 0; i < n; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      out += String.fromCharCode(x >>> 24);
    }
    return out;
  };
  const big = value(6 * MiB + 5, 7);
  const expireAt = NOW + 3_600_000;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'pm-large-strings4-'));
    const db0 = writePikaDump(
      {
        family: 'D',
        instances: 2,
        options: { compression: 'none', write_buffer_size: 134217728 },
        keys: [
          { name: 'a', type: 'string', value: 'small' },
          { name: 'big', type: 'string', value: big, expireAt },
          { name: 'dead', type: 'string', value: value(5 * MiB, 9), expireAt: NOW - 1000, instance: 1 },
          { name: 'h', type: 'hash', value: { f: 'v' }, instance: 1 },
        ],
      },
      work,
      NOW,
    );
    records = [];
    for await (const batch of readSnapshotBatches(db0, { db: 0, nowMs: NOW, chunkSize: 512, chunkBytes: MiB })) records.push(...batch);
    dir0 = db0;
  });
  let dir0: string;
  after(() => rmSync(work, { recursive: true, force: true }));

  it('hands a big string on in pieces, leaves out an expired one, and keeps the keys around them', () => {
    const pieces = records.filter((r) => r.key.toString() === 'big');
    assert.equal(pieces.length, 7);
    pieces.forEach((r, i) => {
      assert.equal(r.first, i === 0);
      assert.equal(r.last, i === pieces.length - 1);
      assert.equal(r.expireAtMs, expireAt);
    });
    assert.equal(Buffer.concat(pieces.map((r) => (r.type === 'string' ? r.value : Buffer.alloc(0)))).toString('latin1'), big);
    assert.deepEqual(
      records.filter((r) => r.key.toString() !== 'big').map((r) => `${r.type} ${r.key}`),
      ['string a', 'hash h'],
    );
  });

  it('the instance-count check samples the meta keys without reading a big value (it read each whole before the load began)', async () => {
    const dbs = await Promise.all(['0', '1'].map((i) => openRocksDb(join(dir0, i))));
    const sampled: Array<{ key: string; valueBytes: number; large: boolean }> = [];
    for (const db of dbs) {
      const scan = db.scanBatches.bind(db);
      db.scanBatches = ((cf: string, opts: Parameters<typeof scan>[1]) =>
        (async function* () {
          for await (const batch of scan(cf, opts) as AsyncIterable<KeyValue[]>) {
            for (const e of batch) sampled.push({ key: e.key.toString('latin1'), valueBytes: e.value.length, large: e.large !== undefined });
            yield batch;
          }
        })()) as typeof db.scanBatches;
    }
    try {
      await checkInstanceCount(dbs, dir0);
    } finally {
      for (const db of dbs) await db.close();
    }
    const big = sampled.filter((e) => e.key.includes('big'));
    assert.equal(big.length, 1);
    assert.deepEqual(big[0], { key: big[0].key, valueBytes: 0, large: true });
    assert.ok(sampled.every((e) => e.valueBytes < MiB));
  });
});
