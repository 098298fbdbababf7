import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { BinlogPosition } from '../../src/core/binlog.js';
import { type ReplicaOptions } from '../../src/replication/replica.js';
import { runsWith } from '../../src/replication/tied-process.js';
import type { FakeMasterOptions } from '../master/fake-master.js';
import { RecordingHandler, checksums, waitFor } from './support.js';
import { SNAP_A, setupReplica, type ReplicaSetup } from './setup-replica.js';

const setup = (masterOpts: Partial<FakeMasterOptions> = {}, replicaOpts: Partial<ReplicaOptions> = {}, handler = new RecordingHandler()) =>
  setupReplica('A', SNAP_A, masterOpts, replicaOpts, handler);

describe('family A (3.2.x): push full sync into our rsync daemon, then stream', () => {
  let s: ReplicaSetup;
  before(async () => {
    s = await setup();
    s.master.write(['set', 'before', 'snapshot']);
    s.replica.start();
    await waitFor('snapshot loaded', () => s.handler.snapshots.length === 1, 20_000);
    await waitFor('streaming', () => s.replica.status().linkUp);
    await waitFor('activation received', () => s.master.events.some((e) => e.kind === 'activate'));
    // The master learns its push ended when its rsync of info exits, which may be after we loaded.
    await waitFor('push recorded', () => s.master.pushes.length === 1);
  });
  after(() => s.done());

  it('speaks MetaSync → DBSync → TrySync(info offset) → activation, as the 3.2.7 replica does', () => {
    const types = s.master.requests.map((r) => r.type);
    assert.deepEqual(types.slice(0, 4), [1, 3, 2, 4]);
    const meta = s.master.requests[0].meta_sync!;
    assert.deepEqual(meta.node.ip, '127.0.0.1');
    assert.equal(meta.auth, undefined);
    const ts = s.master.requests[2].try_sync!;
    const act = s.master.requests[3].binlog_sync!;
    assert.equal(act.first_send, true);
    assert.deepEqual(act.ack_range_start, ts.binlog_offset);
    assert.deepEqual(act.ack_range_end, ts.binlog_offset);
    // A offsets carry no term/index
    assert.equal(act.ack_range_start.term, undefined);
    // the wire alone says A/B; the master's pika_version (3.2.7) says A
    assert.equal(s.replica.status().family, 'A');
    assert.equal(s.replica.status().masterVersion, '3.2.7');
  });

  it('receives every snapshot file intact, with the start offset from info', () => {
    const snap = s.handler.snapshots[0];
    const want = checksums(SNAP_A, (rel) => rel === 'info');
    for (const [rel, sum] of want) assert.equal(snap.files.get(rel), sum, `file ${rel}`);
    assert.equal(snap.files.size, want.size + 1);
    const info = s.master.snapshotInfo.split('\n');
    assert.deepEqual(snap.start, { filenum: Number(info[3]), offset: Number(info[4]) });
    assert.deepEqual(snap.start, s.master.log.producer);
    assert.equal(s.master.pushes[0].ok, true);
    assert.ok(s.master.pushes[0].runs.length >= 11, 'dirs, --delete passes and info');
  });

  it('streams entries in order and acks them', async () => {
    const ends = [];
    for (let i = 0; i < 30; i++) ends.push(s.master.write(['set', `k${i}`, `v${i}`]));
    await waitFor('30 entries', () => s.handler.entries.length === 30);
    assert.deepEqual(s.handler.argvs(), ends.map((_, i) => `set k${i} v${i}`));
    assert.deepEqual(s.handler.entries.map((e) => e.end), ends);
    await waitFor('all acked', () => s.master.replicaState?.window.length === 0);
    assert.deepEqual(s.replica.status().ackedOffset, ends[29]);
    assert.equal(s.replica.status().entriesReceived, 30);
  });

  it('acks only up to what the handler reports as applied', async () => {
    s.handler.autoApply = false;
    const ends = [];
    for (let i = 0; i < 5; i++) ends.push(s.master.write(['rpush', 'list', `e${i}`]));
    await waitFor('5 more entries', () => s.handler.entries.length === 35);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(s.master.replicaState?.window.length, 5, 'nothing acked yet');
    s.handler.applied = ends[2];
    await waitFor('partial ack', () => s.master.replicaState?.window.length === 2);
    const acks = s.master.events.filter((e) => e.kind === 'ack');
    const last = acks[acks.length - 1].detail as { start: { offset: number }; end: { offset: number } };
    assert.equal(last.start.offset, ends[0].offset);
    assert.equal(last.end.offset, ends[2].offset);
    s.handler.applied = ends[4];
    s.handler.autoApply = true;
    await waitFor('rest acked', () => s.master.replicaState?.window.length === 0);
  });

  it('sends RemoveSlaveNode on stop', async () => {
    await s.replica.stop();
    assert.ok(s.master.events.some((e) => e.kind === 'remove-slave'));
    assert.equal(s.replica.status().linkUp, false);
  });
});

describe('family A hand-over', () => {
  it('starts the load while the rsync daemon is still exiting, and has it gone by the time the replica stops', async () => {
    // rsync lingers ~400 ms on SIGTERM: a load that waited for the exit would find the daemon gone.
    const daemonPid = (dir: string) => Number(readFileSync(join(dir, 'rsync', 'slash_rsync.pid'), 'utf8').trim());
    const alive = (pid: number) => runsWith(pid, 'rsync', `--config=${join(s.dir, 'rsync', 'slash_rsync.conf')}`);
    let atLoad: { pid: number; alive: boolean } | null = null;
    class Probe extends RecordingHandler {
      override async loadSnapshot(dir: string, db: number, start: BinlogPosition): Promise<void> {
        const pid = daemonPid(s.dir);
        atLoad = { pid, alive: alive(pid) };
        await super.loadSnapshot(dir, db, start);
      }
    }
    const s = await setup({}, {}, new Probe());
    try {
      s.replica.start();
      await waitFor('snapshot loaded', () => s.handler.snapshots.length === 1, 20_000);
      assert.ok(atLoad !== null);
      const { pid, alive: wasAlive } = atLoad as { pid: number; alive: boolean };
      assert.equal(wasAlive, true, 'the load waited for the rsync daemon to exit');
      await s.replica.stop();
      assert.equal(alive(pid), false, 'the rsync daemon outlived the replica');
    } finally {
      await s.done();
    }
  });
});

describe('family A faults', () => {
  it('reconnects to the same 3.2 master without calling it another family', async () => {
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
    const s = await setup({}, { logger });
    try {
      s.replica.start();
      await waitFor('streaming', () => s.replica.status().linkUp, 20_000);
      s.master.dropConnections();
      await waitFor('reconnected', () => s.master.events.filter((e) => e.kind === 'connect').length === 2 && s.replica.status().linkUp, 10_000);
      assert.equal(s.replica.status().family, 'A');
      assert.deepEqual(warnings.filter((m) => /family/.test(m)), []);
    } finally {
      await s.done();
    }
  });

  it('stops with a clear error on a wrong masterauth', async () => {
    const s = await setup({ requirepass: 'secret' }, { masterAuth: 'nope' });
    try {
      s.replica.start();
      await waitFor('fatal', () => s.fatal.length === 1);
      assert.match(s.fatal[0].message, /rejected our masterauth.*Invalid masterauth/);
      assert.equal(s.replica.status().dbs[0].state, 'error');
      assert.equal(s.master.requests.filter((r) => r.type === 1).length, 1, 'no retry');
    } finally {
      await s.done();
    }
  });

  it('stops naming both passwords when the push fails ours (masterauth set, master without requirepass)', async () => {
    const s = await setup({}, { masterAuth: 'extra', timeouts: { snapshotConnectMs: 20_000 } });
    try {
      s.replica.start();
      await waitFor('fatal', () => s.fatal.length === 1, 15_000);
      assert.match(s.fatal[0].message, /push from 127\.0\.0\.1 failed our rsync password: .*requirepass.*masterauth/);
      assert.equal(s.handler.snapshots.length, 0);
    } finally {
      await s.done();
    }
  });

  it('authenticates the push with masterauth when the master has a requirepass', async () => {
    const s = await setup({ requirepass: 'secret' }, { masterAuth: 'secret' });
    try {
      s.replica.start();
      await waitFor('snapshot', () => s.handler.snapshots.length === 1, 20_000);
      assert.equal(s.master.requests[0].meta_sync?.auth, 'secret');
    } finally {
      await s.done();
    }
  });

  it('fails loudly naming the address the master must reach when it never connects back', async () => {
    const s = await setup({}, { localIp: '127.0.0.3', rsyncBindAddress: '127.0.0.1', timeouts: { reconnectDelayMs: 100, snapshotConnectMs: 1500 } });
    try {
      s.replica.start();
      await waitFor('fatal', () => s.fatal.length === 1, 10_000);
      const port = s.master.requests[0].meta_sync!.node.port + 1000;
      assert.match(s.fatal[0].message, new RegExp(`never connected to our rsync daemon.*127\\.0\\.0\\.3:${port}`));
    } finally {
      await s.done();
    }
  });

  it('turns away a push from another address than the master\'s, and stops naming it', async () => {
    const s = await setup({ pushFrom: '127.0.0.2' });
    try {
      s.replica.start();
      await waitFor('fatal', () => s.fatal.length === 1, 10_000);
      assert.match(s.fatal[0].message, /turned away a push from 127\.0\.0\.2: it lets in only the master's address \(127\.0\.0\.1.*SLAVEOF 127\.0\.0\.2 \d+ force/);
      assert.equal(s.handler.snapshots.length, 0);
    } finally {
      await s.done();
    }
  });

  it('refuses a master whose DBs are not the ones we follow (databases differs), as Pika does', async () => {
    const s = await setup({ dbs: ['db0', 'db1'] }, { dbs: [0] });
    try {
      s.replica.start();
      await waitFor('fatal', () => s.fatal.length === 1);
      assert.match(s.fatal[0].message, /2 DBs \(db0, db1\), we follow 1 \(db0\): set databases : 2/);
    } finally {
      await s.done();
    }
  });

  it('refuses a master in sharding mode', async () => {
    const s = await setup({ classicMode: false });
    try {
      s.replica.start();
      await waitFor('fatal', () => s.fatal.length === 1);
      assert.match(s.fatal[0].message, /sharding mode/);
    } finally {
      await s.done();
    }
  });
});
