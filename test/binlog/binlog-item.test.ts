import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorruptionError } from '../../src/core/errors.js';
import { decodeBinlogItem, encodeBinlogItem, encodePaddingItem } from '../../src/replication/binlog-item.js';
import { wireItems } from './wire-items.js';

const argvText = (argv: Buffer[]) => argv.map((a) => a.toString('latin1'));

test('decodes every real 3.2.7 item and its header fields', () => {
  const items = wireItems('3.2.7-full-then-binlog.repl-frames.txt');
  assert.equal(items.length, 27);
  const first = decodeBinlogItem(items[0].item, 0, items[0].end, () => 'test');
  assert.deepEqual(argvText(first.argv), ['SET', 'bl:str', 'hello']);
  assert.equal(first.termOrServerId, 1); // A: server-id
  assert.equal(first.logicId, 600n);
  assert.deepEqual(first.headerPos, { filenum: 0, offset: 7176793 });
  assert.deepEqual(first.end, { filenum: 0, offset: 7176871 });
  // END = START + 8 (record header) + item length holds for every real item.
  for (const it of items) {
    const e = decodeBinlogItem(it.item, 0, it.end, () => 'test');
    assert.equal(e.end.offset, e.headerPos.offset + 8 + it.item.length);
  }
});

test('decodes real 3.3.6 and 3.5.5 items, keeping the client spelling of names', () => {
  const b = wireItems('3.3.6-full-then-binlog.repl-frames.txt').map((it) => decodeBinlogItem(it.item, 0, it.end, () => 't'));
  assert.ok(b.length >= 25);
  assert.ok(b.some((e) => argvText(e.argv).join(' ') === 'setnx lv:setnx second'));
  assert.ok(b.every((e) => e.termOrServerId === 0));
  const bin = b.find((e) => e.argv[1].toString() === 'lv:bin');
  assert.deepEqual(bin?.argv[2], Buffer.from([0x00, 0x0d, 0x0a, 0xff]));
  const c = wireItems('3.5.5-full-then-binlog.repl-frames.txt').map((it) => decodeBinlogItem(it.item, 0, it.end, () => 't'));
  assert.ok(c.some((e) => argvText(e.argv).join(' ') === 'pksetexat cap:counter 0 12'));
  assert.ok(c.some((e) => argvText(e.argv).join(' ') === 'flushdb'));
  const m1 = c.find((e) => argvText(e.argv).join(' ') === 'set cap:m1 x');
  assert.equal(m1?.logicId, 623n); // B–D: counter + 1, matches the protobuf index
});

test('round-trips an encoded item with binary arguments', () => {
  const argv = [Buffer.from('set'), Buffer.from([0, 13, 10, 255]), Buffer.alloc(70000, 'x')];
  const buf = encodeBinlogItem({ execTime: 1700000000, termOrServerId: 3, logicId: 42n, headerPos: { filenum: 7, offset: 99 }, argv });
  const e = decodeBinlogItem(buf, 2, { filenum: 7, offset: 99 + 8 + buf.length }, () => 't');
  assert.equal(e.db, 2);
  assert.equal(e.execTime, 1700000000);
  assert.equal(e.logicId, 42n);
  assert.deepEqual(e.argv, argv);
});

test('accepts the zero-padded length of padding items', () => {
  const pad = encodePaddingItem(200);
  assert.equal(pad.length, 200);
  assert.match(pad.subarray(34).toString(), /^\*2\r\n\$7\r\npadding\r\n\$00139\r\n\*{139}\r\n$/);
  const e = decodeBinlogItem(pad, 0, { filenum: 0, offset: 208 }, () => 't');
  assert.equal(e.argv[0].toString(), 'padding');
  assert.equal(e.argv[1].length, 139);
});

function corruption(buf: Buffer, re: RegExp): void {
  assert.throws(
    () => decodeBinlogItem(buf, 0, { filenum: 4, offset: 1000 }, () => 'db0 item ending at 4:1000'),
    (e: unknown) => e instanceof CorruptionError && re.test(e.message) && /db0 item ending at 4:1000 byte \d+/.test(e.where),
  );
}

test('rejects a bad header, a wrong content length and malformed RESP, naming the offset', () => {
  const good = wireItems('3.2.7-full-then-binlog.repl-frames.txt')[0].item;
  const badType = Buffer.from(good);
  badType.writeUInt16LE(2, 0);
  corruption(badType, /byte 0: binlog item type 2/);
  corruption(good.subarray(0, 20), /shorter than its 34-byte header/);
  const badLen = Buffer.from(good);
  badLen.writeUInt32LE(badLen.readUInt32LE(30) + 1, 30);
  corruption(badLen, /byte 30: content_length/);
  const withContent = (s: string) => {
    const c = Buffer.from(s, 'latin1');
    const b = Buffer.concat([good.subarray(0, 34), c]);
    b.writeUInt32LE(c.length, 30);
    return b;
  };
  corruption(withContent('+OK\r\n'), /byte 34: expected '\*'/);
  corruption(withContent('*2\r\n$3\r\nset\r\n'), /byte 34: array claims 2 elements/);
  corruption(withContent('*1\r\n$5\r\nset\r\n'), /runs past the end|not followed by CRLF/);
  corruption(withContent('*1\r\n$3\r\nsetX\r\n'), /byte 45: bulk string 0 not followed by CRLF/);
  corruption(withContent('*1\r\n$3\r\nset\r\n*1\r\n$3\r\nset\r\n'), /byte 47: 13 bytes after the command array/);
  corruption(withContent('*1\r\n:3\r\nabc\r\n'), /expected '\$'/);
  corruption(withContent('*0\r\n'), /empty command array/);
  corruption(withContent('*-1\r\n'), /no digits/);
  corruption(withContent('*99\r\n$1\r\na\r\n'), /more than the content can hold/);
});
