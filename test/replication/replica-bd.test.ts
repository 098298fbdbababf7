import { strict as assert } from 'node:assert';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Replica } from '../../src/replication/replica.js';
import { FakeMaster, type MasterFamily } from '../master/fake-master.js';
import { FIXTURES, RecordingHandler, checksums, replicaPort, tempDir, testLogger, waitFor } from './support.js';

async function run(
  family: MasterFamily,
  snapshot: string,
  check: (m: FakeMaster, r: Replica, h: RecordingHandler) => Promise<void>,
  extra: { version?: string; requirepass?: string } = {},
) {
  const master = new FakeMaster({ family, snapshotSource: snapshot, keepaliveMs: 200, ...extra });
  await master.start();
  const dir = tempDir(`pm-replica-${family}-`);
  const handler = new RecordingHandler();
  // no localIp: the replica learns it from a probe connection to master P, as Pika does
  const replica = new Replica({
    masterHost: '127.0.0.1',
    masterPort: master.port,
    ...(extra.requirepass ? { masterAuth: extra.requirepass } : {}),
    localPort: await replicaPort(),
    rsyncBindAddress: '127.0.0.1',
    dbSyncPath: dir,
    force: true,
    logger: testLogger(),
    handler,
    timeouts: { reconnectDelayMs: 100 },
  });
  try {
    replica.start();
    await waitFor('snapshot', () => handler.snapshots.length === 1, 20_000);
    await waitFor('activation received', () => master.events.some((e) => e.kind === 'activate'), 10_000);
    await check(master, replica, handler);
  } finally {
    await replica.stop();
    await master.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('families B and D', () => {
  it('B (3.3–3.4): push full sync, then the stream reveals B by term/index; acks echo them', async () => {
    const snap = join(FIXTURES, 'snapshots/3.3.6-base/dump/db0');
    await run('B', snap, async (m, r, h) => {
      assert.equal(m.requests[0].meta_sync?.node.ip, '127.0.0.1');
      const want = checksums(snap, (rel) => rel === 'info');
      for (const [rel, sum] of want) assert.equal(h.snapshots[0].files.get(rel), sum, rel);
      const e = m.write(['setnx', 'k', 'v']);
      await waitFor('entry', () => h.entries.length === 1);
      assert.equal(r.status().family, 'B');
      assert.equal(r.status().masterVersion, '3.3.6');
      assert.equal(h.entries[0].termOrServerId, 0);
      await waitFor('acked', () => m.replicaState?.window.length === 0);
      const ack = m.requests.filter((q) => q.type === 4 && q.binlog_sync!.ack_range_end.offset === e.offset).pop()!;
      assert.equal(ack.binlog_sync!.ack_range_end.term, 0);
      // pings after the refinement carry term/index like a B replica's
      await waitFor('a ping', () => m.requests.slice(m.requests.indexOf(ack)).some((q) => q.type === 4 && q.binlog_sync!.ack_range_start.offset === 0));
      const ping = m.requests.slice(m.requests.indexOf(ack)).find((q) => q.type === 4 && q.binlog_sync!.ack_range_start.offset === 0)!;
      assert.deepEqual(ping.binlog_sync!.ack_range_start, { filenum: 0, offset: 0, term: 0, index: 0 });
    });
  });

  it('B: the version from INFO server (with masterauth) names the family before any entry streams', async () => {
    await run(
      'B',
      join(FIXTURES, 'snapshots/3.3.6-base/dump/db0'),
      async (m, r, h) => {
        assert.equal(h.entries.length, 0);
        assert.equal(r.masterFamily, 'B');
        assert.equal(r.status().masterVersion, '3.3.4');
        assert.deepEqual(m.events.filter((e) => e.kind === 'client-command').map((e) => e.detail), ['auth', 'info']);
      },
      { version: '3.3.4', requirepass: 'sekrit' },
    );
  });

  it('B: a master whose INFO has no pika_version still syncs, by the wire family alone', async () => {
    await run(
      'B',
      join(FIXTURES, 'snapshots/3.3.6-base/dump/db0'),
      async (m, r, h) => {
        assert.match(r.status().masterVersion!, /^3\.[23]\.x–3\.4\.x$/, 'the family range stands in for the version');
        m.write(['set', 'k', 'v']);
        await waitFor('entry', () => h.entries.length === 1);
        assert.equal(r.status().family, 'B');
      },
      { version: '' },
    );
  });

  it('D (4.0.x): detects db_instance_num and pulls the instance directories intact', async () => {
    const snap = join(FIXTURES, 'snapshots/4.0.1-base/dump/db0');
    await run('D', snap, async (m, r, h) => {
      assert.equal(r.status().family, 'D');
      const want = checksums(snap, (rel) => rel === 'info');
      assert.ok([...want.keys()].some((k) => k.startsWith('2/')));
      for (const [rel, sum] of want) assert.equal(h.snapshots[0].files.get(rel), sum, rel);
      assert.deepEqual(h.snapshots[0].start, m.log.producer);
      m.write(['set', 'd', '1']);
      await waitFor('entry', () => h.entries.length === 1);
    });
  });
});
