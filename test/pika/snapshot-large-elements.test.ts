/**
 * A hash field's value or a list element of several MiB (dumps written by real RocksDB, through
 * the fixture writer; A–C uncompressed and snappy, D): the reader leaves it in its file and hands
 * it on in records of one piece each (`piece` saying where it lies), between the key's other
 * chunks and in their order, the key's last record still the one that says `last`, the expiry on
 * every record, the element counted once against the meta.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/core/log.js';
import type { SnapshotRecord } from '../../src/core/record.js';
import { loadSnapshot } from '../../src/daemon/load-snapshot.js';
import { readSnapshotBatches } from '../../src/snapshot/pika/snapshot.js';
import { startRedis } from '../helpers/redis.js';
import { poolFor } from '../sink/support.js';
import { writePikaDump, type DumpDesc } from './pika-dump-writer.js';

const MiB = 1 << 20;
// Whole seconds (A–C keep seconds), and now: the load test writes the expiry into Redis.
const NOW = Math.floor(Date.now() / 1000) * 1000;
const EXPIRE_AT = NOW + 3_600_000;

/** `n` bytes of words (latin1): snappy shrinks them, so RocksDB keeps the big block compressed. */
function words(n: number, seed: number): string {
  const vocabulary = ['pika', 'redis', 'rocks', 'binlog', 'snapshot', 'replica', 'offset', 'slot', 'key', 'value'];
  let x = seed;
  let out = '';
  while (out.length < n) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out += `${vocabulary[x % vocabulary.length]}${x >>> 28} `;
  }
  return out.slice(0, n);
}

const BIG_FIELD = words(6 * MiB + 5, 1);
const BIG_ELEMENT = words(5 * MiB + 3, 2);

/** A key's value as Redis will hold it, rebuilt from its records; a piece must continue its element. */
function rebuild(recs: readonly SnapshotRecord[]): { fields: Map<string, string>; elements: string[] } {
  const fields = new Map<string, string>();
  const elements: string[] = [];
  for (const r of recs) {
    if (r.type === 'hash') {
      if (r.piece !== undefined) assert.equal(r.fields.length, 1, 'a piece is a record of its own');
      for (const [f, v] of r.fields) {
        const name = f.toString('latin1');
        const sofar: string = r.piece !== undefined && r.piece.offset > 0 ? fields.get(name)! : '';
        assert.equal(sofar.length, r.piece?.offset ?? 0, 'pieces come in order');
        fields.set(name, sofar + v.toString('latin1'));
      }
    } else if (r.type === 'list') {
      if (r.piece !== undefined) assert.equal(r.elements.length, 1, 'a piece is a record of its own');
      for (const e of r.elements) {
        if (r.piece !== undefined && r.piece.offset > 0) {
          assert.equal(elements[elements.length - 1].length, r.piece.offset, 'pieces come in order');
          elements[elements.length - 1] += e.toString('latin1');
        } else {
          elements.push(e.toString('latin1'));
        }
      }
    }
  }
  return { fields, elements };
}

const cases: Array<[string, DumpDesc['family'], string]> = [
  ['A–C, uncompressed', 'A-C', 'none'],
  ['A–C, snappy', 'A-C', 'snappy'],
  ['D (4.0)', 'D', 'none'],
];

for (const [title, family, compression] of cases) {
  describe(`a hash field value and a list element of several MiB (${title})`, () => {
    let work: string;
    let db0: string;
    let records: SnapshotRecord[];
    const warnings: string[] = [];

    before(async () => {
      work = mkdtempSync(join(tmpdir(), 'pm-large-elements-'));
      db0 = writePikaDump(
        {
          family,
          options: { compression, write_buffer_size: 134217728 },
          keys: [
            { name: 'h', type: 'hash', value: { a: '1', big: BIG_FIELD, z: '2' }, expireAt: EXPIRE_AT },
            { name: 'l', type: 'list', value: ['first', BIG_ELEMENT, 'last'], expireAt: EXPIRE_AT },
            { name: 'small', type: 'hash', value: { f: 'v' } },
          ],
        },
        work,
        NOW,
      );
      records = [];
      for await (const batch of readSnapshotBatches(db0, { db: 0, nowMs: NOW, chunkSize: 512, chunkBytes: MiB, onWarning: (k, t, m) => warnings.push(`${k} ${t} ${m}`) })) {
        records.push(...batch);
      }
    });
    after(() => rmSync(work, { recursive: true, force: true }));

    const of = (name: string) => records.filter((r) => r.key.toString() === name);

    for (const [name, type, pieces] of [['h', 'hash', 7], ['l', 'list', 6]] as const) {
      it(`${type}: the big ${type === 'hash' ? 'field value' : 'element'} comes in ${pieces} records of one piece, between the others, in order`, () => {
        const recs = of(name);
        assert.ok(recs.every((r) => r.type === type && r.expireAtMs === (family === 'D' ? EXPIRE_AT : Math.floor(EXPIRE_AT / 1000) * 1000)));
        assert.deepEqual(recs.map((r) => r.first), recs.map((_, i) => i === 0));
        assert.deepEqual(recs.map((r) => r.last), recs.map((_, i) => i === recs.length - 1));
        const seqs = recs.map((r) => (r.pos as { seq: number }).seq);
        assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), 'a position each, in a row');
        const withPiece = recs.filter((r) => (r.type === 'hash' || r.type === 'list') && r.piece !== undefined);
        assert.equal(withPiece.length, pieces);
        const total = type === 'hash' ? BIG_FIELD.length : BIG_ELEMENT.length;
        assert.ok(withPiece.every((r) => (r as { piece: { total: number } }).piece.total === total));
        const v = rebuild(recs);
        if (type === 'hash') assert.deepEqual(v.fields, new Map([['a', '1'], ['big', BIG_FIELD], ['z', '2']]));
        else assert.deepEqual(v.elements, ['first', BIG_ELEMENT, 'last']);
      });
    }

    it('loads into Redis exactly (staged, moved in), counting each big element once', async () => {
      const r = await startRedis();
      const pool = await poolFor(r, { senders: 3, batchSize: 4 });
      try {
        const s = await loadSnapshot({ dir: db0, db: 0, pool, logger: silentLogger(), chunkSize: 512, conflict: 'merge', bar: null, nowMs: NOW });
        await pool.flush();
        assert.equal(s.done, 3);
        assert.equal(s.counts.elements, 7, 'a, big, z; first, big, last; f');
        const c = r.client();
        assert.deepEqual(await c.hgetall('h'), { a: '1', big: BIG_FIELD, z: '2' });
        assert.deepEqual(await c.lrange('l', 0, -1), ['first', BIG_ELEMENT, 'last']);
        assert.deepEqual(await c.hgetall('small'), { f: 'v' });
        assert.deepEqual(await c.keys('pika-migrate:staging*'), []);
      } finally {
        await pool.close();
        await r.stop();
      }
    });

    it('counts the big element once against the meta, and reads the keys after it as usual', () => {
      assert.deepEqual(warnings, []);
      assert.deepEqual(rebuild(of('small')).fields, new Map([['f', 'v']]));
      assert.ok(records.every((r) => (r.type !== 'hash' && r.type !== 'list') || r.piece === undefined || (r.type === 'hash' ? r.fields[0][1] : r.elements[0]).length <= MiB));
    });
  });
}
