import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { checksums, waitFor } from './support.js';
import { SNAP_C, setupC } from './setup-replica.js';

const TYPES = ['strings', 'hashes', 'lists', 'zsets', 'sets'];

/** The five type dirs the 3.5.5 meta list names (no `streams/`, observed.md §3). */
function wantedFiles(): Map<string, string> {
  return checksums(SNAP_C, (rel) => rel === 'info' || (!rel.includes('/') && !TYPES.includes(rel)) || rel.startsWith('streams'));
}

describe('family C (3.5.x): pull full sync over the rsync service, then stream', () => {
  let s: Awaited<ReturnType<typeof setupC>>;
  before(async () => {
    // small chunks and a small reply cap so files take several requests, across readers
    s = await setupC({ bgsaveMs: 300, rsyncBlockBytes: 100_000 }, { rsyncChunkBytes: 64 * 1024 });
    s.master.write(['set', 'a', '1']);
    s.replica.start();
    await waitFor('snapshot loaded', () => s.handler.snapshots.length === 1, 20_000);
    await waitFor('streaming', () => s.replica.status().linkUp);
    await waitFor('activation received', () => s.master.events.some((e) => e.kind === 'activate'));
  });
  after(() => s.done());

  it('detects family C from run_id and puts term/index into BinlogSync offsets', () => {
    const st = s.replica.status();
    assert.equal(st.family, 'C');
    assert.equal(st.masterVersion, '3.5.5');
    assert.equal(st.runId, s.master.runId);
    assert.equal(st.replicationId, s.master.replicationId);
    const types = s.master.requests.map((r) => r.type);
    assert.deepEqual(types.slice(0, 4), [1, 3, 2, 4]);
    const act = s.master.requests[3].binlog_sync!;
    assert.deepEqual(act.ack_range_start, { ...s.master.requests[2].try_sync!.binlog_offset, term: 0, index: 0 });
  });

  it('retries the meta request while the master dumps, then gets every listed file intact', () => {
    assert.ok(s.master.events.filter((e) => e.kind === 'rsync-meta').length >= 1);
    const snap = s.handler.snapshots[0];
    const want = wantedFiles();
    assert.ok(want.size > 20);
    for (const [rel, sum] of want) assert.equal(snap.files.get(rel), sum, `file ${rel}`);
    assert.deepEqual([...snap.files.keys()].filter((k) => !want.has(k)), ['info']);
    assert.deepEqual(snap.start, { filenum: 0, offset: s.master.log.producer.offset });
    assert.equal(s.replica.status().snapshot?.phase, 'done');
  });

  it('streams MSET-like bursts in order, batched, and acks them with term/index', async () => {
    const ends = [];
    for (let i = 0; i < 250; i++) ends.push(s.master.write(['set', `m${i}`, 'x'.repeat(i)]));
    await waitFor('250 entries', () => s.handler.entries.length === 250);
    assert.deepEqual(s.handler.entries.map((e) => e.end), ends);
    assert.equal(s.handler.entries[0].logicId, 2n, 'C logic ids start at 1');
    await waitFor('acked', () => s.master.replicaState?.window.length === 0);
    const ack = s.master.requests.filter((r) => r.type === 4 && !r.binlog_sync!.first_send && r.binlog_sync!.ack_range_end.offset !== 0).pop()!;
    assert.equal(ack.binlog_sync!.ack_range_end.term, 0);
    assert.equal(ack.binlog_sync!.ack_range_end.index, 251);
  });
});

describe('family C pull faults', () => {
  it('starts over when the master replaces its dump mid-transfer', async () => {
    const s = await setupC({ rsyncBlockBytes: 50_000 }, { rsyncChunkBytes: 16 * 1024, rsyncThrottleBytesPerSec: 2_000_000, rsyncParallel: 2 });
    try {
      s.replica.start();
      await waitFor('transfer under way', () => (s.replica.status().snapshot?.filesDone ?? 0) >= 3, 10_000);
      s.master.write(['set', 'during', 'dump']);
      s.master.redump();
      await waitFor('snapshot loaded', () => s.handler.snapshots.length === 1, 20_000);
      const want = wantedFiles();
      for (const [rel, sum] of want) assert.equal(s.handler.snapshots[0].files.get(rel), sum, `file ${rel}`);
      assert.deepEqual(s.handler.snapshots[0].start, s.master.log.producer, 'start from the new dump');
      assert.ok(s.master.events.filter((e) => e.kind === 'rsync-meta').length >= 2);
    } finally {
      await s.done();
    }
  });

  it('resumes a partial pull after the connection drops, skipping completed files', async () => {
    const s = await setupC({ rsyncBlockBytes: 50_000 }, { rsyncChunkBytes: 16 * 1024, rsyncThrottleBytesPerSec: 3_000_000, rsyncParallel: 4 });
    try {
      s.replica.start();
      await waitFor('transfer under way', () => (s.replica.status().snapshot?.filesDone ?? 0) >= 6, 10_000);
      s.master.dropConnections();
      await waitFor('snapshot loaded', () => s.handler.snapshots.length === 1, 20_000);
      const want = wantedFiles();
      for (const [rel, sum] of want) assert.equal(s.handler.snapshots[0].files.get(rel), sum, `file ${rel}`);
      assert.equal(s.master.requests.filter((r) => r.type === 3).length, 2, 'a second DBSync');
      const starts = new Map<string, number>();
      for (const e of s.master.events) {
        if (e.kind !== 'rsync-file') continue;
        const d = e.detail as { filename: string; offset: number };
        if (d.offset === 0) starts.set(d.filename, (starts.get(d.filename) ?? 0) + 1);
      }
      const restarted = [...starts.values()].filter((n) => n > 1).length;
      assert.equal(starts.size, want.size + 1, 'every file fetched');
      assert.ok(restarted <= 4, `only files in flight at the cut start again from 0 (${restarted})`);
    } finally {
      await s.done();
    }
  });
});
