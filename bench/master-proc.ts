/**
 * The test master (family C) in a process of its own, so the benchmark's daemon gets the machine's
 * other core as it would against a real Pika. Driven over IPC by bench/run.ts:
 *   → {port}                  once listening
 *   ← {go: n}                 write n small SETs to the binlog, then stream them
 *   → {done: {seconds, n}}    once the replica has acked the last one (seconds from the first sent)
 *   ← {live: {rate, seconds}} write at `rate` entries/s for `seconds` while streaming (live lag)
 *   → {done: {seconds, n}}    likewise
 */
import { join } from 'node:path';
import type { BinlogPosition } from '../src/core/binlog.js';
import { FIXTURES } from '../test/helpers/fixtures.js';
import { FakeMaster } from '../test/master/fake-master.js';

const send = (m: unknown): void => void process.send?.(m);

const master = new FakeMaster({ family: 'C', snapshotSource: join(FIXTURES, 'snapshots/3.5.5-base/dump/db0'), keepaliveMs: 500 });
await master.start();
send({ port: master.port });

const acked = (end: BinlogPosition): boolean => {
  const st = master.replicaState;
  return st !== null && st.acked.filenum === end.filenum && st.acked.offset === end.offset;
};

process.on('message', (m: { go?: number; live?: { rate: number; seconds: number }; stop?: true }) => {
  if (m.live) {
    void live(m.live.rate, m.live.seconds);
    return;
  }
  if (m.stop) {
    void master.stop().then(() => process.exit(0));
    return;
  }
  const n = m.go;
  if (n === undefined) return;
  void (async () => {
    // The binlog is written first, with the stream held, as a real master's lies on disk: the
    // clock then runs for streaming and applying only, not for this double's slow producing.
    master.stall(true);
    let end = master.write(['set', 'inc:0', 'v']);
    for (let i = 1; i < n; i++) end = master.write(['set', `inc:${i % 100000}`, `v${i}`]);
    const t0 = performance.now();
    master.stall(false);
    while (!acked(end)) await new Promise((r) => setTimeout(r, 2));
    send({ done: { seconds: (performance.now() - t0) / 1000, n } });
  })();
});

/** Writes at a steady rate, in 10 ms slices, while the stream runs: what a busy master does. */
async function live(rate: number, seconds: number): Promise<void> {
  const t0 = performance.now();
  let n = 0;
  let end: BinlogPosition | null = null;
  while (performance.now() - t0 < seconds * 1000) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    for (; n < due; n++) end = master.write(['set', `live:${n % 100000}`, `v${n}`]);
    await new Promise((r) => setTimeout(r, 10));
  }
  while (end !== null && !acked(end)) await new Promise((r) => setTimeout(r, 2));
  send({ done: { seconds: (performance.now() - t0) / 1000, n } });
}
