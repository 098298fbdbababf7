/**
 * Peak RSS of reading one value of 64 MiB from a block compressed by zstd or zlib, in a child
 * process started as the CLI is (its shebang's V8 flags and malloc settings, under tsx): decoded as
 * a stream in 1 MiB pieces, the value is never held whole. Measured on a busy 2-core machine:
 * 116–134 MB streamed, 228–247 MB when such blocks were decompressed whole (the value, and the
 * block read whole beside it). test/daemon/load-memory.test.ts bounds the whole `load` of a 64 MiB
 * string from an uncompressed block and from a snappy one.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { shippedEnv, shippedNodeFlags } from '../helpers/shipped-cli.js';
import { cleanup, writeDb } from './writer.js';

const child = new URL('./read-large-values.ts', import.meta.url).pathname;
/** Peak RSS allowed, in kB: ~45 MiB above the streamed reads' peak, ~50 MiB below the whole reads'. */
const BOUND_KB = 180 * 1024;
const VALUE_BYTES = 64 << 20;

const works: string[] = [];
after(() => works.forEach(cleanup));

describe('one value of 64 MiB in a compressed block: peak RSS', () => {
  for (const compression of ['zstd', 'zlib']) {
    it(`reads it in pieces without holding it (${compression}: decoded as a stream)`, { timeout: 60_000 }, async () => {
      const { dir, dump, work } = writeDb([
        'option format_version 5',
        `option compression ${compression}`,
        // Words, which the codec shrinks enough for RocksDB to keep the block compressed.
        'option values text',
        'option write_buffer_size 268435456',
        'open',
        'put default a x',
        `bigput default huge ${VALUE_BYTES} 7`,
        'flush',
        'dump',
        'close',
      ]);
      works.push(work);
      const { stdout } = await promisify(execFile)(process.execPath, [...shippedNodeFlags(), '--import', 'tsx', child, dir], { env: shippedEnv(), maxBuffer: 1 << 20 });
      const got = JSON.parse(stdout) as { pairs: Array<[string, string]>; large: string[]; peakKb: number };
      assert.deepEqual(got.pairs, dump.find((c) => c.name === 'default')!.pairs, 'as RocksDB iterates it');
      assert.deepEqual(got.large, ['huge'], 'read as a LargeValue');
      assert.ok(got.peakKb < BOUND_KB, `peak RSS ${(got.peakKb / 1024).toFixed(0)} MiB, bound ${BOUND_KB / 1024} MiB`);
      console.log(`# peak RSS ${(got.peakKb / 1024).toFixed(0)} MiB (${compression})`);
    });
  }
});
