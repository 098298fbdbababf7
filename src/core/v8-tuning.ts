/**
 * The CLI's V8 settings that V8 reads while running, set by `tuneV8()` as the CLI starts. The
 * ones it reads only when it creates the heap are in the shebang of src/cli.ts, with glibc's
 * `MALLOC_MMAP_THRESHOLD_`; the shebang has no room for these (kernels before 5.1 read only its
 * first 127 bytes). Why each value: the README's Memory section.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options: { type: 'minor' | 'major' }) => void;

let gc: Gc | undefined = (globalThis as { gc?: Gc }).gc;

export function tuneV8(): void {
  // Read at each major GC, when V8 sets the next limit.
  setFlagsFromString('--heap-growing-percent=30');
  // Exposes `gc` to contexts created from now on: a new one hands it over.
  setFlagsFromString('--expose-gc');
  gc ??= runInNewContext('gc') as Gc;
}

/** A young-generation GC; false (and nothing done) when `tuneV8` has not run, as in library use. */
export function collectYoung(): boolean {
  if (gc === undefined) return false;
  gc({ type: 'minor' });
  return true;
}
