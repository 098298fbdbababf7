/**
 * Real Pika dumps, copied and damaged the way an incomplete copy or a lost file damages them: every
 * case is refused with a CorruptionError naming the file and the byte offset, never read as a
 * smaller dump. The reader is compared with the intact copy first, so a case cannot pass by reading
 * nothing at all.
 */
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync, truncateSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CorruptionError } from '../../src/core/errors.js';
import { readLogRecords } from '../../src/snapshot/rocks/log-reader.js';
import { readVersionEdits } from '../../src/snapshot/rocks/manifest.js';
import { readSnapshotBatches } from '../../src/snapshot/pika/snapshot.js';
import { FIXTURES } from '../helpers/fixtures.js';

const works: string[] = [];
after(() => works.forEach((w) => rmSync(w, { recursive: true, force: true })));

/** A writable copy of a fixture's `dump/`; returns its `db0`. */
function copyDump(version: string): string {
  const w = mkdtempSync(join(tmpdir(), 'pm-damaged-'));
  works.push(w);
  cpSync(join(FIXTURES, 'snapshots', `${version}-base`, 'dump'), w, { recursive: true });
  return join(w, 'db0');
}

function manifestOf(dir: string): string {
  return join(dir, readdirSync(dir).find((f) => f.startsWith('MANIFEST-'))!);
}

async function keysOf(db0: string): Promise<number> {
  let n = 0;
  for await (const b of readSnapshotBatches(db0, { db: 0, nowMs: Date.now(), chunkSize: 100, chunkBytes: 1 << 20 })) {
    n += b.filter((r) => r.first).length;
  }
  return n;
}

async function recordOffsets(path: string): Promise<number[]> {
  const out: number[] = [];
  for await (const r of readLogRecords(path, { truncatedTail: 'error', corruption: 'error' })) out.push(r.offset);
  return out;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function assertRefused(db0: string, where: string, msg: RegExp): Promise<void> {
  await assert.rejects(keysOf(db0), (e: unknown) => {
    assert.ok(e instanceof CorruptionError, `CorruptionError, got ${String(e)}`);
    assert.match(e.where, new RegExp(`^${esc(where)}$`));
    assert.match(e.message, msg);
    return true;
  });
}

describe('damaged real dumps are refused, not read as smaller ones', () => {
  it('reads the intact copies whole (the baseline the refusals are measured against)', async () => {
    assert.equal(await keysOf(copyDump('3.2.7')), 2832);
    assert.equal(await keysOf(copyDump('4.0.1')), 2830);
  });

  it('an emptied MANIFEST (truncate -s 0) is refused at offset 0', async () => {
    const db0 = copyDump('3.2.7');
    const m = manifestOf(join(db0, 'strings'));
    truncateSync(m, 0);
    await assertRefused(db0, `${m}@0`, /MANIFEST is empty/);
  });

  it('a MANIFEST that ends inside a record is refused at that record', async () => {
    const db0 = copyDump('3.5.5');
    const m = manifestOf(join(db0, 'strings'));
    const offs = await recordOffsets(m);
    const last = offs.at(-1)!;
    truncateSync(m, last + 9); // its header and 2 bytes of its payload
    await assertRefused(db0, `${m}@${last}`, /record of \d+ bytes cut off by the end of the file/);
  });

  it('a MANIFEST that ends inside a record header is refused there', async () => {
    const db0 = copyDump('3.2.7');
    const m = manifestOf(join(db0, 'zsets'));
    const offs = await recordOffsets(m);
    truncateSync(m, offs[3] + 4);
    await assertRefused(db0, `${m}@${offs[3]}`, /record header cut off/);
  });

  it('a MANIFEST cut at a record boundary before next-file is refused as RocksDB does', async () => {
    const db0 = copyDump('3.2.7');
    const m = manifestOf(join(db0, 'hashes'));
    const offs = await recordOffsets(m);
    truncateSync(m, offs[2]);
    await assertRefused(db0, `${m}@${offs[2]}`, /no meta-nextfile entry in descriptor/);
  });

  it('a MANIFEST cut at a record boundary after next-file is refused: an SST on disk is newer than it', async () => {
    const db0 = copyDump('4.0.1');
    const m = manifestOf(join(db0, '1'));
    const offs = await recordOffsets(m);
    const cut = offs[Math.floor(offs.length / 2)];
    truncateSync(m, cut);
    await assertRefused(db0, `${m}@${cut}`, /\d+\.sst is newer than the MANIFEST's next file number \d+/);
  });

  it('trailing zeros after the last record (preallocation) are not a torn header', async () => {
    const db0 = copyDump('3.2.7');
    appendFileSync(manifestOf(join(db0, 'sets')), Buffer.alloc(5));
    assert.equal(await keysOf(db0), 2832);
  });

  it('CURRENT naming a MANIFEST that is not there is refused at CURRENT', async () => {
    const db0 = copyDump('3.5.5');
    unlinkSync(manifestOf(join(db0, 'lists')));
    await assertRefused(db0, `${join(db0, 'lists', 'CURRENT')}@0`, /CURRENT names a MANIFEST that cannot be read: ENOENT/);
  });

  it('a live SST missing on disk is refused at the MANIFEST edit that added it', async () => {
    const db0 = copyDump('4.0.1');
    const dir = join(db0, '0');
    const sst = readdirSync(dir).filter((f) => f.endsWith('.sst')).sort()[0];
    unlinkSync(join(dir, sst));
    let addedAt = -1;
    for await (const e of readVersionEdits(manifestOf(dir))) if (e.newFiles.some((f) => f.number === Number(sst.slice(0, 6)))) addedAt = e.offset;
    assert.ok(addedAt > 0);
    await assertRefused(db0, `${manifestOf(dir)}@${addedAt}`, new RegExp(`live SST .*${esc(sst)} of column family '\\w+' cannot be read`));
  });

  it('a 3.x type directory that is missing or emptied is refused, not read as "no hashes"', async () => {
    const missing = copyDump('3.2.7');
    rmSync(join(missing, 'hashes'), { recursive: true });
    await assertRefused(missing, missing, /3\.x dump lacks type directory hashes/);
    const emptied = copyDump('3.2.7');
    for (const f of readdirSync(join(emptied, 'hashes'))) unlinkSync(join(emptied, 'hashes', f));
    await assertRefused(emptied, `${join(emptied, 'hashes', 'CURRENT')}@0`, /cannot read CURRENT: ENOENT/);
  });

  it('a 4.0 dump missing its last instance directories is refused: its keys are placed for more instances', async () => {
    const one = copyDump('4.0.1');
    rmSync(join(one, '2'), { recursive: true });
    await assertRefused(one, one, /placed for 3 instances \(db-instance-num 3\): 2\/ is missing/);
    const two = copyDump('4.0.1');
    rmSync(join(two, '1'), { recursive: true });
    rmSync(join(two, '2'), { recursive: true });
    await assertRefused(two, two, /placed for 3 instances \(db-instance-num 3\): 1\/ … 2\/ are missing/);
  });
});
