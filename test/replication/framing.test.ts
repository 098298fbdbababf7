import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { CorruptionError } from '../../src/core/errors.js';
import { FrameAssembler, FrameDecoder, encodeFrame } from '../../src/replication/framing.js';
import {
  decodeRequestStrict,
  decodeResponse,
  decodeRsyncResponse,
  encodeRequest,
  encodeResponse,
  encodeRsyncRequest,
  encodeRsyncResponse,
  type InnerRequest,
  type InnerResponse,
} from '../../src/replication/messages.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const node = { ip: '127.0.0.1', port: 9222 };
const db0 = { table_name: 'db0', partition_id: 0 };
const item = hex(
  '01 00 00 f1 53 65 00 00 00 00 07 00 00 00 00 00 00 00 0c 00 00 00 80 0d 00 00 00 00 00 00 1b 00 00 00 2a 33 0d 0a 24 33 0d 0a 73 65 74 0d 0a 24 31 0d 0a 6b 0d 0a 24 31 0d 0a 76 0d 0a',
);
const at = (filenum: number, offset: number) => ({ filenum, offset });
const atTI = (filenum: number, offset: number, index = 0) => ({ filenum, offset, term: 0, index });

function bs(start: ReturnType<typeof at>, end: ReturnType<typeof at>, session: number, first: boolean): InnerRequest {
  return { type: 4, binlog_sync: { node, table_name: 'db0', partition_id: 0, ack_range_start: start, ack_range_end: end, session_id: session, first_send: first } };
}

describe('frame encoding reproduces the spec vectors byte for byte (§2.8, A layout)', () => {
  const cases: Array<[string, InnerRequest | InnerResponse, string, 'req' | 'res']> = [
    ['MetaSync no auth', { type: 1, meta_sync: { node } }, '00 00 00 14 08 01 12 10 0a 0e 0a 09 31 32 37 2e 30 2e 30 2e 31 10 86 48', 'req'],
    ['MetaSync auth', { type: 1, meta_sync: { node, auth: 'secret' } }, '00 00 00 1c 08 01 12 18 0a 0e 0a 09 31 32 37 2e 30 2e 30 2e 31 10 86 48 12 06 73 65 63 72 65 74', 'req'],
    ['TrySync (12,3456)', { type: 2, try_sync: { node, partition: db0, binlog_offset: at(12, 3456) } }, '00 00 00 24 08 02 1a 20 0a 0e 0a 09 31 32 37 2e 30 2e 30 2e 31 10 86 48 12 07 0a 03 64 62 30 10 00 1a 05 08 0c 10 80 1b', 'req'],
    ['DBSync (0,0)', { type: 3, db_sync: { node, partition: db0, binlog_offset: at(0, 0) } }, '00 00 00 23 08 03 22 1f 0a 0e 0a 09 31 32 37 2e 30 2e 30 2e 31 10 86 48 12 07 0a 03 64 62 30 10 00 1a 04 08 00 10 00', 'req'],
    ['activation', bs(at(12, 3456), at(12, 3456), 0, true), '00 00 00 2d 08 04 2a 29 0a 0e 0a 09 31 32 37 2e 30 2e 30 2e 31 10 86 48 12 03 64 62 30 18 00 22 05 08 0c 10 80 1b 2a 05 08 0c 10 80 1b 30 00 38 01', 'req'],
    ['ping', bs(at(0, 0), at(0, 0), 0, false), '00 00 00 2b 08 04 2a 27 0a 0e 0a 09 31 32 37 2e 30 2e 30 2e 31 10 86 48 12 03 64 62 30 18 00 22 04 08 00 10 00 2a 04 08 00 10 00 30 00 38 00', 'req'],
    ['keepalive', { type: 4, code: 1, binlog_sync: [{ partition: db0, binlog_offset: at(0, 0), binlog: Buffer.alloc(0), session_id: 0 }] }, '00 00 00 19 08 04 10 01 3a 13 0a 07 0a 03 64 62 30 10 00 12 04 08 00 10 00 1a 00 20 00', 'res'],
    ['entry', { type: 4, code: 1, binlog_sync: [{ partition: db0, binlog_offset: at(12, 3525), binlog: item, session_id: 0 }] }, '00 00 00 57 08 04 10 01 3a 51 0a 07 0a 03 64 62 30 10 00 12 05 08 0c 10 c5 1b 1a 3d' + item.toString('hex') + '20 00', 'res'],
    // C variants (observed.md §4.3)
    ['C activation', bs(atTI(12, 3456), atTI(12, 3456), 0, true), '00 00 00 35 08 04 2a 31 0a 0e 0a 09 31 32 37 2e 30 2e 30 2e 31 10 86 48 12 03 64 62 30 18 00 22 09 08 0c 10 80 1b 18 00 20 00 2a 09 08 0c 10 80 1b 18 00 20 00 30 00 38 01', 'req'],
    ['C ping', bs(atTI(0, 0), atTI(0, 0), 0, false), '00 00 00 33 08 04 2a 2f 0a 0e 0a 09 31 32 37 2e 30 2e 30 2e 31 10 86 48 12 03 64 62 30 18 00 22 08 08 00 10 00 18 00 20 00 2a 08 08 00 10 00 18 00 20 00 30 00 38 00', 'req'],
    ['C keepalive', { type: 4, code: 1, binlog_sync: [{ partition: db0, binlog_offset: atTI(0, 0), binlog: Buffer.alloc(0), session_id: 0 }] }, '00 00 00 1d 08 04 10 01 3a 17 0a 07 0a 03 64 62 30 10 00 12 08 08 00 10 00 18 00 20 00 1a 00 20 00', 'res'],
    ['C entry', { type: 4, code: 1, binlog_sync: [{ partition: db0, binlog_offset: atTI(12, 3525, 7), binlog: item, session_id: 0 }] }, '00 00 00 5b 08 04 10 01 3a 55 0a 07 0a 03 64 62 30 10 00 12 09 08 0c 10 c5 1b 18 00 20 07 1a 3d' + item.toString('hex') + '20 00', 'res'],
  ];
  for (const [name, msg, bytes, kind] of cases) {
    it(`encodes ${name}`, () => {
      const got = kind === 'req' ? encodeRequest(msg as InnerRequest) : encodeResponse(msg as InnerResponse);
      assert.equal(got.toString('hex'), hex(bytes).toString('hex'));
    });
  }
});

describe('real frames from Pika 3.2.7 and 3.5.5 (observed.md §4)', () => {
  const n19231 = { ip: '127.0.0.1', port: 19231 };
  it('encodes the A requests exactly as the 3.2.7 replica did', () => {
    assert.equal(encodeRequest({ type: 1, meta_sync: { node: n19231 } }).toString('hex'), '00000015080112110a0f0a093132372e302e302e31109f9601');
    assert.equal(encodeRequest({ type: 3, db_sync: { node: n19231, partition: db0, binlog_offset: at(0, 0) } }).toString('hex'), '00000024080322200a0f0a093132372e302e302e31109f960112070a0364623010001a0408001000');
    assert.equal(encodeRequest({ type: 2, try_sync: { node: n19231, partition: db0, binlog_offset: at(0, 7176793) } }).toString('hex'), '0000002708021a230a0f0a093132372e302e302e31109f960112070a0364623010001a07080010d984b603');
    const ack = { type: 4, binlog_sync: { node: n19231, table_name: 'db0', partition_id: 0, ack_range_start: at(0, 7176871), ack_range_end: at(0, 7176871), session_id: 1, first_send: false } };
    assert.equal(encodeRequest(ack).toString('hex'), '0000003208042a2e0a0f0a093132372e302e302e31109f9601120364623018002207080010a785b6032a07080010a785b60330013800');
  });
  it('encodes the A master responses exactly as the 3.2.7 master did', () => {
    assert.equal(encodeResponse({ type: 1, code: 1, meta_sync: { classic_mode: true, tables_info: [{ table_name: 'db0', partition_num: 1 }] } }).toString('hex'), '0000001108011001220b080112070a036462301001');
    assert.equal(encodeResponse({ type: 3, code: 1, db_sync: { partition: db0, session_id: 1 } }).toString('hex'), '00000011080310012a0b0a070a0364623010001001');
    assert.equal(encodeResponse({ type: 2, code: 1, try_sync: { reply_code: 1, partition: db0, binlog_offset: at(0, 7176793), session_id: 1 } }).toString('hex'), '0000001c080210013216080112070a0364623010001a07080010d984b6032001');
    assert.equal(encodeResponse({ type: 2, code: 1, try_sync: { reply_code: 2, partition: db0, binlog_offset: at(9, 1104) } }).toString('hex'), '00000018080210013212080212070a0364623010001a05080910d008');
    assert.equal(encodeResponse({ type: 1, code: 2, reply: 'Auth with master error, Invalid masterauth' }).toString('hex'), '00000030080110021a2a417574682077697468206d6173746572206572726f722c20496e76616c6964206d617374657261757468');
    assert.equal(encodeResponse({ type: 1, code: 2, reply: 'Slave AlreadyExist' }).toString('hex'), '00000018080110021a12536c61766520416c72656164794578697374');
  });
  it('decodes the C MetaSync response with run_id and replication_id', () => {
    const f = hex('0000006f080110012269080112070a0364623010011a283132306237623166623066653839356562303731343036383035313632343362306232323532346322323033623762343436613866646665613931346466623833316464663735343265323034323939666561366466386437656335');
    const r = decodeResponse(f.subarray(4), 'test');
    assert.equal(r.code, 1);
    assert.equal(r.meta_sync?.classic_mode, true);
    assert.deepEqual(r.meta_sync?.tables_info, [{ table_name: 'db0', partition_num: 1 }]);
    assert.match(r.meta_sync?.run_id ?? '', /^[0-9a-f]{40}$/);
    assert.match(r.meta_sync?.replication_id ?? '', /^[0-9a-f]{50}$/);
    // and re-encoding gives the same bytes
    assert.equal(encodeResponse(r).toString('hex'), f.toString('hex'));
  });
  it('decodes the C two-entry BinlogSync frame and re-encodes the C ack byte for byte', () => {
    const f = hex('000000c2080410013a5d0a070a036462301000120c080010a5a5bd03180020ef041a4201005e17076b000000006f02000000000000000000005b526f0000000000200000002a330d0a24330d0a7365740d0a24360d0a6361703a6d310d0a24310d0a780d0a20003a5d0a070a036462301000120c080010efa5bd03180020f0041a4201005e17076b00000000700200000000000000000000a5526f0000000000200000002a330d0a24330d0a7365740d0a24360d0a6361703a6d320d0a24310d0a790d0a2000');
    const r = decodeResponse(f.subarray(4), 'test');
    const els = r.binlog_sync ?? [];
    assert.equal(els.length, 2);
    assert.deepEqual(els[0].binlog_offset, { filenum: 0, offset: 7295653, term: 0, index: 623 });
    assert.deepEqual(els[1].binlog_offset, { filenum: 0, offset: 7295727, term: 0, index: 624 });
    assert.ok(Buffer.isBuffer(els[0].binlog));
    assert.equal(els[0].binlog.length, 66);
    assert.equal(encodeResponse(r).toString('hex'), f.toString('hex'));
    const c = { ip: '192.0.2.2', port: 29231 };
    const ack = { type: 4, binlog_sync: { node: c, table_name: 'db0', partition_id: 0, ack_range_start: { filenum: 0, offset: 7295653, term: 0, index: 623 }, ack_range_end: { filenum: 0, offset: 7295727, term: 0, index: 23 }, session_id: 0, first_send: false } };
    assert.equal(encodeRequest(ack).toString('hex'), '0000003b08042a370a0f0a093139322e302e322e3210afe40112036462301800220c080010a5a5bd03180020ef042a0b080010efa5bd031800201730003800');
  });
  it('encodes and decodes the C rsync service frames', () => {
    assert.equal(encodeRsyncRequest({ type: 1, reader_index: 0, db_name: 'db0', slot_id: 0 }).toString('hex'), '0000000b080110001a036462302000');
    assert.equal(encodeRsyncRequest({ type: 2, reader_index: 1, db_name: 'db0', slot_id: 0, file_req: { filename: 'info', count: 2097152, offset: 0 } }).toString('hex'), '0000001a080210011a0364623020002a0d0a04696e666f10808080011800');
    assert.equal(encodeRsyncResponse({ type: 1, reader_index: 0, snapshot_uuid: '', db_name: 'db0', slot_id: 0, code: 2 }).toString('hex'), '0000000f080110001a00220364623028003002');
    const f = hex('0000005e080210011a203063303664653137636239316436633730303231373864396663643838356532220364623028003001422d0801101d1800221d30730a3139322e302e322e320a32393232310a300a373239333735300a2a003204696e666f');
    const r = decodeRsyncResponse(f.subarray(4), 'test');
    assert.equal(r.snapshot_uuid, '0c06de17cb91d6c7002178d9fcd885e2');
    assert.equal(r.file_resp?.data.toString(), '0s\n192.0.2.2\n29221\n0\n7293750\n');
    assert.equal(r.file_resp?.eof, 1);
    assert.equal(encodeRsyncResponse(r).toString('hex'), f.toString('hex'));
  });
});

describe('strict request decoding (what the master does)', () => {
  it('rejects a BinlogSync request that lacks a required field', () => {
    // ping without first_send (field 7): a proto3-style encoder would produce this
    const body = hex('08 04 2a 25 0a 0e 0a 09 31 32 37 2e 30 2e 30 2e 31 10 86 48 12 03 64 62 30 18 00 22 04 08 00 10 00 2a 04 08 00 10 00 30 00');
    assert.throws(() => decodeRequestStrict(body, 'conn 1 byte 0'), (e: unknown) => e instanceof CorruptionError && /first_send/.test(e.message));
    assert.equal(decodeRequestStrict(hex('08 01 12 10 0a 0e 0a 09 31 32 37 2e 30 2e 30 2e 31 10 86 48'), 'x').meta_sync?.node.port, 9222);
  });
});

describe('FrameDecoder', () => {
  it('reassembles frames split at every byte and several frames in one chunk', () => {
    const frames = [encodeFrame(Buffer.from('abc')), encodeFrame(Buffer.alloc(0)), encodeFrame(Buffer.alloc(70000, 7))];
    const all = Buffer.concat(frames);
    const d = new FrameDecoder('s');
    const got: Buffer[] = [];
    for (let i = 0; i < all.length; i += i < 20 ? 1 : 997) got.push(...d.push(all.subarray(i, Math.min(all.length, i + (i < 20 ? 1 : 997)))).map((f) => f.body));
    assert.deepEqual(got.map((b) => b.length), [3, 0, 70000]);
    assert.equal(got[0].toString(), 'abc');
    const d2 = new FrameDecoder('s');
    const fs = d2.push(all);
    assert.deepEqual(fs.map((f) => f.streamOffset), [0, 7, 11]);
  });
  it('copies large frames into a body of their own as they arrive: same bodies and offsets, whatever the splits', () => {
    const pattern = (n: number, seed: number): Buffer => {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
      return b;
    };
    const bodies = [Buffer.from('a'), pattern(300 * 1024, 1), Buffer.alloc(0), pattern(1 << 20, 2), pattern(256 * 1024, 3), Buffer.from('end')];
    const all = Buffer.concat(bodies.map((b) => encodeFrame(b)));
    const offsets: number[] = [];
    for (let i = 0, o = 0; i < bodies.length; o += 4 + bodies[i].length, i++) offsets.push(o);
    const steps: Array<(i: number) => number> = [() => all.length, () => 65536, () => 997, (i) => (i % 5 === 0 ? 1 : 70_001), () => 3];
    for (const step of steps) {
      const d = new FrameDecoder('s');
      const got: Array<{ body: Buffer; streamOffset: number }> = [];
      let maxPending = 0;
      for (let i = 0; i < all.length; ) {
        const n = Math.min(all.length - i, step(i));
        got.push(...d.push(all.subarray(i, i + n)));
        maxPending = Math.max(maxPending, d.pending);
        i += n;
      }
      assert.equal(got.length, bodies.length);
      for (let k = 0; k < bodies.length; k++) {
        assert.ok(got[k].body.equals(bodies[k]), `body ${k} (${bodies[k].length} bytes)`);
        assert.equal(got[k].streamOffset, offsets[k]);
      }
      assert.equal(d.consumed, all.length);
      assert.equal(d.pending, 0);
      assert.ok(maxPending <= (1 << 20) + 4 + 70_001, `pending ${maxPending}`);
    }
  });
  it('hands bodies of partsFrom bytes or more on in parts as they arrive, whatever the splits', () => {
    const bodies = [Buffer.from('a'), Buffer.alloc(3000, 1), Buffer.alloc(0), Buffer.alloc(5000, 2), Buffer.alloc(2048, 3), Buffer.from('end')];
    const all = Buffer.concat(bodies.map((b) => encodeFrame(b)));
    for (const step of [() => all.length, () => 997, () => 1, (i: number) => (i % 3 === 0 ? 2 : 1500)]) {
      const d = new FrameDecoder('s', undefined, 2048);
      const whole: Array<{ body: Buffer; streamOffset: number }> = [];
      const parts = new Map<number, Buffer[]>();
      for (let i = 0; i < all.length; ) {
        const n = Math.min(all.length - i, step(i));
        for (const f of d.pushParts(all.subarray(i, i + n))) {
          if ('body' in f) {
            whole.push(f);
            continue;
          }
          const got = parts.get(f.streamOffset) ?? [];
          assert.equal(f.at, got.reduce((s, b) => s + b.length, 0), 'parts come in order, without gaps');
          got.push(Buffer.from(f.part));
          parts.set(f.streamOffset, got);
          assert.ok(f.length === 3000 || f.length === 5000 || f.length === 2048);
        }
        // a body in parts is not held: only the header and small frames are
        assert.ok(d.pending < 2048 + n, `pending ${d.pending}`);
        i += n;
      }
      assert.deepEqual(whole.map((f) => f.body.length), [1, 0, 3]);
      assert.deepEqual(whole.map((f) => f.streamOffset), [0, 3009, 10069]);
      assert.deepEqual([...parts.keys()], [5, 3013, 8017]);
      assert.ok(Buffer.concat(parts.get(5)!).equals(bodies[1]));
      assert.ok(Buffer.concat(parts.get(3013)!).equals(bodies[3]));
      assert.ok(Buffer.concat(parts.get(8017)!).equals(bodies[4]));
      assert.equal(d.consumed, all.length);
    }
  });
  it('rejects an absurd length naming the byte offset in the stream', () => {
    const d = new FrameDecoder('master 127.0.0.1:11221', 1024);
    d.push(encodeFrame(Buffer.alloc(10)));
    assert.throws(
      () => d.push(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2])),
      (e: unknown) => e instanceof CorruptionError && e.where === 'master 127.0.0.1:11221 byte 14' && /2147483647/.test(e.message),
    );
  });
  it('accepts the real limit of just under 512 MiB by default and refuses 512 MiB', () => {
    const d = new FrameDecoder('s');
    const h = Buffer.alloc(4);
    h.writeUInt32BE(512 * 1024 * 1024 - 4);
    assert.throws(() => d.push(h), CorruptionError);
    const ok = Buffer.alloc(4);
    ok.writeUInt32BE(512 * 1024 * 1024 - 5);
    assert.deepEqual(new FrameDecoder('s').push(ok), []);
  });
});

describe('FrameAssembler', () => {
  /** Feeds `all` through one reused read buffer in pieces of `step` bytes, as onread does. */
  const feed = (a: FrameAssembler, all: Buffer, step: (i: number) => number, onFrame: (b: Buffer, at: number) => void): void => {
    const read = Buffer.alloc(64 * 1024);
    for (let i = 0; i < all.length; ) {
      const n = Math.min(all.length - i, step(i), read.length);
      all.copy(read, 0, i, i + n);
      a.push(read, n, onFrame);
      read.fill(0xee); // what the next read would do to it
      i += n;
    }
  };

  it('reassembles frames split at every byte and several in one read, into bodies that outlive the read buffer', () => {
    const frames = [encodeFrame(Buffer.from('abc')), encodeFrame(Buffer.alloc(0)), encodeFrame(Buffer.alloc(70000, 7)), encodeFrame(Buffer.from('z'))];
    const all = Buffer.concat(frames);
    for (const step of [() => 1, (i: number) => (i < 20 ? 1 : 997), () => 65536]) {
      const got: Array<{ body: Buffer; at: number }> = [];
      feed(new FrameAssembler('s', (n) => Buffer.alloc(n)), all, step, (body, at) => got.push({ body, at }));
      assert.deepEqual(got.map((f) => f.body.length), [3, 0, 70000, 1]);
      assert.deepEqual(got.map((f) => f.at), [0, 7, 11, 70015]);
      assert.equal(got[0].body.toString(), 'abc');
      assert.ok(got[2].body.every((b) => b === 7));
      assert.equal(got[3].body.toString(), 'z');
    }
  });

  it('takes each body from the allocator, sized to the frame, so a pool can hand the same buffer out again', () => {
    const pooled = Buffer.alloc(100_000);
    const asked: number[] = [];
    const bodies: Buffer[] = [];
    const a = new FrameAssembler('s', (n) => (asked.push(n), n > 1000 ? pooled : Buffer.alloc(n)));
    const all = Buffer.concat([encodeFrame(Buffer.alloc(5000, 1)), encodeFrame(Buffer.alloc(9, 2)), encodeFrame(Buffer.alloc(6000, 3))]);
    feed(a, all, () => 1500, (b) => bodies.push(Buffer.from(b)));
    assert.deepEqual(asked, [5000, 9, 6000]);
    assert.deepEqual(bodies.map((b) => [b.length, b[0], b[b.length - 1]]), [[5000, 1, 1], [9, 2, 2], [6000, 3, 3]]);
  });

  it('rejects an absurd length naming the byte offset in the stream', () => {
    const a = new FrameAssembler('rsync service 127.0.0.1:19222', (n) => Buffer.alloc(n), 1024);
    const all = Buffer.concat([encodeFrame(Buffer.alloc(10)), Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2])]);
    assert.throws(
      () => feed(a, all, () => 3, () => {}),
      (e: unknown) => e instanceof CorruptionError && e.where === 'rsync service 127.0.0.1:19222 byte 14' && /2147483647/.test(e.message),
    );
  });
});
