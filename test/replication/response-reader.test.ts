import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { CorruptionError } from '../../src/core/errors.js';
import { LARGE_FRAME, encodeFrame } from '../../src/replication/framing.js';
import { MsgType, Status, decodeResponse, encodeResponse, type BinlogSyncElement } from '../../src/replication/messages.js';
import { ResponseReader, type LinkItem } from '../../src/replication/response-reader.js';

const db0 = { table_name: 'db0', partition_id: 0 };

function element(bytes: number, offset: number): BinlogSyncElement {
  const binlog = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) binlog[i] = (i * 31 + offset) & 0xff;
  return { partition: db0, binlog_offset: { filenum: 1, offset, term: 0, index: 0 }, binlog, session_id: 7 };
}

/** Feeds `all` to a new reader in reads of `step(i)` bytes; returns the items and the most it held. */
function read(all: Buffer, step: (i: number) => number): { items: LinkItem[]; maxPending: number } {
  const r = new ResponseReader('master 127.0.0.1:11221 stream');
  const items: LinkItem[] = [];
  let maxPending = 0;
  for (let i = 0; i < all.length; ) {
    const n = Math.min(all.length - i, step(i));
    items.push(...r.push(all.subarray(i, i + n)));
    maxPending = Math.max(maxPending, r.pending);
    i += n;
  }
  assert.equal(r.pending, 0);
  return { items, maxPending };
}

/** A body that is not a valid message, framed, padded with a skipped field to a streamed size. */
function framed(...parts: Buffer[]): Buffer {
  return encodeFrame(Buffer.concat(parts));
}
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** Field 15 (not in the schema, skipped) of `n` bytes; n < 2^21 so its length is 3 bytes. */
const filler = (n: number): Buffer => Buffer.concat([Buffer.from([0x7a, (n & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, n >> 14]), Buffer.alloc(n)]);

describe('ResponseReader', () => {
  const sizes = [10, 100 * 1024, 0, 3, 300 * 1024, 7, 64 * 1024 + 5];
  const elements = sizes.map((s, i) => element(s, 1000 * (i + 1)));
  const big = encodeResponse({ type: MsgType.BinlogSync, code: Status.Ok, binlog_sync: elements });
  const small = encodeResponse({ type: MsgType.BinlogSync, code: Status.Ok, binlog_sync: [element(5, 1)] });
  const all = Buffer.concat([small, big, small]);

  it('hands on the elements of a large BinlogSync message one by one, as the whole decode would, whatever the splits', () => {
    assert.ok(big.length > LARGE_FRAME);
    const expected = decodeResponse(big.subarray(4), 'test').binlog_sync!;
    for (const step of [() => all.length, () => 65536, () => 1461, (i: number) => (i % 7 === 0 ? 1 : 9000), () => 1]) {
      const { items, maxPending } = read(all, step);
      assert.deepEqual(items.map((x) => x.kind), ['frame', ...sizes.map(() => 'element'), 'frame']);
      const els = items.filter((x) => x.kind === 'element');
      assert.deepEqual(els.map((x) => x.response.binlog_sync), expected.map((e) => [e]));
      for (const x of els) {
        assert.equal(x.response.type, MsgType.BinlogSync);
        assert.equal(x.response.code, Status.Ok);
        // the offset names the element's own field (tag 0x3a: field 7, length-delimited)
        assert.equal(all[x.streamOffset], 0x3a);
      }
      assert.deepEqual(els.map((x) => x.endsMessage), [...sizes.slice(1).map(() => false), true]);
      assert.deepEqual(items.map((x) => x.streamOffset).filter((_, k) => k === 0 || k === items.length - 1), [0, small.length + big.length]);
      // at most one element being read, and the read being split
      assert.ok(maxPending <= 300 * 1024 + 100 + Math.min(step(1), all.length), `held ${maxPending}`);
    }
  });

  it('hands on a large message of another type whole, decodable as a small frame is', () => {
    const meta = encodeResponse({ type: MsgType.MetaSync, code: Status.Ok, reply: 'x'.repeat(LARGE_FRAME + 10), meta_sync: { classic_mode: true } });
    const { items } = read(Buffer.concat([meta, small]), () => 5000);
    assert.deepEqual(items.map((x) => x.kind), ['frame', 'frame']);
    const first = items[0];
    assert.ok(first.kind === 'frame');
    assert.equal(decodeResponse(first.body, 'test').reply?.length, LARGE_FRAME + 10);
  });

  it('keeps a non-OK code and the reply with each element, for the replica to refuse', () => {
    const refused = encodeResponse({ type: MsgType.BinlogSync, code: Status.Error, reply: 'no', binlog_sync: [element(LARGE_FRAME, 5)] });
    const { items } = read(refused, () => 4096);
    assert.equal(items.length, 1);
    assert.ok(items[0].kind === 'element');
    assert.equal(items[0].response.code, Status.Error);
    assert.equal(items[0].response.reply, 'no');
  });

  it('names the byte of a field that runs past the message, an element before the code, and a message cut inside a field', () => {
    const cases: Array<[Buffer, RegExp, string]> = [
      // type, code, then field 7 claiming 2^21 bytes of a ~256 KiB message
      [framed(hex('08 04 10 01 3a 80 80 80 01'), filler(LARGE_FRAME)), /field 7 of 2097152 bytes runs past the end/, 'byte 8'],
      [framed(hex('08 04'), hex('3a 03 0a 01 00'), filler(LARGE_FRAME)), /binlog_sync element before the message code/, 'byte 6'],
      [framed(hex('08 04 10 01'), filler(LARGE_FRAME), hex('80')), /ends inside field/, `byte ${4 + 4 + 4 + LARGE_FRAME}`],
      [framed(hex('08 04 10 01 0b'), filler(LARGE_FRAME)), /wire type 3 in field 1/, 'byte 8'],
    ];
    for (const [bytes, message, where] of cases) {
      assert.throws(
        () => read(bytes, () => 1000),
        (e: unknown) => e instanceof CorruptionError && message.test(e.message) && e.where === `master 127.0.0.1:11221 stream ${where}`,
        message.source,
      );
    }
  });
});
