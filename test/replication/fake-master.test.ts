import { strict as assert } from 'node:assert';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FrameDecoder, encodeFrame } from '../../src/replication/framing.js';
import { decodeResponse, encodeRequest, type InnerRequest, type InnerResponse } from '../../src/replication/messages.js';
import { endAfter, BinlogLog } from '../master/binlog-log.js';
import { FakeMaster } from '../master/fake-master.js';
import { FIXTURES, waitFor } from './support.js';

/** A raw client on master P+2000 that records responses and whether the master closed. */
class Raw {
  readonly got: InnerResponse[] = [];
  closed = false;
  private readonly s: Socket;
  private readonly dec = new FrameDecoder('test');
  constructor(port: number) {
    this.s = connect({ host: '127.0.0.1', port: port + 2000 });
    this.s.on('data', (c: Buffer) => {
      for (const f of this.dec.push(c)) this.got.push(decodeResponse(f.body, 'test'));
    });
    this.s.on('close', () => (this.closed = true));
    this.s.on('error', () => {});
  }
  send(r: InnerRequest | Buffer): void {
    this.s.write(Buffer.isBuffer(r) ? r : encodeRequest(r));
  }
  end(): void {
    this.s.destroy();
  }
}

const node = { ip: '127.0.0.1', port: 9222 };
const db0 = { table_name: 'db0', partition_id: 0 };
const bs = (start: { filenum: number; offset: number }, end: { filenum: number; offset: number }, session: number, first: boolean): InnerRequest => ({
  type: 4,
  binlog_sync: { node, table_name: 'db0', partition_id: 0, ack_range_start: start, ack_range_end: end, session_id: session, first_send: first },
});

describe('the fake master is as strict as a real one', () => {
  let m: FakeMaster;
  before(async () => {
    m = new FakeMaster({ family: 'A', snapshotSource: join(FIXTURES, 'snapshots/3.2.7-base/dump/db0') });
    await m.start();
  });
  after(() => m.stop());

  it('closes the connection on a request missing a required field', async () => {
    const c = new Raw(m.port);
    // MetaSync whose node lacks the required port
    c.send(encodeFrame(Buffer.from('0801120d0a0b0a093132372e302e302e31', 'hex')));
    await waitFor('closed', () => c.closed);
    assert.match(String(m.events.filter((e) => e.kind === 'bad-request').pop()?.detail), /missing required 'port'/);
    const d = new Raw(m.port);
    d.send(encodeFrame(Buffer.from('0802', 'hex'))); // TrySync without its message
    await waitFor('closed', () => d.closed);
  });

  it('answers a second MetaSync for the same ip:port with Slave AlreadyExist (kError in A)', async () => {
    const a = new Raw(m.port);
    a.send({ type: 1, meta_sync: { node } });
    await waitFor('reply', () => a.got.length === 1);
    assert.equal(a.got[0].code, 1);
    const b = new Raw(m.port);
    b.send({ type: 1, meta_sync: { node } });
    await waitFor('reply', () => b.got.length === 1);
    assert.deepEqual([b.got[0].code, b.got[0].reply], [2, 'Slave AlreadyExist']);
    a.end();
    b.end();
    await waitFor('a gone', () => a.closed);
  });

  it('closes on an ack of an offset it never sent, and on first_send with start != end', async () => {
    const e1 = m.write(['set', 'a', '1']);
    const c = new Raw(m.port);
    c.send({ type: 1, meta_sync: { node } });
    c.send({ type: 2, try_sync: { node, partition: db0, binlog_offset: { filenum: 0, offset: 0 } } });
    await waitFor('replies', () => c.got.length === 2);
    const session = c.got[1].try_sync!.session_id!;
    assert.equal(c.got[1].try_sync!.reply_code, 1);
    c.send(bs({ filenum: 0, offset: 0 }, { filenum: 0, offset: 0 }, session, true));
    await waitFor('entry', () => c.got.length === 3);
    assert.deepEqual(c.got[2].binlog_sync![0].binlog_offset, e1);
    c.send(bs(e1, { filenum: 0, offset: e1.offset + 1 }, session, false));
    await waitFor('closed', () => c.closed);

    const d = new Raw(m.port);
    d.send({ type: 1, meta_sync: { node } });
    d.send({ type: 2, try_sync: { node, partition: db0, binlog_offset: e1 } });
    await waitFor('replies', () => d.got.length === 2);
    d.send(bs({ filenum: 0, offset: 0 }, e1, d.got[1].try_sync!.session_id!, true));
    await waitFor('closed', () => d.closed);
  });

  it('answers TrySync with kError off a record boundary and kSyncPointLarger ahead of it', async () => {
    const c = new Raw(m.port);
    const e = m.write(['set', 'b', '2']);
    c.send({ type: 2, try_sync: { node, partition: db0, binlog_offset: { filenum: 0, offset: e.offset - 1 } } });
    c.send({ type: 2, try_sync: { node, partition: db0, binlog_offset: { filenum: 0, offset: e.offset + 1 } } });
    await waitFor('replies', () => c.got.length === 2);
    assert.deepEqual(c.got.map((r) => r.try_sync!.reply_code), [4, 3]);
    assert.deepEqual(c.got[0].try_sync!.binlog_offset, e);
    c.end();
  });
});

describe('fake master binlog offsets follow the record layout (§5.6)', () => {
  it('puts the spec vector entry at 3456 + 8 + 61', () => {
    assert.equal(endAfter(3456, 61), 3525);
  });
  it('adds 8 bytes per extra 64 KiB block fragment (a 1 MiB entry spans 17 blocks)', () => {
    assert.equal(endAfter(0, 1 << 20) - (1 << 20), 17 * 8);
  });
  it('fills a block tail under 8 bytes and writes an empty first fragment into exactly 8', () => {
    assert.equal(endAfter(65536 - 7, 10), 65536 + 8 + 10);
    assert.equal(endAfter(65536 - 8, 10), 65536 + 8 + 10);
  });
  it('rolls to the next file once the current one is larger than binlog-file-size; the header names the old end', () => {
    const log = new BinlogLog({ fileSize: 100 });
    const a = log.append(['set', 'a', 'x'.repeat(80)]);
    const b = log.append(['set', 'b', '1']);
    assert.equal(a.end.filenum, 0);
    assert.deepEqual(b.headerPos, a.end);
    assert.equal(b.filenum, 1);
    assert.equal(b.start, 0);
    assert.ok(log.isBoundary(a.end));
    assert.equal(log.seqAfter(a.end), b.seq);
  });
});
