import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What tells a received snapshot from another one: the names and sizes of its files, hashed.
 * RocksDB files are written once and never changed in place, so a dump whose every file has the
 * same name and size is the same dump; a resumed load checks it before reading on, since the
 * positions it resumes at only hold in the dump they came from. Null when the directory is gone.
 */
export function snapshotFingerprint(dir: string): string | null {
  const h = createHash('sha1');
  const walk = (rel: string): void => {
    const names = readdirSync(join(dir, rel)).sort();
    for (const name of names) {
      const p = rel === '' ? name : `${rel}/${name}`;
      const st = statSync(join(dir, p));
      if (st.isDirectory()) walk(p);
      else h.update(`${p}\0${st.size}\n`);
    }
  };
  try {
    walk('');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return h.digest('hex');
}
