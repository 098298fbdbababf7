import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The note that the target lost writes it had acknowledged, kept under `db-sync-path` so that a
 * restart does not resume from a checkpoint past the hole: until the operator starts over
 * (`SLAVEOF <master> force`, or `SLAVEOF NO ONE`), the daemon follows no master.
 */
export class TargetLostRecord {
  readonly path: string;

  constructor(dbSyncPath: string) {
    this.path = join(dbSyncPath, 'pika-migrate.target-lost-writes');
  }

  /** What was lost (the error's message), or null when the target lost nothing. */
  read(): string | null {
    try {
      return readFileSync(this.path, 'utf8').trim();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  write(message: string): void {
    mkdirSync(join(this.path, '..'), { recursive: true });
    const fd = openSync(this.path, 'w');
    try {
      writeSync(fd, `${message}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}
