/**
 * Streams in a snapshot: the real 3.5.5 and 4.0.1 dumps with stream records written in through
 * real RocksDB (stream-dumps.ts). Live streams come out in ID order, in chunks, with the meta's
 * counters; DELeted and XDEL-emptied metas and stale incarnations do not; the other types still
 * read exactly as expected.json says.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import type { DataType, SnapshotRecord } from '../../src/core/record.js';
import { readSnapshot } from '../../src/snapshot/pika/snapshot.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { bytesOf, fold, loadExpected } from './expected.js';
import { bigStream, dumpWithStreams, STREAMS, type StreamDesc } from './stream-dumps.js';

const canon = (s: StreamDesc): string => JSON.stringify(s.entries.map(([ms, seq, ...fv]) => [`${ms}-${seq}`, fv.map((f) => Buffer.from(f).toString('hex'))]));

for (const version of ['3.5.5', '4.0.1'] as const) {
  test(`${version}: streams written into the real dump are read in ID order, with their counters, in chunks`, async () => {
    // 3.5.5 keeps a name in several types: a stream named like a live string loses to it.
    const clash: StreamDesc = { ...bigStream('app', 2), version: 1 };
    // An entry beyond the meta's last ID, as the real 3.5.5/4.0.1 builds write them (corrupt IDs).
    const corrupt: StreamDesc = { name: Buffer.from('st:corrupt'), entries: [[1n, 0n, 'f', 'v'], [72214768483565568n, 7n, 'g', 'w']], entriesAdded: 2n, lastId: [2n, 0n], maxDeletedId: [0n, 0n], version: 1 };
    const streams = version === '3.5.5' ? [...STREAMS, clash, corrupt] : [...STREAMS, corrupt];
    const root = dumpWithStreams(version, streams);
    try {
      const exp = loadExpected(join(FIXTURES, 'snapshots', `${version}-base`, 'expected.json'));
      const conflicts: string[] = [];
      const skipped: string[] = [];
      const warnings: string[] = [];
      const records: SnapshotRecord[] = [];
      const keep = async function* (it: AsyncIterable<SnapshotRecord>): AsyncGenerator<SnapshotRecord> {
        for await (const r of it) {
          if (r.type === 'stream') records.push(r);
          yield r;
        }
      };
      const folded = await fold(
        keep(
          readSnapshot(join(root, 'db0'), {
            db: 0,
            nowMs: exp.at,
            chunkSize: 64,
            chunkBytes: 1 << 20,
            onTypeConflict: (k, loser, winner) => conflicts.push(`${k.toString()} ${loser} ${winner}`),
            onSkipped: (k, reason) => skipped.push(`${k.toString()} ${reason}`),
            onWarning: (k, t, m) => warnings.push(`${k.toString()} ${t} ${m}`),
          }),
        ),
        0,
      );
      const streamValues = [...folded.values.values()].filter((v) => v.type === 'stream');
      assert.deepEqual(streamValues.map((v) => v.key.toString()).sort(), ['st:a', 'st:big', 'st:big-ids', 'st:corrupt']);
      for (const s of STREAMS.filter((d) => d.entries.length > 0)) {
        assert.equal(folded.values.get(`${s.name.toString('hex')} stream`)!.canon, canon(s), `${s.name.toString()} entries`);
        const recs = records.filter((r) => r.key.equals(s.name));
        for (const r of recs) {
          assert.ok(r.type === 'stream');
          assert.deepEqual(r.state, { lastId: s.lastId.join('-'), entriesAdded: String(s.entriesAdded), maxDeletedId: s.maxDeletedId.join('-') });
          assert.equal(r.expireAtMs, null);
          assert.ok(r.entries.length <= 64);
        }
      }
      assert.equal(records.filter((r) => r.key.toString() === 'st:big').length, 5, '300 entries in chunks of 64');
      assert.deepEqual(conflicts.filter((c) => !c.startsWith('multi ')), version === '3.5.5' ? ['app stream string'] : []);
      assert.deepEqual(skipped, []);
      assert.deepEqual(warnings, [
        "st:corrupt stream entry ID 72214768483565568-7 lies beyond the meta's last ID 2-0 (a corrupt stream ID written by Pika): copied as stored; the target will refuse XSETID",
      ]);
      // The other types as the master held them.
      let others = 0;
      for (const [name, e] of Object.entries(exp.keys)) {
        if (e.expireAt !== null && e.expireAt < exp.at) continue;
        const types = (['string', 'hash', 'list', 'set', 'zset'] as DataType[]).filter((t) => e.types[t] !== undefined);
        assert.ok(folded.values.has(`${bytesOf(name).toString('hex')} ${types[0]}`), `${name} ${types[0]}`);
        others++;
      }
      assert.equal(folded.values.size, others + 4);
    } finally {
      rmSync(dirname(root), { recursive: true, force: true });
    }
  });
}

for (const version of ['3.5.5', '4.0.1'] as const) {
  test(`${version}: a read resumed at a stream's first record gives the same records from there on`, async () => {
    const root = dumpWithStreams(version, STREAMS);
    try {
      const opts = { db: 0, nowMs: Date.now(), chunkSize: 64, chunkBytes: 1 << 20 };
      const all: SnapshotRecord[] = [];
      for await (const r of readSnapshot(join(root, 'db0'), opts)) all.push(r);
      const at = all.findIndex((r) => r.type === 'stream' && r.first && r.key.toString() === 'st:big');
      assert.ok(at >= 0);
      const start = all[at];
      const again: SnapshotRecord[] = [];
      for await (const r of readSnapshot(join(root, 'db0'), { ...opts, from: { type: 'stream', key: start.key, seq: (start.pos as { seq: number }).seq } })) again.push(r);
      assert.deepEqual(again, all.slice(at));
    } finally {
      rmSync(dirname(root), { recursive: true, force: true });
    }
  });
}
