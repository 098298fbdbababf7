/**
 * A timely GC for memory outside V8's heap. V8 frees a Buffer's memory only at a GC, and GCs come
 * from JS allocation, not from the bytes of buffers: 64 strings of 1 MiB allocate almost no JS
 * objects, so ~40 MB of values already written to Redis piled up before V8's external-memory
 * limit (64 MB) forced one, and peak RSS went from ~95 to ~115 MB. Blocks of 1 KB strings do the
 * same more slowly (a few objects per KB): 1M of them peaked at 116–118 MiB, 109–110 once their
 * blocks and batch layouts were noted here, and loaded 15–20 % faster (fewer, emptier full GCs).
 * Whoever allocates a buffer that dies once its bytes are handed on notes it here; every
 * BYTES_PER_YOUNG_GC of them, a young-generation GC (a few ms when what is alive is small) frees
 * the ones already dead. Only in the CLI, which exposes `gc` (core/v8-tuning.ts); elsewhere this
 * only counts.
 */
import { collectYoung } from './v8-tuning.js';

/** 4, 8 and 16 MiB gave peaks within ~2 MB of each other on 64 values of 1 MiB; the lowest keeps the fewest dead. 2 MiB did no better on 1 KB strings. */
export const BYTES_PER_YOUNG_GC = 4 << 20;

let since = 0;
let total = 0;

export function noteShortLivedBytes(bytes: number): void {
  total += bytes;
  since += bytes;
  if (since < BYTES_PER_YOUNG_GC) return;
  since = 0;
  collectYoung();
}

/** Bytes noted since the process started (tests check who notes what). */
export function shortLivedBytesNoted(): number {
  return total;
}
