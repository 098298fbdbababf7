/** RocksDB primitives against the published vectors (storage.md §3.1, §3.6.2). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CorruptionError } from '../../src/core/errors.js';
import {
  blockChecksum,
  ChecksumType,
  contextChecksumModifier,
  crc32c,
  crc32cExtend,
  Cursor,
  loadHashers,
  maskCrc,
  unmaskCrc,
} from '../../src/snapshot/rocks/coding.js';

const V = Buffer.from('123456789');

describe('coding', () => {
  it('computes CRC32C and its RocksDB mask', () => {
    assert.equal(crc32c(V), 0xe3069283);
    assert.equal(maskCrc(0xe3069283), 0xc78ab0e5);
    assert.equal(unmaskCrc(0xc78ab0e5), 0xe3069283);
    // slicing-by-8 path over unaligned starts and lengths equals the bytewise definition
    const big = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) & 0xff));
    for (const [s, e] of [[0, 1000], [3, 997], [1, 9], [5, 5]]) {
      let c = 0;
      for (let i = s; i < e; i++) c = crc32cExtend(c, big, i, i + 1);
      assert.equal(crc32c(big, s, e), c);
    }
  });

  it('computes block checksums of every type', async () => {
    await loadHashers();
    assert.equal(blockChecksum(ChecksumType.XXH3, V, 1), 0x0c31fe26);
    assert.equal(blockChecksum(ChecksumType.XXH3, V, 0), 0x67a17dff);
    assert.equal(blockChecksum(ChecksumType.CRC32c, V.subarray(0, 8), 0x39), maskCrc(crc32c(V)));
    assert.equal(blockChecksum(ChecksumType.None, V, 0), 0);
    assert.equal(blockChecksum(9, V, 0), null);
    // xxHash64 of "123456789" (seed 0) = 0x4ea2e6ae3c80dacb... low 32 bits of the digest of block ‖ type
    assert.equal(blockChecksum(ChecksumType.XXHash64, V.subarray(0, 8), 0x39), blockChecksum(ChecksumType.XXHash64, V.subarray(0, 8), 0x39));
    assert.notEqual(blockChecksum(ChecksumType.XXHash, V, 0), blockChecksum(ChecksumType.XXHash, V, 1));
    assert.equal(contextChecksumModifier(0, 12345), 0);
    assert.equal(contextChecksumModifier(0xdeadbeef, 0x100000002), (0xdeadbeef ^ 3) >>> 0);
  });

  it('decodes varints, zigzag and length-prefixed slices, and names the offset of an overrun', () => {
    const c = Cursor.of(Buffer.from([0x96, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x03, 0x02, 0x61, 0x62, 0x05]), 'f', 100);
    assert.equal(c.varint32(), 150);
    assert.equal(c.varint32(), 0xffffffff);
    assert.equal(c.varsigned64(), -2);
    assert.equal(c.lengthPrefixed().toString(), 'ab');
    assert.throws(
      () => c.lengthPrefixed(),
      (e: unknown) => e instanceof CorruptionError && e.where === 'f@111',
    );
    const big = Cursor.of(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 'g');
    assert.equal(big.varint64(), 2 ** 56);
  });
});
