/**
 * Liveness, joins and reports on a 3.x dump whose strings/, hashes/ and sets/ are written through
 * real RocksDB (test/fixtures-writer via test/rocks/writer.ts) in Pika's encodings, next to the real
 * lists/ and zsets/ of the 3.2.7 dump (their custom comparators are not in the writer). Each case
 * below is a state a real Pika leaves on disk (storage.md §2.1.1–§2.1.2, §2.5).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataType, SnapshotRecord } from '../../src/core/record.js';
import { readSnapshot } from '../../src/snapshot/pika/snapshot.js';
import { cleanup, writeDb } from '../rocks/writer.js';
import { FIXTURES } from '../helpers/fixtures.js';

const REAL = `${FIXTURES}/snapshots/3.2.7-base/dump/db0`;
const NOW_S = 1_800_000_000;
const NOW_MS = NOW_S * 1000 + 500;

const x = (b: Buffer): string => `x:${b.toString('hex')}`;
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
};
const str = (v: Buffer | string, expire = 0): string => x(Buffer.concat([Buffer.from(v), i32(expire)]));
const meta = (count: number, version: number, expire = 0): string => x(Buffer.concat([i32(count), i32(version), i32(expire)]));
const dkey = (key: string, version: number, suffix: string): string => {
  const k = Buffer.from(key);
  return x(Buffer.concat([i32(k.length), k, i32(version), Buffer.from(suffix)]));
};

function buildDump(work: string): string {
  const db0 = join(work, 'dump', 'db0');
  mkdirSync(db0, { recursive: true });
  cpSync(join(REAL, 'lists'), join(db0, 'lists'), { recursive: true });
  cpSync(join(REAL, 'zsets'), join(db0, 'zsets'), { recursive: true });
  writeFileSync(join(db0, 'info'), '0s\n127.0.0.1\n9221\n0\n0\n');
  const hll = Buffer.alloc(131072);
  for (let i = 0; i < hll.length; i += 97) hll[i] = (i % 16) + 1;
  const strings = [
    'open',
    `put default plain ${str('v')}`,
    `put default hll ${str(hll)}`,
    `put default expired ${str('x', NOW_S - 10)}`,
    `put default thissecond ${str('t', NOW_S)}`,
    `put default future ${str('y', NOW_S + 1000)}`,
    `put default dual ${str('s')}`,
    `put default deadstr ${str('d', NOW_S - 1)}`,
    `put default gone ${str('g')}`,
    'flush',
    'del default gone',
    'close',
  ];
  const big: string[] = [];
  for (let i = 0; i < 100; i++) big.push(`put data_cf ${dkey('hbig', 7, `f${String(i).padStart(3, '0')}`)} ${'v'.repeat(100)}`);
  const hashes = [
    'cf data_cf',
    'open',
    `put default h1 ${meta(2, 100)}`,
    `put data_cf ${dkey('h1', 100, 'f1')} one`,
    `put data_cf ${dkey('h1', 100, 'f2')} two`,
    `put data_cf ${dkey('h1', 99, 'old')} stale`,
    `put default hzero ${meta(0, 6)}`,
    `put data_cf ${dkey('hzero', 5, 'f')} deleted-by-DEL`,
    `put default hexp ${meta(1, 9, NOW_S - 100)}`,
    `put data_cf ${dkey('hexp', 9, 'f')} expired`,
    `put data_cf ${dkey('orphan', 1, 'f')} no-meta`,
    `put default dual ${meta(1, 3)}`,
    `put data_cf ${dkey('dual', 3, 'f')} loses`,
    `put default deadstr ${meta(1, 4, NOW_S + 50)}`,
    `put data_cf ${dkey('deadstr', 4, 'f')} wins`,
    `put default hmis ${meta(3, 2)}`,
    `put data_cf ${dkey('hmis', 2, 'a')} 1`,
    `put data_cf ${dkey('hmis', 2, 'b')} 2`,
    `put default hbig ${meta(100, 7)}`,
    ...big,
    'flush',
    `del data_cf ${dkey('h1', 100, 'f2')}`,
    `put default h1 ${meta(1, 100)}`,
    'close',
  ];
  const sets = [
    'cf member_cf',
    'open',
    `put default _internal:slotkey:4migrate:5 ${meta(1, 1)}`,
    `put member_cf ${dkey('_internal:slotkey:4migrate:5', 1, 'k')} x:`,
    `put default s1 ${meta(2, 8)}`,
    `put member_cf ${dkey('s1', 8, 'a')} x:`,
    `put member_cf ${dkey('s1', 8, 'b')} x:`,
    `put member_cf ${dkey('s1', 7, 'c')} x:`,
    `put default hll ${meta(1, 1)}`,
    `put member_cf ${dkey('hll', 1, 'm')} x:`,
    'close',
  ];
  for (const [name, script] of [
    ['strings', strings],
    ['hashes', hashes],
    ['sets', sets],
  ] as const) {
    const r = writeDb(script, { dir: join(db0, name) });
    cleanup(r.work);
  }
  return db0;
}

test('applies 3.x liveness, versions, reports and chunking on a dump written by RocksDB', async () => {
  const work = mkdtempSync(join(tmpdir(), 'pika-synthetic-'));
  try {
    const db0 = buildDump(work);
    const skipped: string[] = [];
    const conflicts: string[] = [];
    const warnings: string[] = [];
    const recs: SnapshotRecord[] = [];
    for await (const r of readSnapshot(db0, {
      db: 2,
      nowMs: NOW_MS,
      chunkSize: 1000,
      chunkBytes: 1000,
      onSkipped: (k, why) => skipped.push(`${k.toString()}: ${why.split(' ')[0]}`),
      onTypeConflict: (k, loser: DataType, winner: DataType) => conflicts.push(`${k.toString()} ${loser}<${winner}`),
      onWarning: (k, t, m) => warnings.push(`${k.toString()} ${t}: ${m}`),
    })) {
      recs.push(r);
    }
    const mine = recs.filter((r) => r.type === 'string' || r.type === 'hash' || (r.type === 'set' && r.key.toString() !== 'multi'));
    const view = mine.map((r) => {
      const k = r.key.toString();
      if (r.type === 'string') return `string ${k}=${r.value.toString()} exp=${r.expireAtMs}`;
      if (r.type === 'hash') return `hash ${k} ${r.first ? 'F' : '-'}${r.last ? 'L' : '-'} ${r.fields.map(([f, v]) => `${f}=${v.length === 100 ? 100 : v}`).join(',')}`;
      if (r.type === 'set') return `set ${k} ${r.members.map(String).join(',')}`;
      return '';
    });
    const bigChunk = (from: number, to: number, first: boolean, last: boolean): string =>
      `hash hbig ${first ? 'F' : '-'}${last ? 'L' : '-'} ${Array.from({ length: to - from }, (_, i) => `f${String(from + i).padStart(3, '0')}=100`).join(',')}`;
    assert.deepEqual(
      view.filter((v) => !v.startsWith('string multi') && !v.startsWith('hash multi')).sort(),
      [
        // strings: expired and deleted ones absent; "this second" is already past at NOW_MS (ms rule)
        'string dual=s exp=null',
        `string future=y exp=${(NOW_S + 1000) * 1000}`,
        'string plain=v exp=null',
        // hashes: only the meta's current version; count-0, expired and orphan data dropped
        'hash deadstr FL f=wins',
        'hash h1 FL f1=one',
        'hash hmis FL a=1,b=2',
        // 100 fields of 104 bytes, chunkBytes 1000: closed after 10 fields each
        ...Array.from({ length: 10 }, (_, c) => bigChunk(c * 10, c * 10 + 10, c === 0, c === 9)),
        'set s1 a,b',
      ].sort(),
    );
    const seqs = recs.map((r) => (r.pos.kind === 'snapshot' ? r.pos.seq : -1));
    assert.deepEqual(seqs, Array.from({ length: recs.length }, (_, i) => i));
    assert.ok(recs.every((r) => r.db === 2 && r.pos.db === 2));
    assert.deepEqual(skipped.sort(), ['_internal:slotkey:4migrate:5: pika-internal', 'hll: hyperloglog']);
    // hll (a skipped HLL string) still holds its name against the set of the same name.
    assert.deepEqual(
      conflicts.filter((c) => !c.startsWith('multi')).sort(),
      ['dual hash<string', 'hll set<string'],
    );
    assert.deepEqual(
      warnings.filter((w) => !w.startsWith('zi ') && !w.startsWith('zu ')),
      ['hmis hash: meta count 3, 2 live elements found'],
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('names the DB and key when a 3.x meta has the wrong size', async () => {
  const work = mkdtempSync(join(tmpdir(), 'pika-corrupt-'));
  try {
    const db0 = join(work, 'db0');
    mkdirSync(db0);
    for (const t of ['strings', 'lists', 'zsets']) cpSync(join(REAL, t), join(db0, t), { recursive: true });
    cleanup(writeDb(['cf member_cf', 'open', 'close'], { dir: join(db0, 'sets') }).work);
    const bad = Buffer.from('h:bad');
    cleanup(
      writeDb(['cf data_cf', 'open', `put default h:bad ${x(Buffer.alloc(11))}`, `put data_cf ${dkey('h:bad', 0, 'f')} v`, 'close'], {
        dir: join(db0, 'hashes'),
      }).work,
    );
    await assert.rejects(
      async () => {
        for await (const _ of readSnapshot(db0, { db: 0, nowMs: NOW_MS, chunkSize: 10, chunkBytes: 100 })) void _;
      },
      (e: Error) => e.name === 'CorruptionError' && e.message.includes(join(db0, 'hashes')) && e.message.includes(bad.toString('hex')) && /11 bytes/.test(e.message),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('names the DB and key when a 3.x string value is shorter than its expiry', async () => {
  const work = mkdtempSync(join(tmpdir(), 'pika-corrupt-'));
  try {
    const db0 = join(work, 'db0');
    mkdirSync(db0);
    for (const t of ['hashes', 'sets', 'lists', 'zsets']) cpSync(join(REAL, t), join(db0, t), { recursive: true });
    const bad = Buffer.from('s:short');
    cleanup(writeDb(['open', `put default a:fine ${str('v')}`, `put default s:short ${x(Buffer.from('abc'))}`, 'close'], { dir: join(db0, 'strings') }).work);
    const got: string[] = [];
    await assert.rejects(
      async () => {
        for await (const r of readSnapshot(db0, { db: 0, nowMs: NOW_MS, chunkSize: 10, chunkBytes: 100 })) if (r.type === 'string') got.push(`${r.key}=${r.value}`);
      },
      (e: Error) => e.name === 'CorruptionError' && e.message.includes(join(db0, 'strings')) && e.message.includes(bad.toString('hex')) && /3 bytes/.test(e.message),
    );
    assert.deepEqual(got, [], 'the batch holding the bad value is not handed out');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('stops cleanly when the consumer leaves early', async () => {
  let n = 0;
  for await (const r of readSnapshot(REAL, { db: 0, nowMs: Date.now(), chunkSize: 10, chunkBytes: 100, typeOrder: ['hash', 'list', 'set', 'zset', 'string'] })) {
    assert.equal(r.type, 'hash');
    if (++n === 25) break;
  }
  assert.equal(n, 25);
});
