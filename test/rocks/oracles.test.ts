/**
 * MANIFEST and WAL decoders against Debian's `ldb manifest_dump` / `ldb dump_wal` on files written
 * by real RocksDB (the real Pika dumps, and databases from the fixture writer).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadManifest } from '../../src/snapshot/rocks/manifest.js';
import { readLogRecords } from '../../src/snapshot/rocks/log-reader.js';
import { decodeWriteBatch, type BatchOp } from '../../src/snapshot/rocks/write-batch.js';
import { cleanup, realDbDirs, SNAPSHOTS, writeDb } from './writer.js';

const works: string[] = [];
after(() => works.forEach(cleanup));

interface LdbCf {
  name: string;
  id: number;
  logNumber: number;
  comparator: string;
  files: string[];
}

/** Parses the summary part of `ldb manifest_dump` (no --verbose). */
function ldbManifest(path: string): { cfs: LdbCf[]; tail: Record<string, number> } {
  const text = execFileSync('ldb', ['manifest_dump', `--path=${path}`], { encoding: 'latin1' });
  const cfs: LdbCf[] = [];
  let cur: LdbCf | null = null;
  let level = 0;
  const tail: Record<string, number> = {};
  for (const line of text.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^-+ Column family "(.*)" +\(ID (\d+)\) -+$/.exec(line))) {
      cur = { name: m[1], id: Number(m[2]), logNumber: -1, comparator: '', files: [] };
      cfs.push(cur);
    } else if ((m = /^log number: (\d+)$/.exec(line)) && cur) cur.logNumber = Number(m[1]);
    else if ((m = /^comparator: <?([^,>]+)>?/.exec(line)) && cur) cur.comparator = m[1];
    else if ((m = /^--- level (\d+) ---/.exec(line))) level = Number(m[1]);
    else if ((m = /^ (\d+):(\d+)\[(\d+) \.\. (\d+)\]/.exec(line)) && cur) {
      cur.files.push(`L${level} #${m[1]} ${m[2]}B seq ${m[3]}..${m[4]}`);
    } else if (line.startsWith('next_file_number')) {
      const parts = line.trim().split(/\s+/);
      for (let i = 0; i + 1 < parts.length; i += 2) tail[parts[i]] = Number(parts[i + 1]);
    }
  }
  return { cfs, tail };
}

async function assertManifestLikeLdb(dir: string): Promise<void> {
  const state = await loadManifest(dir);
  const ldb = ldbManifest(state.manifestPath);
  const ours: LdbCf[] = [...state.columnFamilies.values()]
    .sort((a, b) => a.id - b.id)
    .map((cf) => ({
      name: cf.name,
      id: cf.id,
      logNumber: cf.logNumber,
      comparator: cf.comparator,
      files: [...cf.files.values()]
        .sort((a, b) => a.level - b.level || a.number - b.number)
        .map((f) => `L${f.level} #${f.number} ${f.size}B seq ${f.smallestSeq}..${f.largestSeq}`),
    }));
  for (const c of ldb.cfs) c.files.sort((a, b) => Number(/L(\d+)/.exec(a)![1]) - Number(/L(\d+)/.exec(b)![1]) || Number(/#(\d+)/.exec(a)![1]) - Number(/#(\d+)/.exec(b)![1]));
  assert.deepEqual(ours, ldb.cfs, `${state.manifestPath}: column families`);
  // RocksDB's recovery reserves one number past the MANIFEST's own value, and ldb prints that
  assert.equal(state.nextFileNumber + 1, ldb.tail.next_file_number, 'next file number');
  assert.equal(state.lastSequence, ldb.tail.last_sequence, 'last sequence');
  assert.equal(state.minLogNumberToKeep, ldb.tail.min_log_number_to_keep, 'min log number to keep');
}

function opText(op: BatchOp): string {
  const h = (b: Buffer) => '0x' + b.toString('hex').toUpperCase();
  switch (op.kind) {
    case 'put':
      return `PUT(${op.cf}) : ${h(op.key)} : ${h(op.value)}`;
    case 'delete':
      return `DELETE(${op.cf}) : ${h(op.key)}`;
    case 'singleDelete':
      return `SINGLE_DELETE(${op.cf}) : ${h(op.key)}`;
    case 'deleteRange':
      return `DELETE_RANGE(${op.cf}) : ${h(op.key)} ${h(op.end)}`;
    case 'merge':
      return `MERGE(${op.cf}) : ${h(op.key)} : ${h(op.value)}`;
    default:
      return `${op.kind}(${op.cf})`;
  }
}

describe('MANIFEST decoder agrees with ldb manifest_dump', () => {
  const dirs = realDbDirs();
  it('finds the real Pika dumps', () => {
    assert.ok(dirs.length >= 20, `found ${dirs.length} DB dirs`);
  });
  for (const dir of dirs) {
    it(`decodes ${dir.slice(SNAPSHOTS.length + 1)}`, async () => {
      await assertManifestLikeLdb(dir);
    });
  }

  it('decodes a MANIFEST with deeper levels, deleted files and three CFs', async () => {
    const { dir, work } = writeDb([
      'cf a',
      'cf b reverse',
      'open',
      'putn default k 0 300 10 1',
      'putn a k 0 300 10 1',
      'flush',
      'putn default k 100 300 10 2',
      'flush',
      'compact default 3',
      'putn b z 0 10 10 1',
      'flush b',
      'close',
    ]);
    works.push(work);
    await assertManifestLikeLdb(dir);
    const state = await loadManifest(dir);
    const levels = [...state.columnFamilies.get(0)!.files.values()].map((f) => f.level);
    assert.deepEqual(levels, [3]);
  });
});

describe('WAL decoder agrees with ldb dump_wal', () => {
  it('decodes every batch, op and offset of a WAL with fragmented records', async () => {
    const { dir, work } = writeDb([
      'cf c1',
      'open',
      'put default a 1',
      'put c1 b 2',
      'del default a',
      'sdel c1 b',
      'delrange default k1 k5',
      'put default x:00ff x:0102',
      'putn c1 n 0 2500 20 3',
      'bigput default big 100000 4',
      'deln c1 n 0 10 7',
      'close',
    ]);
    works.push(work);
    const wals = readdirSync(dir).filter((f) => f.endsWith('.log'));
    assert.equal(wals.length, 1);
    const path = join(dir, wals[0]);
    const ldb = execFileSync('ldb', ['dump_wal', `--walfile=${path}`, '--print_value'], {
      encoding: 'latin1',
      maxBuffer: 64 << 20,
    })
      .split('\n')
      .filter((l) => /^\d/.test(l));
    const ours: string[] = [];
    for await (const rec of readLogRecords(path, { truncatedTail: 'error', corruption: 'error' })) {
      const b = decodeWriteBatch(rec.data, path, rec.offset);
      ours.push(`${b.sequence},${b.count},${rec.data.length},${rec.offset},` + b.ops.map((o) => opText(o) + ' ').join(''));
    }
    assert.equal(ours.length, ldb.length);
    assert.deepEqual(ours, ldb);
  });
});
