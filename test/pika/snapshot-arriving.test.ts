/**
 * A snapshot read while it still arrives (an A/B push, dir by dir): each type dir is opened only
 * once its push ended, the records are the same as a read of the whole dump, and a damaged dir
 * stops the read where it is reached.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CorruptionError } from '../../src/core/errors.js';
import type { SnapshotRecord } from '../../src/core/record.js';
import { readSnapshotBatches } from '../../src/snapshot/pika/snapshot.js';
import { FIXTURES } from '../helpers/fixtures.js';

const works: string[] = [];
after(() => works.forEach((w) => rmSync(w, { recursive: true, force: true })));

function copyDump(version: string): string {
  const w = mkdtempSync(join(tmpdir(), 'pm-arriving-'));
  works.push(w);
  cpSync(join(FIXTURES, 'snapshots', `${version}-base`, 'dump'), w, { recursive: true });
  return join(w, 'db0');
}

/** Dirs made ready by hand; `asked` lists the names waited for, in order. */
function gate() {
  const asked: string[] = [];
  const open = new Map<string, () => void>();
  const waits = new Map<string, Promise<void>>();
  const waitFor = (name: string): Promise<void> => {
    let w = waits.get(name);
    if (w === undefined) {
      w = new Promise<void>((r) => open.set(name, r));
      waits.set(name, w);
    }
    return w;
  };
  return {
    asked,
    ready: (name: string) => {
      asked.push(name);
      return waitFor(name);
    },
    release: (name: string) => {
      void waitFor(name);
      open.get(name)!();
    },
  };
}

const NOW = Date.parse('2026-12-06T00:00:00Z');
const opts = { db: 0, nowMs: NOW, chunkSize: 100, chunkBytes: 1 << 20 };
const sig = (r: SnapshotRecord) => `${r.type}:${r.key.toString('hex')}:${JSON.stringify(r.pos)}`;

async function all(gen: AsyncGenerator<SnapshotRecord[]>): Promise<SnapshotRecord[]> {
  const out: SnapshotRecord[] = [];
  for await (const b of gen) out.push(...b);
  return out;
}

describe('reading a snapshot while its type dirs arrive (dirReady)', () => {
  it('waits for each dir in type order, reading the ones that are there, and reads what a whole read reads', async () => {
    const db0 = copyDump('3.2.7');
    const whole = await all(readSnapshotBatches(db0, opts));
    const g = gate();
    const estimates: number[] = [];
    const got: SnapshotRecord[] = [];
    const reading = (async () => {
      for await (const b of readSnapshotBatches(db0, { ...opts, dirReady: g.ready, onEstimatedKeys: (n) => estimates.push(n) })) got.push(...b);
    })();
    g.release('strings');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(g.asked, ['strings', 'hashes'], 'hashes waited for, nothing after it');
    assert.ok(got.length > 0 && got.every((r) => r.type === 'string'), `only strings before hashes arrived (${got.length} records)`);
    assert.equal(got.length, whole.filter((r) => r.type === 'string').length, 'every string read meanwhile');
    for (const t of ['zsets', 'hashes', 'lists', 'sets']) g.release(t);
    await reading;
    assert.deepEqual(g.asked, ['strings', 'hashes', 'lists', 'sets', 'zsets']);
    assert.deepEqual(got.map(sig), whole.map(sig));
    assert.equal(estimates.length, 5, 'the estimate grows as each dir opens');
    assert.ok(estimates.every((n, i) => i === 0 || n >= estimates[i - 1]));
  });

  it('stops at a damaged dir when it is reached, after the records of the types before it', async () => {
    const db0 = copyDump('3.2.7');
    const zsets = join(db0, 'zsets');
    unlinkSync(join(zsets, readdirSync(zsets).find((f) => f.startsWith('MANIFEST-'))!));
    // A whole read refuses before its first record.
    const eager: SnapshotRecord[] = [];
    await assert.rejects(
      (async () => {
        for await (const b of readSnapshotBatches(db0, opts)) eager.push(...b);
      })(),
      CorruptionError,
    );
    assert.equal(eager.length, 0);
    const got: SnapshotRecord[] = [];
    await assert.rejects(
      (async () => {
        for await (const b of readSnapshotBatches(db0, { ...opts, dirReady: () => Promise.resolve() })) got.push(...b);
      })(),
      (e: unknown) => e instanceof CorruptionError && e.where.startsWith(zsets),
    );
    assert.ok(got.length > 0 && got.every((r) => r.type !== 'zset'), 'the types before zsets were read');
  });

  it('ends with the error an abandoned transfer gives', async () => {
    const db0 = copyDump('3.2.7');
    const why = new Error('push abandoned');
    await assert.rejects(all(readSnapshotBatches(db0, { ...opts, dirReady: (name) => (name === 'strings' ? Promise.resolve() : Promise.reject(why)) })), (e) => e === why);
  });
});
