/**
 * The streamed block decoders (big values in snappy and LZ4 blocks) against the whole-buffer codecs
 * of snappyjs and lz4js: the same bytes, read in pieces of any size, skipped, across input refills
 * (a 16-byte first read, then 256 KiB); damage is a CorruptionError, and a snappy copy past the
 * 64 KiB window (valid snappy that C++ snappy never writes) is a FarCopyError the block reader
 * answers by decompressing whole.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { compress } from 'snappyjs';
import { CorruptionError } from '../../src/core/errors.js';
import { FarCopyError, openBlockStream, type BlockStream } from '../../src/snapshot/rocks/block-stream.js';
import { CompressionType } from '../../src/snapshot/rocks/sst/compression.js';
import { putVarint } from '../../src/snapshot/rocks/coding.js';

const lz4 = createRequire(import.meta.url)('lz4js') as { compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array): number };

const varint = (n: number): Buffer => {
  const bytes: number[] = [];
  putVarint(bytes, n);
  return Buffer.from(bytes);
};

/** RocksDB's block forms: raw snappy; LZ4 behind a varint32 size (format_version 2+) or 8 legacy bytes. */
const CODECS = {
  snappy: { type: CompressionType.Snappy, formatVersion: 5, pack: (data: Buffer) => Buffer.from(compress(data)) },
  lz4: { type: CompressionType.LZ4, formatVersion: 5, pack: (data: Buffer) => Buffer.concat([varint(data.length), lz4Block(data)]) },
  'lz4 (legacy header)': {
    type: CompressionType.LZ4,
    formatVersion: 1,
    pack: (data: Buffer) => {
      const header = Buffer.alloc(8);
      header.writeUInt32LE(data.length, 0);
      return Buffer.concat([header, lz4Block(data)]);
    },
  },
} as const;

function lz4Block(data: Buffer): Buffer {
  const out = Buffer.alloc(data.length + (data.length >> 7) + 64);
  const n = lz4.compressBlock(data, out, 0, data.length, new Uint32Array(1 << 16));
  if (n > 0) return out.subarray(0, n);
  // lz4js writes nothing when it found no match; LZ4 itself writes one sequence of literals.
  const ext: number[] = [];
  if (data.length >= 15) {
    let left = data.length - 15;
    for (; left >= 255; left -= 255) ext.push(255);
    ext.push(left);
  }
  return Buffer.concat([Buffer.from([Math.min(data.length, 15) << 4, ...ext]), data]);
}

async function open(codec: keyof typeof CODECS | { type: number; formatVersion: number }, z: Buffer, onInput?: (c: Buffer) => void): Promise<BlockStream> {
  const c = typeof codec === 'string' ? CODECS[codec] : codec;
  const s = await openBlockStream(
    c.type,
    c.formatVersion,
    async (buf, at, len) => {
      assert.ok(at + len <= z.length, 'reads stay inside the stream');
      z.copy(buf, 0, at, at + len);
    },
    z.length,
    'test@0',
    onInput,
  );
  assert.ok(s !== null);
  return s;
}

/** Deterministic data: words (many short copies), runs (overlapping and long copies), noise (long literals). */
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

for (const codec of Object.keys(CODECS) as Array<keyof typeof CODECS>) {
  describe(`block stream: ${codec}`, () => {
    for (const [size, seed] of [
      [1, 2],
      [70_000, 3],
      [3 << 20, 4],
    ] as const) {
      it(`decodes ${size} bytes in pieces of any size, as the whole-buffer codec does`, async () => {
        const data = sample(size, seed);
        const z = CODECS[codec].pack(data);
        let seen = 0;
        const s = await open(codec, z, (c) => (seen += c.length));
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
      const s = await open(codec, CODECS[codec].pack(data));
      await s.skip(1_234_567);
      const got = Buffer.alloc(100_000);
      await s.read(got, 0, got.length);
      assert.ok(got.equals(data.subarray(1_234_567, 1_334_567)));
      await assert.rejects(s.read(Buffer.alloc(1 << 20), 0, 1 << 20), /read past the/);
    });

    it('reports a truncated stream and bytes after its end as CorruptionErrors', async () => {
      const data = sample(100_000, 5);
      const z = CODECS[codec].pack(data);
      const cut = await open(codec, z.subarray(0, z.length - 10));
      await assert.rejects(cut.read(Buffer.alloc(data.length), 0, data.length), (e) => e instanceof CorruptionError && /truncated|ends after/.test(e.message));
      const long = await open(codec, Buffer.concat([z, Buffer.from([0x00, 0x41])]));
      await long.read(Buffer.alloc(data.length), 0, data.length);
      await assert.rejects(long.finish(), (e) => e instanceof CorruptionError);
    });
  });
}

describe('block stream: hand-made streams', () => {
  it('a copy from before the start is a CorruptionError (snappy, LZ4)', async () => {
    // snappy: length 8, literal "ab", copy2 of 6 from 3 bytes back
    const snappy = await open('snappy', Buffer.from([8, 0x04, 0x61, 0x62, 0x16, 3, 0]));
    await assert.rejects(snappy.read(Buffer.alloc(8), 0, 8), (e) => e instanceof CorruptionError && /copy from 3 bytes back/.test(e.message));
    // LZ4: length 6, token (1 literal, match 4+0), "a", offset 2
    const lz = await open('lz4', Buffer.from([6, 0x10, 0x61, 2, 0]));
    await assert.rejects(lz.read(Buffer.alloc(6), 0, 6), (e) => e instanceof CorruptionError && /^test@0: lz4: copy from 2 bytes back/.test(e.message));
  });

  it('an LZ4 block that ends before its length is a CorruptionError, not a hang', async () => {
    // length 9, one sequence of 3 literals and no match: the block ends at 3 bytes
    const s = await open('lz4', Buffer.from([9, 0x30, 0x61, 0x62, 0x63]));
    await assert.rejects(s.read(Buffer.alloc(9), 0, 9), (e) => e instanceof CorruptionError && /ends after 3 of 9 bytes/.test(e.message));
  });

  it('stops at a snappy copy from more than 64 KiB back with a FarCopyError', async () => {
    // length 70004; a 70000-byte literal; copy4 of 4 bytes from 70000 back.
    const lit = Buffer.alloc(70_000, 0x61);
    const len = Buffer.from([62 << 2, 0x6f, 0x11, 0x01]); // literal length 69999 in 3 bytes
    const copy = Buffer.from([((4 - 1) << 2) | 3, 0x70, 0x11, 0x01, 0x00]);
    const s = await open('snappy', Buffer.concat([varint(70_004), len, lit, copy]));
    assert.equal(s.length, 70_004);
    await assert.rejects(s.read(Buffer.alloc(70_004), 0, 70_004), FarCopyError);
  });

  it('zlib and zstd blocks are not streamed (read whole)', async () => {
    for (const type of [CompressionType.Zlib, CompressionType.ZSTD]) {
      assert.equal(await openBlockStream(type, 5, async () => undefined, 10, 'test@0'), null);
    }
  });
});
