import type { BinlogEntry, BinlogPosition } from '../core/binlog.js';
import type { Logger } from '../core/log.js';
import { Replica, type ReplicaHandler, type ReplicaTimeouts } from '../replication/replica.js';
import type { SnapshotArrival } from '../replication/snapshot-arrival.js';
import { Migration, type MigrationOptions } from './migration.js';

export interface MasterLinkOptions {
  readonly masterHost: string;
  readonly masterPort: number;
  readonly masterAuth: string;
  /** master-client-user / -pwd: the ACL user for INFO server on the master's port P (empty: masterauth). */
  readonly masterClientUser?: string;
  readonly masterClientPwd?: string;
  /** Our port as the master sees it (A/B push the snapshot to it + 1000). */
  readonly localPort: number;
  readonly localIp?: string;
  readonly dbSyncPath: string;
  /** Take a new snapshot of every DB (SLAVEOF … force), else resume each DB from its checkpoint. */
  readonly force: boolean;
  /** One entry per DB of the master followed (`databases`), with what differs per DB. */
  readonly dbs: ReadonlyArray<Omit<MigrationOptions, 'masterHost' | 'masterPort' | 'replica' | 'dbSyncPath' | 'logger' | 'onFatal'>>;
  readonly logger: Logger;
  readonly timeouts?: Partial<ReplicaTimeouts>;
  readonly onFatal: (e: Error) => void;
}

/**
 * One master: the replica link it speaks over (one connection for all its DBs, as Pika's replica
 * has) and one Migration per DB. The link hands each DB's snapshot, entries and ack questions to
 * that DB's migration; nothing else crosses between DBs.
 */
export class MasterLink implements ReplicaHandler {
  readonly replica: Replica;
  private readonly migrations = new Map<number, Migration>();

  constructor(o: MasterLinkOptions) {
    const resumeFrom = new Map<number, BinlogPosition>();
    // A resumed load goes on from its spool's end: the master was acked that far.
    for (const d of o.dbs) if (d.resume !== null) resumeFrom.set(d.db, d.resumeLoad ? (d.resumeLoad.spool.durable ?? d.resume.applied) : d.resume.applied);
    this.replica = new Replica({
      masterHost: o.masterHost,
      masterPort: o.masterPort,
      masterAuth: o.masterAuth || undefined,
      ...(o.masterClientUser ? { masterClientAuth: { username: o.masterClientUser, password: o.masterClientPwd ?? '' } } : {}),
      localIp: o.localIp,
      localPort: o.localPort,
      dbSyncPath: o.dbSyncPath,
      force: o.force,
      dbs: o.dbs.map((d) => d.db),
      resumeFrom,
      // The ids are the master's, the same in every DB's checkpoint (the daemon checks that).
      ...identityOf(o.dbs.find((d) => d.resume !== null)?.resume ?? null),
      logger: o.logger,
      handler: this,
      fullSyncOnPurge: false,
      ...(o.timeouts ? { timeouts: o.timeouts } : {}),
    });
    for (const d of o.dbs) {
      this.migrations.set(
        d.db,
        new Migration({ ...d, masterHost: o.masterHost, masterPort: o.masterPort, replica: this.replica, dbSyncPath: o.dbSyncPath, logger: o.logger, onFatal: o.onFatal }),
      );
    }
    this.replica.on('fatal', (e: Error) => {
      for (const m of this.migrations.values()) m.linkFailed();
      o.onFatal(e);
    });
  }

  start(): void {
    for (const m of this.migrations.values()) m.start();
    this.replica.start();
  }

  /** Stops every DB's load, then the link, then records each DB's checkpoint (see Migration.stop). */
  async stop(remove: boolean): Promise<void> {
    for (const m of this.migrations.values()) m.abort();
    await this.replica.stop(remove);
    for (const m of this.migrations.values()) await m.stop(remove);
  }

  saveCheckpoints(): void {
    for (const m of this.migrations.values()) m.saveCheckpoint();
  }

  /** The migrations by source DB, in DB order. */
  get dbs(): ReadonlyArray<{ db: number; migration: Migration }> {
    return [...this.migrations].sort((a, b) => a[0] - b[0]).map(([db, migration]) => ({ db, migration }));
  }

  loadSnapshot(dir: string, db: number, start: BinlogPosition): Promise<void> {
    return this.of(db).loadSnapshot(dir, db, start);
  }

  snapshotArriving(dir: string, db: number, arrival: SnapshotArrival): void {
    this.of(db).snapshotArriving(dir, db, arrival);
  }

  snapshotAbandoned(db: number, why: Error): Promise<void> {
    return this.of(db).snapshotAbandoned(db, why);
  }

  applyEntry(db: number, entry: BinlogEntry): void | Promise<void> {
    return this.of(db).applyEntry(entry);
  }

  appliedPosition(db: number): BinlogPosition | null {
    return this.of(db).appliedPosition();
  }

  private of(db: number): Migration {
    const m = this.migrations.get(db);
    // The replica only follows the DBs it was given: anything else is a bug, not input.
    if (m === undefined) throw new Error(`no migration for db${db}`);
    return m;
  }
}

function identityOf(cp: { runId?: string; replicationId?: string } | null): { expectIdentity?: { runId?: string; replicationId?: string } } {
  if (cp === null) return {};
  return { expectIdentity: { ...(cp.runId ? { runId: cp.runId } : {}), ...(cp.replicationId ? { replicationId: cp.replicationId } : {}) } };
}
