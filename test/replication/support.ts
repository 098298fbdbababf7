import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { BinlogEntry, BinlogPosition } from '../../src/core/binlog.js';
import { silentLogger, type Logger } from '../../src/core/log.js';
import type { ReplicaHandler } from '../../src/replication/replica.js';
import pino from 'pino';
import { freePortBlock } from '../helpers/ports.js';

export { FIXTURES } from '../helpers/fixtures.js';

/** Logs to stderr when PM_TEST_LOG is set (debugging), else silent. */
export function testLogger(): Logger {
  return process.env.PM_TEST_LOG ? pino({ level: process.env.PM_TEST_LOG }, pino.destination(2)) : silentLogger();
}

/** A port P for the replica with P and P+1000 free (the A/B rsync daemon listens on P+1000): 10000–19999. */
export function replicaPort(): Promise<number> {
  return freePortBlock(10000, 9000, [0, 1000]);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** sha256 of every regular file under `dir`, keyed by relative path. */
export function checksums(dir: string, skip: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const rel = relative(dir, p);
      if (skip(rel)) continue;
      if (statSync(p).isDirectory()) walk(p);
      else out.set(rel, createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

/** Records what the replica hands over. `autoApply` makes every entry count as applied at once. */
export class RecordingHandler implements ReplicaHandler {
  snapshots: Array<{ dir: string; db: number; start: BinlogPosition; files: Map<string, string> }> = [];
  entries: BinlogEntry[] = [];
  /** Applied position per DB; `applied` is db0's. */
  readonly appliedOf = new Map<number, BinlogPosition | null>();
  appliedQueries = 0;
  constructor(public autoApply = true) {}
  get applied(): BinlogPosition | null {
    return this.appliedOf.get(0) ?? null;
  }
  set applied(p: BinlogPosition | null) {
    this.appliedOf.set(0, p);
  }
  async loadSnapshot(dir: string, db: number, start: BinlogPosition): Promise<void> {
    this.snapshots.push({ dir, db, start, files: checksums(dir) });
    this.appliedOf.set(db, start);
  }
  applyEntry(db: number, entry: BinlogEntry): void {
    this.entries.push(entry);
    if (this.autoApply) this.appliedOf.set(db, entry.end);
  }
  appliedPosition(db: number): BinlogPosition | null {
    this.appliedQueries++;
    return this.appliedOf.get(db) ?? null;
  }
  argvs(): string[] {
    return this.entries.map((e) => e.argv.map((a) => a.toString()).join(' '));
  }
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
