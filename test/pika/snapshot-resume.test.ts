/**
 * A read started at a key (ReadSnapshotOptions.from, a resumed load) emits exactly the records a
 * whole read emits from that key on, with the same positions: every type, A–C and D, keys cut into
 * several chunks, and (3.5.5) a key holding a 00 byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { SnapshotRecord } from '../../src/core/record.js';
import { readSnapshot, type ReadSnapshotOptions } from '../../src/snapshot/pika/snapshot.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { loadExpected } from './expected.js';

const FIX = `${FIXTURES}/snapshots`;

async function all(dir: string, opts: ReadSnapshotOptions): Promise<SnapshotRecord[]> {
  const out: SnapshotRecord[] = [];
  for await (const r of readSnapshot(dir, opts)) out.push(r);
  return out;
}

const brief = (r: SnapshotRecord) => `${r.type} ${r.key.toString('hex')} ${JSON.stringify(r.pos)} ${r.first}${r.last}`;

for (const v of ['3.5.5', '4.0.1', '3.2.7']) {
  test(`${v}: a read resumed at any key's first record continues the whole read exactly`, async () => {
    const dir = join(FIX, `${v}-base/dump/db0`);
    const base: ReadSnapshotOptions = { db: 0, nowMs: loadExpected(join(FIX, `${v}-base/expected.json`)).at, chunkSize: 3, chunkBytes: 4096 };
    const whole = await all(dir, base);
    const starts = whole.map((r, i) => [r, i] as const).filter(([r]) => r.first);
    assert.ok(starts.length > 20, 'enough keys to resume at');
    assert.ok(whole.some((r) => !r.first), 'some key comes in several chunks');
    const types = new Set(starts.map(([r]) => r.type));
    // Every type's first key, its last key, and a spread in between.
    const picks = new Set<number>();
    for (const t of types) {
      const of = starts.filter(([r]) => r.type === t);
      picks.add(of[0][1]).add(of[of.length - 1][1]).add(of[Math.floor(of.length / 2)][1]);
    }
    for (let i = 0; i < starts.length; i += Math.max(1, Math.floor(starts.length / 15))) picks.add(starts[i][1]);
    for (const [r, i] of starts) if (r.key.includes(0)) picks.add(i);
    for (const at of picks) {
      const r = whole[at];
      const rest = await all(dir, { ...base, from: { type: r.type, key: r.key, seq: (r.pos as { seq: number }).seq } });
      assert.deepEqual(rest.map(brief), whole.slice(at).map(brief), `resumed at ${brief(r)}`);
    }
  });
}
