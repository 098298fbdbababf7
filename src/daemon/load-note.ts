import type { Redis } from 'ioredis';
import type { Config } from '../config/load.js';
import { FatalError } from '../core/errors.js';
import { SINK_DEFAULTS } from '../sink/pool.js';
import { openConnection, targetName } from '../sink/connection.js';
import { targetConnectionOptions } from './target.js';

/** The hash in the target DB that says a `load` is under way there, and with which inputs. */
export const LOAD_NOTE_KEY = 'pika-migrate:load';
/** Where the load's senders record what they applied (apart from the daemon's pika-migrate:applied). */
export const LOAD_APPLIED_KEY = 'pika-migrate:load-applied';

/** What makes a load reproducible: the same dump files, the same instant for liveness, the same settings. */
export interface LoadNote {
  readonly fingerprint: string;
  readonly nowMs: number;
  readonly settings: string;
  readonly dir: string;
}

/**
 * `pika-migrate load` into one Redis is resumable: its batches record each sender's position in
 * LOAD_APPLIED_KEY (as a full sync's do), and LOAD_NOTE_KEY keeps the inputs that make the
 * commands and their positions the same in every run. A run that finds the note of the same dump
 * and settings reads the dump again with the note's instant and skips what each sender applied;
 * one that finds another load's note stops rather than mix two. The note goes once a load ends.
 */
export class LoadNotes {
  private constructor(
    private readonly c: Redis,
    private readonly where: string,
  ) {}

  /** The note of a load into Redis DB `db` (default `target-redis-db`). */
  static async open(config: Config, db?: number): Promise<LoadNotes> {
    const endpoint = { ...targetConnectionOptions(config), ...(db === undefined ? {} : { db }) };
    try {
      const c = await openConnection({ ...endpoint, connectTimeoutMs: SINK_DEFAULTS.connectTimeoutMs }, 'pika-migrate-load-note');
      return new LoadNotes(c, `${targetName(endpoint)}/${endpoint.db}`);
    } catch (e) {
      throw e instanceof FatalError ? e : new FatalError((e as Error).message);
    }
  }

  async read(): Promise<LoadNote | null> {
    const h = await this.c.hgetall(LOAD_NOTE_KEY);
    if (h.fingerprint === undefined) return null;
    return { fingerprint: h.fingerprint, nowMs: Number(h.nowMs), settings: h.settings ?? '', dir: h.dir ?? '' };
  }

  /** A new load: the note, and no positions of an older one. */
  async start(note: LoadNote): Promise<void> {
    try {
      await this.c.del(LOAD_APPLIED_KEY);
      await this.c.hset(LOAD_NOTE_KEY, { ...note, nowMs: String(note.nowMs) });
    } catch (e) {
      throw new FatalError(`Redis at ${this.where} refused the load's note ${LOAD_NOTE_KEY}: ${(e as Error).message}`);
    }
  }

  /** The load is complete: nothing is left to resume. */
  async finish(): Promise<void> {
    await this.c.del(LOAD_NOTE_KEY, LOAD_APPLIED_KEY);
  }

  /** Why `note` cannot be resumed with `want`, or null when it can. */
  static mismatch(note: LoadNote, want: LoadNote, where: string): string | null {
    if (note.fingerprint !== want.fingerprint) return `the target ${where} holds an interrupted load of another dump (${note.dir}, files differ from ${want.dir})`;
    if (note.settings !== want.settings) return `the target ${where} holds an interrupted load of this dump with other settings (${note.settings}, now ${want.settings})`;
    return null;
  }

  get target(): string {
    return this.where;
  }

  close(): void {
    this.c.disconnect();
  }
}
