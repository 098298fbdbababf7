/**
 * Memory bounded by design (issue 15): `pika-migrate load`, the build as a child process with the
 * shipped V8 flags, of a dump whose one hash holds 1M fields of 300 bytes (~310 MB of payload) and
 * whose 64 strings are 1 MiB each. The bound sits far below that payload, so a reader or sink that
 * kept a key (or a growing part of it) in memory cannot pass, and ~25 MiB above the peak measured
 * on a busy 2-core machine (94 MiB alone, 100–105 MB beside another test file), so GC timing does
 * not make it flaky. Under tsx, which these tests ran before, the same loads took 125–129 MiB, and
 * bounds in commands alone reached 192 MiB (300 strings of 1 MiB took 670 MB built). `npm run
 * bench` loads the same dataset ('big-values'). One string of 64 MiB (read in pieces, written as
 * SET and SETRANGEs) stays under the same bound: 84 MiB in an uncompressed block, 82 MiB in a
 * snappy block decoded as a stream, 93 MiB for one hash field's value (under tsx: 112, 113 and
 * 118–122 MiB; 173 and 257 MiB when the value was read or decompressed whole).
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIG_FIELD_BYTES, BIG_HASH_FIELDS, BIG_STRING_BYTES, BIG_STRINGS, HUGE_STRING_BYTES, recipeScripts, writeDump3 } from '../../bench/datasets.js';
import { dumpValue, parseDump } from '../rocks/writer.js';
import { dataPrefix3, string3 } from '../pika/pika-dump-writer.js';
import { cliArgs, shippedEnv } from '../helpers/shipped-cli.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

/** Peak RSS allowed, in kB. */
const BOUND_KB = 120 * 1024;

/** Runs the CLI to its exit; its peak RSS (VmHWM) is sampled from /proc while it runs. */
async function loadPeakKb(args: string[]): Promise<{ code: number | null; peakKb: number; err: string }> {
  const proc = spawn(process.execPath, cliArgs(...args), { stdio: ['ignore', 'ignore', 'pipe'], env: shippedEnv() });
  let err = '';
  proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  let peakKb = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      // gone: the last sample stands
    }
  };
  const timer = setInterval(sample, 20);
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  clearInterval(timer);
  return { code, peakKb, err };
}

describe('load: peak RSS does not grow with one key’s size', () => {
  let work: string;
  let redis: RedisServer;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'pm-load-mem-'));
    writeDump3(join(work, 'db0'), recipeScripts('big-values'), work);
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it(`loads a 1M-field hash (${BIG_FIELD_BYTES} B values) and ${BIG_STRINGS} strings of 1 MiB under ${BOUND_KB / 1024} MiB`, { timeout: 60_000 }, async () => {
    const conf = join(work, 'load.conf');
    writeFileSync(conf, `target-redis-port : ${redis.port}\nlog-level : warn\n`);
    const { code, peakKb, err } = await loadPeakKb(['load', join(work, 'db0'), '-c', conf]);
    assert.equal(code, 0, err);
    const c = redis.client();
    assert.equal(await c.hlen('h'), BIG_HASH_FIELDS);
    for (let i = 0; i < BIG_STRINGS; i++) assert.equal(await c.strlen(`big${String(i).padStart(8, '0')}`), BIG_STRING_BYTES);
    assert.ok(peakKb > 0, 'VmHWM was sampled');
    assert.ok(peakKb < BOUND_KB, `peak RSS ${(peakKb / 1024).toFixed(0)} MiB, bound ${BOUND_KB / 1024} MiB`);
    console.log(`# peak RSS ${(peakKb / 1024).toFixed(0)} MiB`);
  });

  /**
   * Writes the bench's dataset `name` (its one type DB `db`) with RocksDB's own reading of column
   * family `cf` (length and FNV-1a of each value) dumped before close, and loads it into an empty
   * Redis under the bound.
   */
  async function loadDataset(name: string, db: 'strings' | 'hashes', cf: string): Promise<{ expected: Map<string, string>; peakKb: number }> {
    const dir = join(work, name);
    const script = recipeScripts(name)[db]!;
    writeDump3(join(dir, 'db0'), { [db]: [...script.slice(0, -1), `dump ${join(dir, 'dump.txt')}`, 'close'] }, dir);
    const expected = new Map(parseDump(readFileSync(join(dir, 'dump.txt'), 'latin1')).find((c) => c.name === cf)!.pairs);
    const conf = join(dir, 'load.conf');
    writeFileSync(conf, `target-redis-port : ${redis.port}\nlog-level : warn\n`);
    await redis.client().flushall();
    const { code, peakKb, err } = await loadPeakKb(['load', join(dir, 'db0'), '-c', conf]);
    assert.equal(code, 0, err);
    assert.ok(peakKb < BOUND_KB, `peak RSS ${(peakKb / 1024).toFixed(0)} MiB, bound ${BOUND_KB / 1024} MiB`);
    return { expected, peakKb };
  }

  for (const [name, block] of [
    ['huge-string', 'an uncompressed block: read in pieces'],
    ['huge-text', 'a snappy block: decoded as a stream'],
  ] as const) {
    it(`loads one string of 64 MiB under the same bound (${block}, written as SET, SETRANGE…)`, { timeout: 60_000 }, async () => {
      const { expected, peakKb } = await loadDataset(name, 'strings', 'default');
      const value = (await redis.client().getBuffer('huge00000000'))!;
      assert.equal(value.length, HUGE_STRING_BYTES);
      assert.equal(dumpValue(string3(value)), expected.get(Buffer.from('huge00000000').toString('hex')));
      console.log(`# peak RSS ${(peakKb / 1024).toFixed(0)} MiB (one ${HUGE_STRING_BYTES >> 20} MiB string, ${name})`);
    });
  }

  it('loads a hash whose one field holds 64 MiB under the same bound (a snappy block decoded as a stream; built in a staging key, moved in by a script)', { timeout: 60_000 }, async () => {
    const { expected, peakKb } = await loadDataset('huge-field', 'hashes', 'data_cf');
    const c = redis.client();
    const value = (await c.hgetBuffer('huge', '00000000'))!;
    assert.equal(value.length, HUGE_STRING_BYTES);
    assert.equal(dumpValue(value), expected.get(Buffer.concat([dataPrefix3(Buffer.from('huge'), 1), Buffer.from('00000000')]).toString('hex')));
    assert.deepEqual(await c.keys('pika-migrate:staging*'), [], 'no staging key is left');
    console.log(`# peak RSS ${(peakKb / 1024).toFixed(0)} MiB (one hash field value of ${HUGE_STRING_BYTES >> 20} MiB)`);
  });
});
