import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes of the files under `path` (apparent sizes, symlinks not followed); 0 if it does not exist. */
export async function dirBytes(path: string): Promise<number> {
  // Files come and go while we walk (the spool, a snapshot being replaced): a vanished entry counts 0.
  let st;
  try {
    st = await lstat(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  let names: string[];
  try {
    names = await readdir(path);
  } catch {
    return 0;
  }
  let total = 0;
  for (const n of names) total += await dirBytes(join(path, n));
  return total;
}

/**
 * The size of a few directories for INFO, walked in the background at most once a minute (Pika
 * caches its `db_size` and `log_size` for 60 s too): a snapshot directory can hold many files, and
 * INFO must answer at once. Until the first walk ends the size reads 0.
 */
export class DirSizes {
  private readonly sizes = new Map<string, number>();
  private walkedAt = -Infinity;
  private walking = false;

  constructor(
    private readonly paths: readonly string[],
    private readonly maxAgeMs = 60_000,
  ) {}

  /** The last known size; starts a new walk when the last one is older than the limit. */
  get(path: string): number {
    if (!this.walking && Date.now() - this.walkedAt >= this.maxAgeMs) void this.refresh();
    return this.sizes.get(path) ?? 0;
  }

  async refresh(): Promise<void> {
    this.walking = true;
    try {
      for (const p of this.paths) this.sizes.set(p, await dirBytes(p));
      this.walkedAt = Date.now();
    } finally {
      this.walking = false;
    }
  }
}
