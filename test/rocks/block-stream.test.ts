/**
 * The streamed block decoders (big values in compressed blocks) against the whole-buffer codecs
 * (snappyjs, lz4js, node:zlib; for zstd, the block reader's fzstd on blocks RocksDB wrote): the
 * same bytes, read in pieces of any size, skipped, across input refills (a 32-byte first read,
 * then 256 KiB); damage is a CorruptionError, and a snappy copy past the 64 KiB window (valid
 * snappy that C++ snappy never writes) is a FarCopyError the block reader answers by decompressing
 * whole. zlib and zstd hand out a bounded amount of output at a time, however much a few input
 * bytes stand for.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDeflateRaw, deflateRawSync } from 'node:zlib';
import { compress } from 'snappyjs';
import { CorruptionError } from '../../src/core/errors.js';
import { FarCopyError, openBlockStream, type BlockStream } from '../../src/snapshot/rocks/block-stream.js';
import { CompressionType, decompressBlock } from '../../src/snapshot/rocks/sst/compression.js';
import { Table } from '../../src/snapshot/rocks/sst/table.js';
import { putVarint } from '../../src/snapshot/rocks/coding.js';
import { cleanup, writeDb } from './writer.js';

const lz4 = createRequire(import.meta.url)('lz4js') as { compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array): number };

const varint = (n: number): Buffer => {
  const bytes: number[] = [];
  putVarint(bytes, n);
  return Buffer.from(bytes);
};

/**
 * RocksDB's block forms: raw snappy; LZ4 behind a varint32 size (format_version 2+) or 8 legacy
 * bytes; raw deflate behind a varint32 size (RocksDB's default window bits, -14).
 */
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
  zlib: { type: CompressionType.Zlib, formatVersion: 5, pack: (data: Buffer) => Buffer.concat([varint(data.length), deflateRawSync(data, { windowBits: 14 })]) },
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

type Codec = keyof typeof CODECS | { type: number; formatVersion: number };

async function open(codec: Codec, z: Buffer, onInput?: (c: Buffer) => void): Promise<BlockStream> {
  const s = await tryOpen(codec, z, onInput);
  assert.ok(s !== null);
  return s;
}

function tryOpen(codec: Codec, z: Buffer, onInput?: (c: Buffer) => void): Promise<BlockStream | null> {
  const c = typeof codec === 'string' ? CODECS[codec] : codec;
  return openBlockStream(
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
}

/** Reads the whole stream in pieces of the sizes given (the last repeated), with skips where a size is negative. */
async function readInPieces(s: BlockStream, data: Buffer, steps: number[]): Promise<void> {
  const got = Buffer.alloc(data.length);
  const skipped: Array<[number, number]> = [];
  for (let at = 0, i = 0; at < data.length; i = Math.min(i + 1, steps.length - 1)) {
    const n = Math.min(Math.abs(steps[i]), data.length - at);
    if (steps[i] < 0) {
      await s.skip(n);
      skipped.push([at, at + n]);
    } else {
      await s.read(got, at, n);
    }
    at += n;
  }
  for (const [from, to] of skipped) data.copy(got, from, from, to);
  assert.ok(got.equals(data), 'the bytes read are the whole-buffer codec\'s');
  await s.finish();
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

  it('zlib blocks before format_version 2 (no size header) and bzip2 blocks are not streamed (read whole)', async () => {
    assert.equal(await openBlockStream(CompressionType.Zlib, 1, async () => undefined, 10, 'test@0'), null);
    assert.equal(await openBlockStream(CompressionType.BZip2, 5, async () => undefined, 10, 'test@0'), null);
  });
});

/** Raw deflate (window bits -14) of `size` bytes of one byte, compressed in pieces. */
async function deflateRun(size: number): Promise<Buffer> {
  const d = createDeflateRaw({ windowBits: 14 });
  const out: Buffer[] = [];
  d.on('data', (c: Buffer) => out.push(c));
  const mib = Buffer.alloc(1 << 20, 0x61);
  for (let i = 0; i < size >> 20; i++) if (!d.write(mib)) await once(d, 'drain');
  d.end();
  await once(d, 'end');
  return Buffer.concat(out);
}

/**
 * How much more ArrayBuffer memory (Buffers, typed arrays) is in use once `fn` is done, and a
 * quarter of a second later: a decoder running ahead of its reader would have filled it by then.
 */
async function heldBy(fn: () => Promise<void>): Promise<number> {
  const before = process.memoryUsage().arrayBuffers;
  await fn();
  const done = process.memoryUsage().arrayBuffers;
  await new Promise((resolve) => setTimeout(resolve, 250));
  return Math.max(done, process.memoryUsage().arrayBuffers) - before;
}

describe('block stream: zlib through node:zlib', () => {
  it('inflates a piece at a time: reading 1 MiB of a 256 MiB run of one byte (deflate packs it into one 250 KiB piece of input) holds a few MiB', async () => {
    const size = 256 << 20;
    const z = Buffer.concat([varint(size), await deflateRun(size)]);
    assert.ok(z.length < 256 * 1024, `one piece of input (${z.length} bytes)`);
    const s = await open('zlib', z);
    const got = Buffer.alloc(1 << 20);
    const held = await heldBy(() => s.read(got, 0, got.length));
    assert.ok(got.equals(Buffer.alloc(1 << 20, 0x61)));
    assert.ok(held < 8 << 20, `reading 1 MiB held ${held} bytes`);
  });

  it('reports a damaged deflate stream as a CorruptionError', async () => {
    // Stored blocks of 60000 bytes past the first piece of input, then a block of the reserved type 3.
    const data = sample(60_000, 11);
    const stored = Buffer.from([0x00, 0, 0, 0, 0]);
    stored.writeUInt16LE(data.length, 1);
    stored.writeUInt16LE(~data.length & 0xffff, 3);
    const s = await open('zlib', Buffer.concat([varint(1 << 20), ...Array.from({ length: 6 }, () => [stored, data]).flat(), Buffer.from([0x07, 0, 0])]));
    const got = Buffer.alloc(4096);
    await assert.rejects(
      (async () => {
        for (let at = 0; at < s.length; at += got.length) await s.read(got, 0, got.length);
      })(),
      (e) => e instanceof CorruptionError && /^test@0: zlib: invalid block type/.test(e.message),
    );
    assert.ok(s.produced >= 4 * 60_000, `the stored blocks came out first (${s.produced} bytes)`);
  });

  it('a read error of the input reaches the reader as it is', async () => {
    const data = sample(1 << 20, 12);
    const z = CODECS.zlib.pack(data);
    const broken = new Error('EIO');
    const s = await openBlockStream(
      CompressionType.Zlib,
      5,
      async (buf, at, len) => {
        if (at > 0 && at + len > z.length >> 1) throw broken;
        z.copy(buf, 0, at, at + len);
      },
      z.length,
      'test@0',
    );
    assert.ok(s !== null);
    await assert.rejects(s.read(Buffer.alloc(data.length), 0, data.length), (e) => e === broken);
  });

  it('a stream shorter than its header says, or longer, is a CorruptionError', async () => {
    const data = sample(100_000, 13);
    const deflated = deflateRawSync(data, { windowBits: 14 });
    const short = await open('zlib', Buffer.concat([varint(data.length + 1), deflated]));
    await assert.rejects(short.read(Buffer.alloc(data.length + 1), 0, data.length + 1), (e) => e instanceof CorruptionError && /ends after 100000 of 100001 bytes/.test(e.message));
    const long = await open('zlib', Buffer.concat([varint(data.length - 1), deflated]));
    await long.read(Buffer.alloc(data.length - 1), 0, data.length - 1);
    await assert.rejects(long.finish(), (e) => e instanceof CorruptionError && /more than the 99999 bytes/.test(e.message));
  });
});

/** A zstd frame of hand-made raw and RLE blocks (which need no entropy coder), after RocksDB's varint32 size. */
function zstdFrame(blocks: ZstdBlock[], opts: { windowLog?: number; checksum?: boolean; length?: number } = {}): { z: Buffer; data: () => Buffer } {
  const parts: Buffer[] = [];
  let length = 0;
  for (const [i, b] of blocks.entries()) {
    const last = i === blocks.length - 1 ? 1 : 0;
    const type = b.type ?? (b.rle !== undefined ? 1 : 0);
    const size = b.size ?? (b.raw?.length ?? 0);
    const header = Buffer.alloc(3);
    header.writeUIntLE(last | (type << 1) | (size << 3), 0, 3);
    parts.push(header, b.rle !== undefined ? Buffer.from([b.rle]) : (b.raw ?? Buffer.alloc(0)));
    length += b.rle !== undefined ? size : (b.raw?.length ?? 0);
  }
  if (opts.checksum) parts.push(Buffer.from([1, 2, 3, 4]));
  // No content size, not single-segment: the window descriptor alone sizes the window.
  const frameHeader = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, opts.checksum ? 0x04 : 0x00, ((opts.windowLog ?? 17) - 10) << 3]);
  const data = () => Buffer.concat(blocks.map((b) => (b.rle !== undefined ? Buffer.alloc(b.size ?? 0, b.rle) : (b.raw ?? Buffer.alloc(0)))));
  return { z: Buffer.concat([varint(opts.length ?? length), frameHeader, ...parts]), data };
}

interface ZstdBlock {
  /** An RLE block of `size` bytes of this one. */
  readonly rle?: number;
  readonly raw?: Buffer;
  /** The header's size field, when not the content's. */
  readonly size?: number;
  readonly type?: number;
}

const ZSTD = { type: CompressionType.ZSTD, formatVersion: 5 };

describe('block stream: zstd', () => {
  const works: string[] = [];
  after(() => works.forEach(cleanup));
  /** The first data block of a table RocksDB wrote with one value of `size` bytes: as stored, and decompressed whole by the block reader. */
  const rocksBlock = async (values: 'text' | 'runs', size: number): Promise<{ z: Buffer; data: Buffer }> => {
    const { dir, work } = writeDb(['option format_version 5', 'option compression zstd', `option values ${values}`, 'option write_buffer_size 134217728', 'open', `bigput default b ${size} 7`, 'flush', 'close']);
    works.push(work);
    const path = join(dir, readdirSync(dir).find((f) => f.endsWith('.sst'))!);
    const t = await Table.open(path);
    try {
      const index = await t.readIndexBlock(t.indexHandle, false);
      assert.ok(index.next());
      const file = readFileSync(path);
      const z = file.subarray(index.handleOffset, index.handleOffset + index.handleSize);
      assert.equal(file[index.handleOffset + index.handleSize], CompressionType.ZSTD, 'RocksDB kept the block compressed');
      return { z, data: decompressBlock(CompressionType.ZSTD, z, 5, 'whole') };
    } finally {
      await t.close();
    }
  };
  let text: { z: Buffer; data: Buffer };
  let runs: { z: Buffer; data: Buffer };
  let small: { z: Buffer; data: Buffer };
  before(async () => {
    text = await rocksBlock('text', 3 << 20);
    runs = await rocksBlock('runs', 9 << 20);
    small = await rocksBlock('text', 1 << 20);
  });

  for (const [name, steps] of [
    ['in pieces of odd sizes', [1, 7, 4096, 65_537, 300_000, 131_073]],
    ['skipping and reading by turns', [-1_234_567, 100_000, -3, 5, -200_001, 77_777]],
  ] as const) {
    it(`decodes RocksDB's blocks ${name}, as the whole-block decoder does (words, and one byte repeated)`, async () => {
      for (const block of [text, runs]) {
        let seen = 0;
        const s = await open(ZSTD, block.z, (c) => (seen += c.length));
        assert.equal(s.length, block.data.length);
        await readInPieces(s, block.data, [...steps]);
        assert.equal(seen, block.z.length, 'every compressed byte told once');
        assert.ok(s.lastBytes().equals(block.data.subarray(block.data.length - 65_536)));
      }
    });
  }

  it('reports RocksDB blocks cut short, or with bytes after the frame, as CorruptionErrors', async () => {
    for (const cut of [1, 100, text.z.length >> 1]) {
      const s = await open(ZSTD, text.z.subarray(0, text.z.length - cut));
      await assert.rejects(readInPieces(s, text.data, [1 << 20]), (e) => e instanceof CorruptionError && /truncated/.test(e.message), `cut by ${cut}`);
    }
    const long = await open(ZSTD, Buffer.concat([text.z, Buffer.from([0, 0x41])]));
    await long.read(Buffer.alloc(text.data.length), 0, text.data.length);
    await assert.rejects(long.finish(), (e) => e instanceof CorruptionError && /2 compressed bytes after the frame/.test(e.message));
  });

  it('leaves a single-segment frame (its window is its content: RocksDB\'s for a value under 2 MiB) to the whole-block read', async () => {
    assert.equal((small.z[small.z.indexOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])) + 4] >> 5) & 1, 1, 'RocksDB wrote a single-segment frame');
    assert.equal(await tryOpen(ZSTD, small.z), null);
  });

  it('leaves a frame whose window is not smaller than its content, or beyond 8 MiB, to the whole-block read', async () => {
    assert.equal(await tryOpen(ZSTD, zstdFrame([{ rle: 1, size: 1000 }], { windowLog: 10 }).z), null);
    const huge = zstdFrame([{ rle: 1, size: 1000 }], { windowLog: 24, length: 1 << 30 }).z;
    assert.equal(await tryOpen(ZSTD, huge), null);
  });

  it('decodes hand-made raw and RLE blocks, a content checksum after the last one, across input refills', async () => {
    const raw = sample(150_000, 21);
    const blocks = [{ rle: 0x61, size: 1024 }, { raw: raw.subarray(0, 100_000) }, { raw: Buffer.alloc(0) }, { rle: 0x62, size: 131_072 }, { raw: raw.subarray(100_000) }, { rle: 0x63, size: 7 }];
    for (const checksum of [false, true]) {
      const { z, data } = zstdFrame(blocks, { checksum });
      let seen = 0;
      const s = await open(ZSTD, z, (c) => (seen += c.length));
      await readInPieces(s, data(), [3, 1000, 65_536]);
      assert.equal(seen, z.length);
    }
  });

  it('pushes one block at a time: reading 1 MiB of 1 GiB in RLE blocks (4 bytes for 128 KiB each) holds a few MiB', async () => {
    const { z } = zstdFrame(Array.from({ length: 8192 }, () => ({ rle: 0x61, size: 131_072 })));
    const s = await open(ZSTD, z);
    assert.equal(s.length, 1 << 30);
    const got = Buffer.alloc(1 << 20);
    const held = await heldBy(() => s.read(got, 0, got.length));
    assert.ok(got.equals(Buffer.alloc(1 << 20, 0x61)));
    assert.ok(held < 8 << 20, `reading 1 MiB held ${held} bytes`);
  });

  it('reports damage in hand-made frames as CorruptionErrors, never a hang', async () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      ['a block bigger than the window allows', zstdFrame([{ rle: 1, size: 4096 }, { rle: 2, size: 1024 }], { windowLog: 11 }).z, /block of 4096 bytes, more than 2048/],
      ['a reserved block type', zstdFrame([{ rle: 1, size: 1024 }, { type: 3, raw: Buffer.alloc(8) }], { windowLog: 10, length: 4096 }).z, /reserved block type/],
      ['a last block before the header\'s length', zstdFrame([{ rle: 1, size: 2048 }, { rle: 2, size: 2048 }], { length: 1 << 20 }).z, /ends after 4096 of 1048576 bytes/],
      ['no last block', zstdFrame([{ rle: 1, size: 2048 }, { rle: 2, size: 2048 }], { length: 1 << 20 }).z.subarray(0, -4), /truncated/],
      ['a checksum cut short', zstdFrame([{ rle: 1, size: 2048 }, { rle: 2, size: 2048 }], { checksum: true, length: 1 << 20 }).z.subarray(0, -2), /truncated/],
    ];
    for (const [name, z, message] of cases) {
      const s = await tryOpen(ZSTD, z);
      assert.ok(s !== null, name);
      await assert.rejects(s.read(Buffer.alloc(s.length), 0, s.length), (e) => e instanceof CorruptionError && message.test(e.message), name);
    }
    const frame = zstdFrame([{ rle: 1, size: 2048 }], { length: 4096 }).z;
    frame[frame.length - 6] ^= 0x08;
    await assert.rejects(tryOpen(ZSTD, frame), (e) => e instanceof CorruptionError && /reserved bit/.test(e.message));
    // A content size (4 bytes: 5 MiB) other than RocksDB's size prefix (6 MiB).
    const sized = Buffer.concat([varint(6 << 20), Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x80, 0x58, 0, 0, 0x50, 0])]);
    await assert.rejects(tryOpen(ZSTD, sized), (e) => e instanceof CorruptionError && /frame of 5242880 bytes in a block of 6291456/.test(e.message));
  });
});
