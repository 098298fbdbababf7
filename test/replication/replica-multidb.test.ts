import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BinlogPosition } from '../../src/core/binlog.js';
import { RecordingHandler, waitFor } from './support.js';
import { SNAP_A, SNAP_C, setupReplica } from './setup-replica.js';

const SNAP = { A: SNAP_A, C: SNAP_C };

/** A master with db0…db2 (each its own binlog and dump), followed over one connection. */
const setup = (family: 'A' | 'C') => setupReplica(family, SNAP[family], { dbs: ['db0', 'db1', 'db2'] }, { dbs: [0, 1, 2] });

for (const family of ['A', 'C'] as const) {
  describe(`replica of a multi-DB master (family ${family})`, () => {
    it('takes one snapshot per DB, then streams and acks each DB on its own binlog', async () => {
      const s = await setup(family);
      try {
        s.master.write(['SET', 'before1', 'x'], 'db1');
        s.replica.start();
        await waitFor('all DBs connected', () => s.replica.status().dbs.every((d) => d.state === 'connected'), 30_000);
        assert.deepEqual(
          s.handler.snapshots.map((x) => [x.db, x.dir.endsWith(`db${x.db}`)]),
          [
            [0, true],
            [1, true],
            [2, true],
          ],
        );
        // Each DB's snapshot starts at its own binlog position: db1 had one entry before the dump.
        assert.deepEqual(s.handler.snapshots[1].start, s.master.logOf('db1').producer);
        assert.ok(s.handler.snapshots[1].files.has('info'));
        const e2 = s.master.write(['SET', 'k2', 'v'], 'db2');
        const e0 = s.master.write(['SET', 'k0', 'v'], 'db0');
        const e1 = s.master.write(['LPUSH', 'l1', 'a'], 'db1');
        await waitFor('three entries', () => s.handler.entries.length === 3);
        assert.deepEqual(
          s.handler.entries.map((e) => [e.db, e.argv[1].toString()]).sort(),
          [
            [0, 'k0'],
            [1, 'l1'],
            [2, 'k2'],
          ],
        );
        await waitFor('acked per DB', () => {
          const acked = (db: string) => s.master.replicaOf(db)?.acked;
          return [
            ['db0', e0],
            ['db1', e1],
            ['db2', e2],
          ].every(([db, e]) => JSON.stringify(acked(db as string)) === JSON.stringify(e));
        });
        assert.deepEqual(s.replica.status(1).receivedOffset, e1);
        assert.deepEqual(s.replica.status(2).receivedOffset, e2);
        assert.equal(s.fatal.length, 0);
      } finally {
        await s.done();
      }
    });
  });
}

describe('replica of a multi-DB master: resume', () => {
  it('resumes every DB with TrySync from its own position, no snapshot', async () => {
    const handler = new RecordingHandler();
    const written: BinlogPosition[] = [];
    const s = await setupReplica('C', SNAP_C, { dbs: ['db0', 'db1'] }, (master) => {
      written.push(master.write(['SET', 'a', '1'], 'db0'));
      master.write(['SET', 'b', '1'], 'db0');
      written.push(master.write(['SET', 'c', '1'], 'db1'));
      master.write(['SET', 'd', '1'], 'db1');
      handler.appliedOf.set(0, written[0]);
      handler.appliedOf.set(1, written[1]);
      return { force: false, dbs: [0, 1], resumeFrom: new Map([[0, written[0]], [1, written[1]]]) };
    }, handler);
    const { master, replica } = s;
    try {
      replica.start();
      await waitFor('two entries after the resume points', () => handler.entries.length === 2);
      assert.deepEqual(handler.entries.map((e) => `${e.db}:${e.argv[1].toString()}`).sort(), ['0:b', '1:d']);
      assert.equal(handler.snapshots.length, 0);
      assert.equal(master.dumpsMade, 0);
    } finally {
      await s.done();
    }
  });
});
