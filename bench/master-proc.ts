/**
 * The test master (family C) in a process of its own, so the benchmark's daemon gets the machine's
 * other core as it would against a real Pika. Driven over IPC by bench/run.ts:
 *   → {port}                  once listening
 *   ← {go: n}                 write n small SETs as fast as the master streams them
 *   → {done: {seconds, n}}    once the replica has acked the last one
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

process.on('message', (m: { go?: number; stop?: true }) => {
  if (m.stop) {
    void master.stop().then(() => process.exit(0));
    return;
  }
  const n = m.go;
  if (n === undefined) return;
  void (async () => {
    const t0 = performance.now();
    let end = master.write(['set', 'inc:0', 'v']);
    // In slices, so the master's own pump streams while entries are produced.
    for (let i = 1; i < n; i++) {
      end = master.write(['set', `inc:${i % 100000}`, `v${i}`]);
      if (i % 2000 === 0) await new Promise((r) => setImmediate(r));
    }
    while (!acked(end)) await new Promise((r) => setTimeout(r, 2));
    send({ done: { seconds: (performance.now() - t0) / 1000, n } });
  })();
});
