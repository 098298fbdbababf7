/**
 * Big values and a timely GC. V8 frees a buffer's memory only at a GC, and GCs come from JS
 * allocation, not from the bytes of buffers: 64 strings of 1 MiB allocate almost no JS objects,
 * so ~40 MB of values already written to Redis piled up before V8's external-memory limit (64 MB)
 * forced one, and peak RSS went from ~95 to ~115 MB. Whoever allocates a large buffer that dies
 * once its value is sent notes it here; every LARGE_BYTES_PER_GC of them, a young-generation GC
 * (a few ms when what is alive is small) frees the ones already dead. Only in the CLI, which
 * exposes `gc` (core/v8-tuning.ts); elsewhere this does nothing.
 */
import { collectYoung } from './v8-tuning.js';

/** 4, 8 and 16 MiB gave peaks within ~2 MB of each other on 64 values of 1 MiB; the lowest keeps the fewest dead. */
export const LARGE_BYTES_PER_GC = 4 << 20;

let since = 0;

export function noteLargeBuffer(bytes: number): void {
  since += bytes;
  if (since < LARGE_BYTES_PER_GC) return;
  since = 0;
  collectYoung();
}
