/**
 * The reader on the real Pika dumps (3.2.7 / 3.3.6 on RocksDB 5.9.2, 3.5.5 / 4.0.1 on 7.8.3):
 * every CF of every DB scans in its comparator's order, every entry of every bytewise SST equals
 * sst_dump's scan, the strings match expected.json, and the 1M-strings dump yields its exact
 * million keys.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pikaComparators } from '../../src/snapshot/pika/comparators.js';
import { openRocksDb, type Comparator, type RocksDb } from '../../src/snapshot/rocks/db.js';
import { Table } from '../../src/snapshot/rocks/sst/table.js';
import { realDbDirs, SNAPSHOTS } from './writer.js';

/**
 * blackwidow.ZSetsScoreKeyComparator exactly as the C++ (storage.md §2.2): scores compared with
 * `<` both ways, so a NaN score counts as equal and the member decides. 3.2.7/3.3.6 dumps hold a
 * NaN score (0xfff8…), where pika/comparators.ts answers 1 for both argument orders.
 */
const faithfulZsetScore: Comparator = {
  name: 'blackwidow.ZSetsScoreKeyComparator',
  compare(a, b) {
    const ap = Math.min(a.length, 8 + a.readUInt32LE(0));
    const bp = Math.min(b.length, 8 + b.readUInt32LE(0));
    const c = Buffer.compare(a.subarray(0, ap), b.subarray(0, bp));
    if (c !== 0) return c;
    const sa = a.readDoubleLE(ap);
    const sb = b.readDoubleLE(bp);
    if (sa < sb) return -1;
    if (sa > sb) return 1;
    return Buffer.compare(a.subarray(ap + 8), b.subarray(bp + 8));
  },
};

function nanScore(k: Buffer): boolean {
  const p = 8 + k.readUInt32LE(0);
  return k.length >= p + 8 && Number.isNaN(k.readDoubleLE(p));
}

const comparators: Comparator[] = [...pikaComparators, faithfulZsetScore];

async function open(dir: string): Promise<RocksDb> {
  return openRocksDb(dir, { comparators });
}

function cmpOf(name: string): Comparator {
  return [...comparators].reverse().find((c) => c.name === name) ?? { name, compare: (a, b) => Buffer.compare(a, b) };
}

describe('real Pika dumps', () => {
  const dirs = realDbDirs();

  for (const dir of dirs) {
    it(`scans every CF of ${dir.slice(SNAPSHOTS.length + 1)} in comparator order, one version per key`, async () => {
      const db = await open(dir);
      for (const cf of db.columnFamilies()) {
        const cmp = cmpOf(db.comparatorName(cf));
        let prev: Buffer | null = null;
        let n = 0;
        for await (const batch of db.scanBatches(cf)) {
          for (const kv of batch) {
            // a NaN score makes the zset score order non-transitive: RocksDB's own skiplist then
            // wrote such keys in no consistent order, so only pairs without NaN are checked
            if (prev && !(cmp.name === faithfulZsetScore.name && (nanScore(prev) || nanScore(kv.key)))) {
              assert.ok(cmp.compare(prev, kv.key) < 0, `${cf}: keys strictly ascending at #${n}`);
            }
            prev = kv.key;
            n++;
          }
        }
        // a dump's CF is flush output: live pairs = entries − deletions when it is one file, less
        // the entries the comparator calls equal to their predecessor (only NaN zset scores do)
        const files = db.liveFiles(cf);
        if (files.length === 1) {
          const t = await Table.open(files[0].path, files[0].size);
          const entries = t.props.numEntries ?? 0;
          const raw = t.props.raw.get('rocksdb.deleted.keys');
          const deleted = raw ? raw.readUIntLE(0, 1) & 0x7f : 0;
          let collapsed = 0;
          let last: Buffer | null = null;
          const it = t.iterator(cmp);
          for (await it.seek(); it.valid; ) {
            const k = Buffer.from(it.key.subarray(0, it.klen - 8));
            if (last && cmp.compare(last, k) === 0) collapsed++;
            last = k;
            const p = it.next();
            if (p) await p;
          }
          await t.close();
          if (collapsed > 0) assert.equal(cmp.name, faithfulZsetScore.name, `${cf}: equal neighbours`);
          assert.equal(n, entries - deleted - collapsed, `${cf}: live pairs vs rocksdb.num.entries − deleted.keys`);
        }
        if (files.length === 0) assert.equal(n, 0);
      }
    });
  }

  it('decodes every entry of every bytewise SST exactly as sst_dump scans it', async () => {
    let files = 0;
    // the 1M-strings SST is left to the exact-content test below (its sst_dump runs for seconds)
    for (const dir of dirs.filter((d) => !d.includes('1m-strings'))) {
      const db = await open(dir);
      for (const cf of db.columnFamilies()) {
        if (db.comparatorName(cf) !== 'leveldb.BytewiseComparator') continue; // sst_dump aborts on others
        for (const f of db.liveFiles(cf)) {
          const oracle = execFileSync('sst_dump', [`--file=${f.path}`, '--command=scan', '--output_hex'], {
            encoding: 'latin1',
            maxBuffer: 256 << 20,
          })
            .split('\n')
            .filter((l) => l.startsWith("'"));
          const ours: string[] = [];
          const t = await Table.open(f.path, f.size);
          const it = t.iterator(cmpOf('leveldb.BytewiseComparator'));
          for (await it.seek(); it.valid; ) {
            const k = it.key;
            const ulen = it.klen - 8;
            const seq = k.readUInt32LE(ulen + 4) * 0x1000000 + (k.readUInt32LE(ulen) >>> 8);
            const hex = (b: Buffer) => b.toString('hex').toUpperCase();
            ours.push(`'${hex(k.subarray(0, ulen))}' seq:${seq}, type:${k[ulen]} => ${hex(it.value())}`);
            const p = it.next();
            if (p) await p;
          }
          await t.close();
          assert.deepEqual(ours, oracle, f.path);
          files++;
        }
      }
    }
    assert.ok(files >= 30, `compared ${files} SSTs`);
  });

  it('yields the live strings of 4.0.1 (meta CF, type 0) exactly as expected.json lists them', async () => {
    const expected = readExpected('4.0.1');
    const want = new Map<string, string>();
    for (const [name, k] of Object.entries(expected.keys)) {
      const s = k.types.string;
      if (s) want.set(textOrHex(name).toString('hex'), textOrHex(s.v as string).toString('hex'));
    }
    const got = new Map<string, string>();
    for (const inst of ['0', '1', '2']) {
      const db = await open(join(SNAPSHOTS, '4.0.1-base', 'dump', 'db0', inst));
      for await (const kv of db.scan('default')) {
        if (kv.value[0] !== 0) continue; // not a string meta
        // key = 8 zero bytes ‖ key (no NUL in this workload) ‖ 00 00 ‖ 16 zero bytes
        const name = kv.key.subarray(8, kv.key.length - 18);
        // value = 0 ‖ value ‖ 16 reserved ‖ ctime ‖ etime (ms | 2^63, 0 = none)
        const v = kv.value;
        const etimeHi = v.readUInt32LE(v.length - 4);
        const etime = (etimeHi & 0x7fffffff) * 0x100000000 + v.readUInt32LE(v.length - 8);
        const etimeMs = etimeHi & 0x80000000 ? etime : etime * 1000;
        if (etime !== 0 && etimeMs < expected.at) continue;
        got.set(name.toString('hex'), v.subarray(1, v.length - 32).toString('hex'));
      }
    }
    assert.equal(got.size, want.size);
    assert.deepEqual(got, want);
  });

  for (const version of ['3.2.7', '3.3.6', '3.5.5']) {
    it(`yields the live strings of ${version} exactly as expected.json lists them`, async () => {
      const expected = readExpected(version);
      const want = new Map<string, string>();
      for (const [name, k] of Object.entries(expected.keys)) {
        const s = k.types.string;
        if (s) want.set(textOrHex(name).toString('hex'), textOrHex(s.v as string).toString('hex'));
      }
      const db = await open(join(SNAPSHOTS, `${version}-base`, 'dump', 'db0', 'strings'));
      const got = new Map<string, string>();
      const nowSec = expected.at / 1000;
      for await (const kv of db.scan('default')) {
        // A–C string value = value ‖ expire:i32 LE (seconds, 0 = none)
        const expire = kv.value.readInt32LE(kv.value.length - 4);
        if (expire !== 0 && expire < nowSec) continue;
        got.set(kv.key.toString('hex'), kv.value.subarray(0, kv.value.length - 4).toString('hex'));
      }
      assert.equal(got.size, want.size);
      assert.deepEqual(got, want);
    });
  }

  it('yields exactly the million keys of the 1M-strings dump with their values', async () => {
    const db = await open(join(SNAPSHOTS, '3.2.7-1m-strings', 'dump', 'db0', 'strings'));
    let i = 0;
    for await (const batch of db.scanBatches('default')) {
      for (const kv of batch) {
        const key = `k:${String(i).padStart(7, '0')}`;
        if (kv.key.toString('latin1') !== key) assert.fail(`#${i}: key ${kv.key.toString('latin1')}, want ${key}`);
        const want = `val-${String((i * 7919) % 1e11).padStart(11, '0')}`;
        const v = kv.value;
        if (v.toString('latin1', 0, v.length - 4) !== want || v.readInt32LE(v.length - 4) !== 0) {
          assert.fail(`#${i}: value ${v.toString('hex')}, want ${want} ‖ 00000000`);
        }
        i++;
      }
    }
    assert.equal(i, 1_000_000);
    assert.equal((await db.get('default', Buffer.from('k:0999999')))?.toString('latin1', 0, 15), 'val-07918992081');
    assert.equal(await db.get('default', Buffer.from('k:1000000')), null);
  });
});

interface Expected {
  at: number;
  keys: Record<string, { types: Record<string, { v: unknown }> }>;
}

function readExpected(version: string): Expected {
  return JSON.parse(readFileSync(join(SNAPSHOTS, `${version}-base`, 'expected.json'), 'utf8')) as Expected;
}

function textOrHex(s: string): Buffer {
  return s.startsWith('hex:') ? Buffer.from(s.slice(4), 'hex') : Buffer.from(s, 'utf8');
}
