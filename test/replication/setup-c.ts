import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FatalError } from '../../src/core/errors.js';
import { Replica, type ReplicaOptions } from '../../src/replication/replica.js';
import { FakeMaster, type FakeMasterOptions } from '../master/fake-master.js';
import { FIXTURES, RecordingHandler, replicaPort, tempDir, testLogger } from './support.js';

export const SNAP_C = join(FIXTURES, 'snapshots/3.5.5-base/dump/db0');


/** `replicaOpts` may be computed from the started master (e.g. a resumeFrom in its binlog). */
export async function setupC(
  masterOpts: Partial<FakeMasterOptions> = {},
  replicaOptsIn: Partial<ReplicaOptions> | ((m: FakeMaster) => Partial<ReplicaOptions>) = {},
  handler = new RecordingHandler(),
) {
  const master = new FakeMaster({ family: 'C', snapshotSource: SNAP_C, ...masterOpts });
  await master.start();
  const replicaOpts = typeof replicaOptsIn === 'function' ? replicaOptsIn(master) : replicaOptsIn;
  const dir = tempDir('pm-replica-c-');
  const replica = new Replica({
    masterHost: '127.0.0.1',
    masterPort: master.port,
    localIp: '127.0.0.1',
    localPort: await replicaPort(),
    dbSyncPath: dir,
    force: true,
    logger: testLogger(),
    handler,
    ...replicaOpts,
    timeouts: { reconnectDelayMs: 100, rsyncMetaRetryMs: 100, rsyncRequestMs: 1000, ...(replicaOpts.timeouts ?? {}) },
  });
  const fatal: FatalError[] = [];
  replica.on('fatal', (e: FatalError) => fatal.push(e));
  const done = async () => {
    await replica.stop();
    await master.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { master, replica, handler, dir, fatal, done };
}

