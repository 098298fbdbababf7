import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FatalError } from '../../src/core/errors.js';
import { Replica, type ReplicaOptions } from '../../src/replication/replica.js';
import { FakeMaster, type FakeMasterOptions, type MasterFamily } from '../master/fake-master.js';
import { FIXTURES, RecordingHandler, replicaPort, tempDir, testLogger } from './support.js';

export const SNAP_A = join(FIXTURES, 'snapshots/3.2.7-base/dump/db0');
export const SNAP_C = join(FIXTURES, 'snapshots/3.5.5-base/dump/db0');

export type ReplicaSetup = Awaited<ReturnType<typeof setupReplica>>;

/**
 * A test master of `family` serving `snapshotSource`, and a Replica of it (force, short retry
 * timeouts) reporting to `handler`. `replicaOpts` may be computed from the started master (e.g. a
 * resumeFrom in its binlog); its `timeouts` are merged over the short defaults.
 */
export async function setupReplica(
  family: MasterFamily,
  snapshotSource: string,
  masterOpts: Partial<FakeMasterOptions> = {},
  replicaOptsIn: Partial<ReplicaOptions> | ((m: FakeMaster) => Partial<ReplicaOptions>) = {},
  handler = new RecordingHandler(),
) {
  const master = new FakeMaster({ family, snapshotSource, ...masterOpts });
  await master.start();
  const replicaOpts = typeof replicaOptsIn === 'function' ? replicaOptsIn(master) : replicaOptsIn;
  const dir = tempDir(`pm-replica-${family.toLowerCase()}-`);
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
    timeouts: { reconnectDelayMs: 100, snapshotConnectMs: 5000, rsyncMetaRetryMs: 100, rsyncRequestMs: 1000, ...(replicaOpts.timeouts ?? {}) },
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

/** A family C (3.5.5) master and its replica: see setupReplica. */
export function setupC(
  masterOpts: Partial<FakeMasterOptions> = {},
  replicaOpts: Partial<ReplicaOptions> | ((m: FakeMaster) => Partial<ReplicaOptions>) = {},
  handler = new RecordingHandler(),
): Promise<ReplicaSetup> {
  return setupReplica('C', SNAP_C, masterOpts, replicaOpts, handler);
}
