import { FatalError } from '../core/errors.js';
import { abortedWhenSettled, sleep } from '../core/interruptible.js';
import type { Sink } from '../sink/sink.js';

const POLL_MS = 200;

/**
 * Flushes the sinks for a stop, unless the target refuses what they hold (OOM with noeviction,
 * …): that flush would retry without end, so the stop gives up at once with a FatalError naming
 * the refusal instead of hanging on it.
 */
export async function flushOrRefused(sinks: readonly Sink[]): Promise<void> {
  let done = false;
  const flushed = Promise.all(sinks.map((s) => s.flush())).then(() => {
    done = true;
  });
  flushed.catch(() => {});
  const settled = abortedWhenSettled(flushed);
  for (;;) {
    const refused = sinks.map((s) => s.refusedWith()).find((r) => r !== null);
    if (refused !== undefined && !done) throw new FatalError(`commands could not be flushed to the target: ${refused}`);
    await sleep(POLL_MS, settled);
    if (done) return;
    // Settled without `done`: the flush failed, and says why.
    if (settled.aborted) return flushed;
  }
}
