/**
 * L0 files as few sorted runs as their key ranges allow. Each L0 file is a source of the merge of
 * its own in RocksDB, because L0 files may overlap; but files written from keys in order (a bulk
 * load, Pika's sequential writes) do not, and a snapshot can hold dozens of them. Open side by
 * side, each holds its index block and two read windows: 16 files of 64 MB held ~15 MB before the
 * first key was out. Files whose user-key ranges do not touch can be read back to back like a
 * deeper level, one open at a time; no user key is in two of them, so sequence order cannot matter.
 */
import type { FileMeta } from './manifest.js';

type KeyCompare = (a: Buffer, alen: number, b: Buffer, blen: number) => number;

/**
 * Partitions `files` into runs of non-overlapping files, each run sorted by key. `ucmp` compares
 * user keys; the MANIFEST's smallest/largest are internal keys (user key + 8-byte trailer). A file
 * joins the first run whose last file ends strictly before it starts: taking the files by their
 * smallest key, that gives as few runs as the deepest overlap.
 */
export function nonOverlappingRuns(files: readonly FileMeta[], ucmp: KeyCompare): FileMeta[][] {
  const byStart = [...files].sort((a, b) => ucmp(a.smallest, a.smallest.length - 8, b.smallest, b.smallest.length - 8) || a.number - b.number);
  const runs: FileMeta[][] = [];
  for (const f of byStart) {
    const run = runs.find((r) => {
      const last = r[r.length - 1].largest;
      return ucmp(last, last.length - 8, f.smallest, f.smallest.length - 8) < 0;
    });
    if (run) run.push(f);
    else runs.push([f]);
  }
  return runs;
}
