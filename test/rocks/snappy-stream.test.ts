/**
 * The streamed snappy decoder (big values in snappy blocks) against snappyjs's whole-buffer codec:
 * the same bytes, read in pieces of any size, skipped, across its 256 KiB input refills; damage is a
 * CorruptionError, and a copy past its 64 KiB window (valid snappy that C++ snappy never writes) is
 * a FarCopyError the block reader answers by decompressing whole.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compress } from 'snappyjs';
import { CorruptionError } from '../../src/core/errors.js';
import { FarCopyError, SnappyStream } from '../../src/snapshot/rocks/snappy-stream.js';

function open(z: Buffer, onInput?: (c: Buffer) => void): Promise<SnappyStream> {
  return SnappyStream.open(
    async (buf, at, len) => {
      assert.ok(at + len <= z.length, 'reads stay inside the stream');
      z.copy(buf, 0, at, at + len);
    },
    z.length,
    'test@0',
    onInput,
  );
}

/** Deterministic data: words (many short copies), runs (overlapping copies), noise (long literals). */
function sample(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  const words = ['pika', 'redis', 'rocksdb', 'snapshot', 'binlog', 'x'];
  let i = 0;
  while (i < size) {
    const mode = rnd() % 10;
    const n = Math.min(size - i, 1 + (rnd() % (mode < 2 ? 200_000 : 3000)));
    if (mode === 0) for (let k = 0; k < n; k++) out[i + k] = rnd() >>> 24;
    else if (mode === 1) out.fill(rnd() & 0xff, i, i + n);
    else for (let k = 0; k < n; ) for (const c of words[rnd() % words.length]) if (k < n) out[i + k++] = c.charCodeAt(0);
    i += n;
  }
  return out;
}

describe('SnappyStream', () => {
  for (const [size, seed] of [
    [0, 1],
    [1, 2],
    [70_000, 3],
    [3 << 20, 4],
  ] as const) {
    it(`decodes ${size} bytes in pieces of any size, as snappyjs does whole`, async () => {
      const data = sample(size, seed);
      const z = Buffer.from(compress(data));
      let seen = 0;
      const s = await open(z, (c) => (seen += c.length));
      assert.equal(s.length, size);
      const got = Buffer.alloc(size);
      let at = 0;
      for (const step of [1, 7, 4096, 65_537, 300_000]) {
        const n = Math.min(step, size - at);
        await s.read(got, at, n);
        at += n;
      }
      await s.read(got, at, size - at);
      await s.finish();
      assert.ok(got.equals(data));
      assert.equal(seen, z.length, 'every compressed byte told once');
      assert.ok(s.lastBytes().equals(data.subarray(Math.max(0, size - 65_536))));
    });
  }

  it('skips, then reads on from the same place', async () => {
    const data = sample(2 << 20, 9);
    const s = await open(Buffer.from(compress(data)));
    await s.skip(1_234_567);
    const got = Buffer.alloc(100_000);
    await s.read(got, 0, got.length);
    assert.ok(got.equals(data.subarray(1_234_567, 1_334_567)));
    await assert.rejects(s.read(Buffer.alloc(1 << 20), 0, 1 << 20), /read past the/);
  });

  it('reports damage as a CorruptionError: a copy from before the start, a truncated stream, bytes after the end', async () => {
    // preamble 8, literal "ab", copy2 of 6 from 3 bytes back (before the start)
    const bad = Buffer.from([8, 0x04, 0x61, 0x62, 0x16, 3, 0]);
    const s = await open(bad);
    await assert.rejects(s.read(Buffer.alloc(8), 0, 8), (e) => e instanceof CorruptionError && /copy from 3 bytes back/.test(e.message));
    const data = sample(100_000, 5);
    const z = Buffer.from(compress(data));
    const cut = await open(z.subarray(0, z.length - 10));
    await assert.rejects(cut.read(Buffer.alloc(data.length), 0, data.length), (e) => e instanceof CorruptionError && /truncated/.test(e.message));
    const long = await open(Buffer.concat([z, Buffer.from([0x00, 0x41])]));
    await long.read(Buffer.alloc(data.length), 0, data.length);
    await assert.rejects(long.finish(), (e) => e instanceof CorruptionError && /after the last element/.test(e.message));
  });

  it('stops at a copy from more than 64 KiB back with a FarCopyError', async () => {
    // preamble 70004; a 70000-byte literal; copy4 of 4 bytes from 70000 back.
    const lit = Buffer.alloc(70_000, 0x61);
    const len = Buffer.from([62 << 2, 0x6f, 0x11, 0x01]); // literal length 69999 in 3 bytes
    const pre = Buffer.from([0xf4, 0xa2, 0x04]); // varint 70004
    const copy = Buffer.from([((4 - 1) << 2) | 3, 0x70, 0x11, 0x01, 0x00]);
    const s = await open(Buffer.concat([pre, len, lit, copy]));
    assert.equal(s.length, 70_004);
    await assert.rejects(s.read(Buffer.alloc(70_004), 0, 70_004), FarCopyError);
  });
});
