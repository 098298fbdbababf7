import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { BinlogPosition } from '../../src/core/binlog.js';
import { RecordingHandler, waitFor } from './support.js';
import { setupC } from './setup-replica.js';

const connects = (m: { events: Array<{ kind: string }> }) => m.events.filter((e) => e.kind === 'connect').length;
const trySyncs = (m: { requests: Array<{ type: number; try_sync?: { binlog_offset: { filenum: number; offset: number } } }> }) =>
  m.requests.filter((r) => r.type === 2).map((r) => ({ filenum: r.try_sync!.binlog_offset.filenum, offset: r.try_sync!.binlog_offset.offset }));

describe('replica faults (against a family C master)', () => {
  it('reconnects after a cut mid-stream and resumes from the applied offset without loss or duplicates', async () => {
    const h = new RecordingHandler(false);
    const s = await setupC({}, {}, h);
    try {
      s.replica.start();
      await waitFor('streaming', () => s.replica.status().linkUp, 10_000);
      const ends: BinlogPosition[] = [];
      for (let i = 0; i < 10; i++) ends.push(s.master.write(['incr', `c${i}`]));
      await waitFor('10 entries', () => h.entries.length === 10);
      h.applied = ends[4];
      await waitFor('ack of 5', () => s.master.replicaState?.window.length === 5);
      s.master.dropConnections();
      await waitFor('reconnected', () => connects(s.master) === 2 && s.replica.status().linkUp, 10_000);
      assert.deepEqual(trySyncs(s.master).pop(), ends[4], 'TrySync from the applied offset, not the received one');
      for (let i = 10; i < 15; i++) ends.push(s.master.write(['incr', `c${i}`]));
      await waitFor('15 entries', () => h.entries.length === 15);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(h.argvs(), ends.map((_, i) => `incr c${i}`), 'each entry exactly once, in order');
      assert.equal(s.replica.status().entriesReceived, 15);
      // the re-sent entries 5..9 are in the new window and get acked once applied
      h.applied = ends[14];
      await waitFor('all acked', () => s.master.replicaState?.window.length === 0);
      assert.deepEqual(s.replica.status().ackedOffset, ends[14]);
      assert.equal(s.master.events.filter((e) => e.kind === 'close-by-master').length, 0, 'no ack was refused');
    } finally {
      await s.done();
    }
  });

  it('waits for applyEntry promises before handing over the next entry (backpressure)', async () => {
    const h = new RecordingHandler();
    let release: (() => void) | null = null;
    const orig = h.applyEntry.bind(h);
    h.applyEntry = (db, e) => {
      orig(db, e);
      if (h.entries.length === 1) return new Promise<void>((r) => (release = r));
    };
    const s = await setupC({}, {}, h);
    try {
      s.replica.start();
      await waitFor('streaming', () => s.replica.status().linkUp, 10_000);
      for (let i = 0; i < 3; i++) s.master.write(['lpush', 'q', `${i}`]);
      await waitFor('first entry', () => h.entries.length === 1);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(h.entries.length, 1, 'the next entries wait');
      release!();
      await waitFor('all', () => h.entries.length === 3);
      assert.deepEqual(h.argvs(), ['lpush q 0', 'lpush q 1', 'lpush q 2']);
    } finally {
      await s.done();
    }
  });

  it('after a cut, hands nothing over on the new connection until the entry still in hand-over is done', async () => {
    // The entry's commands wait for room in the sink when the link goes: entries of the new
    // connection handed over meanwhile would overtake its remaining commands (a DEL k1 k2 split in
    // two, then RPUSH k2 …: the list is deleted after the push).
    const h = new RecordingHandler();
    let release: (() => void) | null = null;
    const orig = h.applyEntry.bind(h);
    h.applyEntry = (db, e) => {
      orig(db, e);
      if (h.entries.length === 2) {
        h.applied = h.entries[0].end;
        return new Promise<void>((r) => (release = r));
      }
    };
    const s = await setupC({}, {}, h);
    try {
      s.replica.start();
      await waitFor('streaming', () => s.replica.status().linkUp, 10_000);
      const written: string[] = [];
      for (let i = 0; i < 6; i++) {
        s.master.write(['rpush', 'q', `${i}`]);
        written.push(`rpush q ${i}`);
      }
      await waitFor('second entry in hand-over', () => release !== null);
      s.master.dropConnections();
      await waitFor('reconnected', () => connects(s.master) === 2 && s.replica.status().linkUp, 10_000);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(h.entries.length, 2, 'the new connection waits for the entry in hand-over');
      release!();
      await waitFor('all', () => h.entries.length === 6);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(h.argvs(), written, 'each entry exactly once, in order');
    } finally {
      await s.done();
    }
  });

  it('lets the master window pace the stream while the handler lags', async () => {
    const h = new RecordingHandler(false);
    const s = await setupC({ windowSize: 10 }, {}, h);
    try {
      s.replica.start();
      await waitFor('streaming', () => s.replica.status().linkUp, 10_000);
      await waitFor('activation received', () => s.master.events.some((e) => e.kind === 'activate'));
      const ends = [];
      for (let i = 0; i < 25; i++) ends.push(s.master.write(['zadd', 'z', `${i}`, `m${i}`]));
      await waitFor('a full window', () => h.entries.length === 10);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(h.entries.length, 10, 'the master stops at its window');
      h.applied = ends[6];
      await waitFor('7 more', () => h.entries.length === 17);
      h.autoApply = true;
      h.applied = ends[16];
      await waitFor('all 25', () => h.entries.length === 25);
      await waitFor('all acked', () => s.master.replicaState?.window.length === 0);
      assert.deepEqual(h.entries.map((e) => e.end), ends);
    } finally {
      await s.done();
    }
  });

  it('takes a new snapshot when the master purged the binlog at the resume point (kSyncPointBePurged)', async () => {
    const h = new RecordingHandler();
    const s = await setupC({ binlogFileSize: 300 }, { force: false, resumeFrom: new Map([[0, { filenum: 0, offset: 0 }]]) }, h);
    try {
      for (let i = 0; i < 20; i++) s.master.write(['set', `p${i}`, 'v'.repeat(40)]);
      assert.ok(s.master.log.fileNumbers.length > 3);
      s.master.purgeBelow(3, true);
      s.replica.start();
      await waitFor('snapshot', () => h.snapshots.length === 1, 20_000);
      await waitFor('streaming', () => s.replica.status().linkUp, 10_000);
      const ts = trySyncs(s.master);
      assert.deepEqual(ts[0], { filenum: 0, offset: 0 });
      assert.deepEqual(ts[1], h.snapshots[0].start);
      assert.deepEqual(h.snapshots[0].start, s.master.log.producer);
      const end = s.master.write(['set', 'after', 'purge']);
      await waitFor('entry', () => h.entries.length === 1);
      assert.deepEqual(h.entries[0].end, end);
    } finally {
      await s.done();
    }
  });

  it('resumes from resumeFrom without a snapshot when the master still has that binlog', async () => {
    const h = new RecordingHandler();
    const s = await setupC(
      {},
      (m) => {
        const ends = [];
        for (let i = 0; i < 5; i++) ends.push(m.write(['sadd', 's', `m${i}`]));
        return { force: false, resumeFrom: new Map([[0, ends[1]]]) };
      },
      h,
    );
    try {
      s.replica.start();
      await waitFor('3 entries', () => h.entries.length === 3, 10_000);
      assert.equal(h.snapshots.length, 0);
      assert.deepEqual(h.argvs(), ['sadd s m2', 'sadd s m3', 'sadd s m4']);
      assert.deepEqual(s.master.requests.map((r) => r.type).slice(0, 3), [1, 2, 4]);
    } finally {
      await s.done();
    }
  });

  it('stops with an error when our offset is ahead of the master (kSyncPointLarger)', async () => {
    const s = await setupC({}, { force: false, resumeFrom: new Map([[0, { filenum: 7, offset: 100 }]]) });
    try {
      s.replica.start();
      await waitFor('fatal', () => s.fatal.length === 1, 10_000);
      assert.match(s.fatal[0].message, /7:100 of db0 is ahead of the master's 0:0/);
      assert.equal(s.replica.status().dbs[0].state, 'error');
    } finally {
      await s.done();
    }
  });

  it('reconnects when the master goes silent (configurable 20 s timeout)', async () => {
    const s = await setupC({ keepaliveMs: 100 }, { timeouts: { silenceMs: 600, reconnectDelayMs: 50 } });
    try {
      s.replica.start();
      await waitFor('streaming', () => s.replica.status().linkUp, 10_000);
      await new Promise((r) => setTimeout(r, 900));
      assert.equal(connects(s.master), 1, 'keepalives keep the link up');
      s.master.stall(true);
      await waitFor('reconnect', () => connects(s.master) === 2, 5000);
      assert.match(s.replica.status().lastError ?? '', /sent nothing for \d+ ms/);
      s.master.stall(false);
      await waitFor('streaming again', () => s.replica.status().linkUp, 5000);
      s.master.write(['set', 'x', 'y']);
      await waitFor('entry', () => s.handler.entries.length === 1);
    } finally {
      await s.done();
    }
  });

  it('pings so the master does not drop it while idle', async () => {
    const s = await setupC({ keepaliveMs: 60_000, dropAfterMs: 600 }, { timeouts: { pingIntervalMs: 150, silenceMs: 60_000 } });
    try {
      s.replica.start();
      await waitFor('streaming', () => s.replica.status().linkUp, 10_000);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(s.master.events.filter((e) => e.kind === 'drop-replica').length, 0);
      s.master.write(['set', 'still', 'here']);
      await waitFor('entry', () => s.handler.entries.length === 1);
    } finally {
      await s.done();
    }
  });

  it('reports a corrupted frame with its stream offset, reconnects and loses nothing, without a crash loop', async () => {
    const s = await setupC({}, { timeouts: { reconnectDelayMs: 100 } });
    try {
      s.replica.start();
      await waitFor('streaming', () => s.replica.status().linkUp, 10_000);
      s.master.write(['set', 'a', '1']);
      await waitFor('1 entry', () => s.handler.entries.length === 1);
      s.master.corruptNextFrame();
      s.master.write(['set', 'b', '2']);
      await waitFor('reconnected', () => connects(s.master) === 2 && s.replica.status().linkUp, 10_000);
      assert.match(s.replica.status().lastError ?? '', /master 127\.0\.0\.1:\d+ stream byte \d+: frame length 2147483632/);
      await waitFor('2 entries', () => s.handler.entries.length === 2);
      assert.deepEqual(s.handler.argvs(), ['set a 1', 'set b 2']);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(connects(s.master), 2, 'one reconnect, no loop');
      assert.equal(s.fatal.length, 0);
    } finally {
      await s.done();
    }
  });

  it('backs off on repeated failures instead of looping hot', async () => {
    const s = await setupC({}, { timeouts: { reconnectDelayMs: 100, maxReconnectDelayMs: 400 } });
    try {
      s.replica.start();
      await waitFor('streaming', () => s.replica.status().linkUp, 10_000);
      // every frame the master sends from now on is corrupt
      s.master.corruptNextFrame();
      const t = setInterval(() => s.master.corruptNextFrame(), 5);
      s.master.write(['set', 'a', '1']);
      await new Promise((r) => setTimeout(r, 1500));
      clearInterval(t);
      const n = connects(s.master);
      assert.ok(n >= 3 && n <= 7, `reconnects with growing delays (${n} connections in 1.5 s)`);
    } finally {
      await s.done();
    }
  });

  it('retries MetaSync after "Slave AlreadyExist" until the old connection is gone', async () => {
    const s = await setupC({}, { timeouts: { metaRetryMs: 200 } });
    try {
      s.replica.start();
      await waitFor('streaming', () => s.replica.status().linkUp, 10_000);
      const h2 = new RecordingHandler();
      const { Replica } = await import('../../src/replication/replica.js');
      const r2 = new Replica({
        masterHost: '127.0.0.1',
        masterPort: s.master.port,
        localIp: '127.0.0.1',
        localPort: s.master.requests[0].meta_sync!.node.port,
        dbSyncPath: s.dir + '-2',
        force: true,
        logger: (await import('./support.js')).testLogger(),
        handler: h2,
        timeouts: { metaRetryMs: 200, reconnectDelayMs: 50 },
      });
      r2.start();
      await waitFor('AlreadyExist', () => /AlreadyExist/.test(r2.status().lastError ?? ''), 5000);
      assert.equal(r2.status().dbs[0].state, 'no_connect');
      await s.replica.stop();
      await waitFor('second replica streams', () => r2.status().linkUp, 10_000);
      await r2.stop();
    } finally {
      await s.done();
    }
  });

  it('follows a master restart: reconnects and TrySyncs from the applied offset', async () => {
    const s = await setupC();
    try {
      s.replica.start();
      await waitFor('streaming', () => s.replica.status().linkUp, 10_000);
      const e1 = s.master.write(['set', 'a', '1']);
      await waitFor('entry', () => s.handler.entries.length === 1);
      await s.master.restart();
      await waitFor('back', () => connects(s.master) === 2 && s.replica.status().linkUp, 10_000);
      assert.deepEqual(trySyncs(s.master).pop(), e1);
      s.master.write(['set', 'b', '2']);
      await waitFor('entry 2', () => s.handler.entries.length === 2);
      assert.equal(s.handler.snapshots.length, 1);
    } finally {
      await s.done();
    }
  });
});
